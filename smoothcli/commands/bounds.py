"""``smooth bounds``: max ≤ LSE ≤ max + log n, and the smooth max (1/k)·LSE(k·x).

The seed's eq. (4): LSE is within log n above the max, so (1/k)·LSE(k·x) is within log(n)/k of
it and tends to max as k → ∞ (eq. (2)).  For each dtype the exact quantities are computed on the
dtype's rounded inputs; each evaluated (dtype, method) row is then checked against the bounds
*rounded to its dtype*: a correctly rounded LSE of equal inputs is max + log n rounded, which may
lie above the exact max + log n, so comparing with the exact bound would flag correct results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.commands._common import Settings, inputs_json, inputs_section, sum_caption
from smoothcli.core.formats import FloatFormat
from smoothcli.core.errors import InputError
from smoothcli.methods.registry import LSE_METHODS
from smoothcli.measure.errors import errors, flags
from smoothcli.core.numbers import Number, parse_positive
from smoothcli.engine.pipeline import ReferenceCache, evaluate_lse_like, round_inputs
from smoothcli.reference.exact import converge, decimal_text, exact_fraction, lse_at_prec, to_mpf
from smoothcli.report.model import Column, Report, Section, flag_names
from smoothcli.core.rounding import round_fraction, round_number


@dataclass
class SmoothMax:
    """(1/k)·LSE(k·x) for one k, evaluated in one (dtype, method)."""

    k: float  # k as rounded to the dtype
    value: float
    reference: float
    reference_decimal: str
    gap: float  # exact smooth max − max, in [0, log(n)/k]
    bound: float  # log(n)/k
    inside: bool  # the computed value lies in [max, max + log(n)/k] rounded to the dtype
    ulp_error: float
    overflow: bool
    underflow: bool
    nan: bool


@dataclass
class BoundsRow:
    dtype: str
    method: str
    n: int
    max: float
    lse: float  # the computed LSE
    reference: float  # the exact LSE
    reference_decimal: str
    upper: float  # max + log n, the float64 nearest to it
    log_n: float
    gap: float  # exact LSE − max, in [0, log n]
    inside: bool  # the computed LSE lies in [max, max + log n] rounded to the dtype
    ulp_error: float
    overflow: bool
    underflow: bool
    nan: bool
    smooth_max: list[SmoothMax] = field(default_factory=list)

    def problems(self, max_ulp: float | None) -> list[str]:
        where = f"{self.dtype} {self.method}"
        out = [f"{where}: {f}" for f in ("overflow", "underflow", "nan") if getattr(self, f)]
        if not self.inside:
            out.append(f"{where}: LSE {self.lse!r} outside [max, max + log n]")
        if max_ulp is not None and not (self.ulp_error <= max_ulp) and not self.nan:
            out.append(f"{where}: {self.ulp_error:.3g} ULP > --max-ulp {max_ulp:g}")
        for s in self.smooth_max:
            tag = f"{where} k={s.k:g}"
            out += [f"{tag}: {f}" for f in ("overflow", "underflow", "nan") if getattr(s, f)]
            if not s.inside:
                out.append(f"{tag}: smooth max {s.value!r} outside [max, max + log(n)/k]")
            if max_ulp is not None and not (s.ulp_error <= max_ulp) and not s.nan:
                out.append(f"{tag}: {s.ulp_error:.3g} ULP > --max-ulp {max_ulp:g}")
        return out


def parse_ks(tokens: Sequence[str] | None) -> list[Number]:
    """The ``--k`` values: finite and > 0."""
    return parse_positive(tokens, "--k")


def bounds_report(numbers: Sequence[Number], ks: Sequence[Number], settings: Settings) -> Report:
    import mpmath

    if any(x.exact is None for x in numbers):
        raise InputError("bounds needs finite values (max and LSE of inf/nan are not bounded)")
    n = len(numbers)
    refs = ReferenceCache(lambda v: converge(lambda: lse_at_prec(v)))
    rounded = [round_inputs(numbers, fmt) for fmt in settings.dtypes]
    rows: list[BoundsRow] = []
    skipped: list[str] = []  # dtypes an input overflows (710 in float8_e4m3fn, max 448)
    for fmt, inputs in zip(settings.dtypes, rounded):
        if not all(math.isfinite(v) for v in inputs.values):
            if len(skipped) + 1 == len(settings.dtypes):  # every dtype: nothing to show
                raise InputError(f"an input overflows {fmt.name}: bounds needs finite values")
            skipped.append(fmt.name)
            continue
        for k in ks:  # as --temperature: k rounded to the dtype must stay finite and > 0
            kd = round_number(k, fmt)
            if not (math.isfinite(kd) and kd > 0):
                raise InputError(f"--k {k.text} is {kd!r} in {fmt.name}: k must stay finite and "
                                 "> 0 there")
        ref = refs(inputs.values)
        top = max(inputs.values)
        upper = converge(lambda: to_mpf(top) + mpmath.log(n))
        hi = round_fraction(exact_fraction(upper), fmt)
        for ev in evaluate_lse_like(inputs, fmt, LSE_METHODS, settings.methods,
                                    settings.accumulation, ref):
            row = BoundsRow(
                dtype=fmt.name, method=ev.method, n=n, max=top, lse=ev.value,
                reference=ev.reference, reference_decimal=ev.reference_decimal,
                upper=float(upper), log_n=math.log(n), gap=float(ref - to_mpf(top)),
                inside=top <= ev.value <= hi, ulp_error=ev.ulp_error, overflow=ev.overflow,
                underflow=ev.underflow, nan=ev.nan)
            row.smooth_max = [_smooth_max(k, inputs.values, top, n, fmt, ev.method, settings)
                              for k in ks]
            rows.append(row)
    return Report("bounds", rows, _sections(numbers, rounded, rows, settings),
                  [sum_caption(settings), "inside: the computed value lies within the bounds "
                   "rounded to its dtype (a correctly rounded result always does)",
                   *([f"an input overflows {', '.join(skipped)}: no rows there (bounds needs "
                      "finite values)"] if skipped else [])],
                  {"settings": settings.as_json(), "inputs": inputs_json(numbers, rounded),
                   "k": [float(k.exact) for k in ks]})


def _smooth_max(k: Number, xs: list[float], top: float, n: int, fmt: FloatFormat, method: str,
                settings: Settings) -> SmoothMax:
    import mpmath
    import numpy as np

    kd = round_number(k, fmt)
    x = np.array(xs, dtype=np.float64).astype(fmt.np)
    with np.errstate(all="ignore"):
        kx = fmt.np.type(kd) * x  # rounded to the dtype, as a user's code would
        trace = LSE_METHODS[method](kx, settings.accumulation)
        value = trace.value / fmt.np.type(kd)
    products = [Fraction(kd) * Fraction(v) for v in xs]
    top_k = max(products)

    def smooth_ref():
        # (1/k)·LSE(k·x) = max + (LSE(k·x) − k·max)/k.  lse_at_prec returns k·max + log1p(…)
        # exactly, so the difference is exact and the gap keeps its precision: dividing the
        # whole LSE by k would round (1/k)·LSE(1000·(2, 1.75, ...)) = 2 + 2.7e-112 to 2.
        tail = mpmath.fsub(lse_at_prec(products), to_mpf(top_k), exact=True)
        return mpmath.fadd(to_mpf(top), tail / to_mpf(Fraction(kd)), exact=True)

    ref = converge(smooth_ref)
    bound = converge(lambda: mpmath.log(n) / to_mpf(Fraction(kd)))
    hi = round_fraction(Fraction(top) + exact_fraction(bound), fmt)
    err = errors(float(value), ref, fmt)
    fl = flags(kx, trace.terms, trace.sumexp, trace.value, False, True, fmt)
    return SmoothMax(k=kd, value=float(value), reference=float(ref),
                     reference_decimal=decimal_text(ref), gap=float(ref - to_mpf(top)),
                     bound=float(bound), inside=bool(top <= float(value) <= hi),
                     ulp_error=err.ulp_error, overflow=fl.overflow, underflow=fl.underflow,
                     nan=fl.nan)


def _sections(numbers, rounded, rows: list[BoundsRow], settings: Settings) -> list[Section]:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("dtype", "dtype"), Column("method", "method"), Column("max", "max", "value"),
            Column("lse", "LSE", "value"), Column("reference", "exact LSE", "reference"),
            Column("upper", "max + log n", "value"), Column("gap", "LSE − max", "value"),
            Column("log_n", "log n", "value"), Column("inside", "inside", "bool"),
            Column("ulp_error", "ULP err", "error"), Column("flags", "flags", "flags")]
    table = [{"dtype": r.dtype, "method": r.method, "max": r.max, "lse": r.lse,
              "reference": r.reference_decimal, "upper": r.upper, "gap": r.gap,
              "log_n": r.log_n, "inside": r.inside, "ulp_error": r.ulp_error,
              "flags": flag_names(r), "_digits": digits[r.dtype]} for r in rows]
    out = [s for s in (inputs_section(numbers, rounded),) if s is not None]
    out.append(Section(f"max ≤ LSE ≤ max + log n  (n = {rows[0].n if rows else 0})", cols,
                       table))
    if rows and rows[0].smooth_max:
        kcols = [Column("dtype", "dtype"), Column("method", "method"),
                 Column("k", "k", "value"), Column("value", "(1/k)·LSE(k·x)", "value"),
                 Column("reference", "exact", "reference"),
                 Column("gap", "exact − max", "value"), Column("bound", "log(n)/k", "value"),
                 Column("inside", "inside", "bool"), Column("ulp_error", "ULP err", "error"),
                 Column("flags", "flags", "flags")]
        ktable: list[dict[str, Any]] = []
        for r in rows:
            for s in r.smooth_max:
                ktable.append({"dtype": r.dtype, "method": r.method, "k": s.k, "value": s.value,
                               "reference": s.reference_decimal, "gap": s.gap,
                               "bound": s.bound, "inside": s.inside, "ulp_error": s.ulp_error,
                               "flags": flag_names(s), "_digits": digits[r.dtype]})
        out.append(Section("the smooth max (1/k)·LSE(k·x) → max as k → ∞", kcols, ktable))
    return out
