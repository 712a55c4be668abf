"""``smooth softmax --temperature T``: softmax(x/T) next to hardmax(x) as T → 0.

softmax is the smooth hardmax (the seed's "SoftMax" section): dividing the logits by a temperature
T > 0 sharpens it, and softmax(x/T) → hardmax(x) as T → 0 when the max is unique.  For each T
and each (dtype, method) the rows give softmax(x/T) (x/T computed in the dtype, as a user's code
would; the reference is exact for the dtype's x and T), its distance to the one-hot hardmax(x)
(max |p_i − h_i| and Σ |p_i − h_i|, from the computed values exactly and from the reference), and
the usual errors and flags.  For the exact softmax p the distances are 1 − p_argmax and
2·(1 − p_argmax) (Σ p = 1).

Ties: hardmax (as numpy's argmax) puts its 1 on the *first* maximal index, but softmax(x/T) tends
to 1/k on each of the k tied maxima, so the distance to the one-hot tends to 1 − 1/k (max abs) and
2·(1 − 1/k) (L1), never 0.  The rows carry that limit (``limit``) too.

Where the naive form breaks: exp(x_i/T) overflows once max(x)/T exceeds the dtype's largest
finite exp argument (float16: 11.0859375), i.e. for T < max(x)/that; with max(x) < 0 every term
underflows once max(x)/T drops below the smallest argument whose exp is nonzero.  The shifted form
only breaks when x/T itself overflows the dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from smoothcli.commands._common import Settings
from smoothcli.core.errors import InputError
from smoothcli.methods.registry import SOFTMAX_METHODS
from smoothcli.core.numbers import Number, parse_positive
from smoothcli.engine.pipeline import RoundedInputs, evaluate_softmax_like, round_inputs
from smoothcli.reference.exact import softmax_reference
from smoothcli.report.model import Column, Report, Section, flag_names
from smoothcli.core.rounding import round_number

#: Vectors of at most this many elements are shown in the temperature table.
VECTOR_LIMIT = 6


@dataclass
class TemperatureRow:
    """softmax(x/T) in one (dtype, method), against hardmax(x)."""

    dtype: str
    method: str
    temperature: float  # T as rounded to the dtype
    value: list[float]  # softmax(x/T) as computed
    reference: list[float]  # the exact softmax(x/T) (nearest float64 of each element)
    reference_decimal: list[str]
    abs_error: float  # worst element
    rel_error: float
    ulp_error: float
    ulp_errors: list[float]
    hardmax: list[int] | None  # one-hot at the first maximal x (None with a NaN input)
    limit: list[float] | None  # the T → 0 limit of softmax(x/T): 1/k on each of k tied maxima
    ties: int  # how many inputs share the max
    distance_max_abs: float  # max |p_i − hardmax_i| of the computed p, exact then rounded
    distance_l1: float  # Σ |p_i − hardmax_i| of the computed p, exact then rounded
    distance_max_abs_reference: float  # the same for the exact softmax(x/T)
    distance_l1_reference: float
    scaled_max: float  # max(x/T) as computed in the dtype
    output_sum: float
    overflow: bool
    underflow: bool
    nan: bool

    def problems(self, max_ulp: float | None) -> list[str]:
        where = f"{self.dtype} {self.method} T={self.temperature:g}"
        out = [f"{where}: {f}" for f in ("overflow", "underflow", "nan") if getattr(self, f)]
        u = self.ulp_error
        if max_ulp is not None and not self.nan and not math.isnan(u) and u > max_ulp:
            out.append(f"{where}: {u:.3g} ULP > --max-ulp {max_ulp:g}")
        return out


def parse_temperatures(tokens: Sequence[str] | None) -> list[Number]:
    """The ``--temperature`` values: finite and > 0."""
    return parse_positive(tokens, "--temperature")


def hard_limit(values: Sequence[float]) -> tuple[list[int] | None, list[float] | None, int]:
    """hardmax (one-hot at the first max), the tie-averaged limit of softmax(x/T), tie count."""
    if any(math.isnan(v) for v in values):
        return None, None, 0
    top = max(values)
    tied = [i for i, v in enumerate(values) if v == top]
    one_hot = [1 if i == tied[0] else 0 for i in range(len(values))]
    return one_hot, [1 / len(tied) if i in tied else 0.0 for i in range(len(values))], len(tied)


def add_temperatures(report: Report, numbers: Sequence[Number], settings: Settings,
                     temperatures: Sequence[Number]) -> Report:
    """Append the softmax(x/T) rows, their table and notes to a softmax report."""
    rows: list[TemperatureRow] = []
    notes: list[str] = []
    for fmt in settings.dtypes:
        inputs = round_inputs(numbers, fmt)
        one_hot, limit, ties = hard_limit(inputs.values)
        for tn in temperatures:
            td = round_number(tn, fmt)
            if td == 0 or not math.isfinite(td):
                raise InputError(f"--temperature {tn.text} is {td!r} in {fmt.name}: T must stay "
                                 "finite and > 0 there")
            rows.extend(_rows(inputs, fmt, td, settings, one_hot, limit, ties))
        notes.append(_breaks(fmt, inputs.values))
    if any(r.ties > 1 for r in rows):
        k = max(r.ties for r in rows)
        notes.append(f"the max is tied ({k} equal maxima in some dtype): hardmax takes the first "
                     f"index (numpy/torch), but softmax(x/T) tends to 1/{k} on each tied entry, "
                     f"so its distance to the one-hot tends to 1 − 1/{k} (max abs) and "
                     f"2(1 − 1/{k}) (L1), not 0; 'limit' in JSON is that tie-averaged vector")
    notes.append("distances: max|p − hardmax(x)| and Σ|p − hardmax(x)| for the computed p "
                 "(exactly, then rounded) and for the exact softmax(x/T) (= 1 − p_argmax and "
                 "2(1 − p_argmax))")
    report.rows.extend(rows)
    report.sections.append(_section(rows, settings, len(numbers)))
    report.notes.extend(notes)
    report.extra["temperature"] = [float(t.exact) for t in temperatures]
    return report


def _rows(inputs: RoundedInputs, fmt, td: float, settings: Settings, one_hot, limit,
          ties: int) -> list[TemperatureRow]:
    import mpmath
    import numpy as np

    with np.errstate(all="ignore"):
        scaled = inputs.array / fmt.np.type(td)  # x/T rounded to the dtype
    svals = [float(v) for v in scaled]
    exact = [Fraction(v) / Fraction(td) if math.isfinite(v) else v / td for v in inputs.values]
    ref = softmax_reference(exact)
    # the rows of evaluate_softmax_like for the computed x/T, measured against the exact
    # softmax(x/T): the rounding of the division is part of the error a user gets
    scaled_in = RoundedInputs(fmt.name, svals, [False] * len(svals), scaled)
    base = evaluate_softmax_like(scaled_in, fmt, SOFTMAX_METHODS, settings.methods,
                                 settings.accumulation, ref)
    # x/T overflowing the dtype (finite x, exact x/T finite) is an overflow the flags of the
    # softmax itself cannot see: for them an inf input is legitimate.
    div_overflow = any(math.isfinite(x) and not math.isfinite(s)
                       for x, s in zip(inputs.values, svals))
    out = []
    for b in base:
        dist = _distances(b.value, one_hot)
        with mpmath.workprec(max(getattr(ref[0], "context", mpmath.mp).prec, 128)):
            rdist = _distances_mp(ref, one_hot)
        out.append(TemperatureRow(
            dtype=fmt.name, method=b.method, temperature=td, value=b.value,
            reference=b.reference, reference_decimal=b.reference_decimal,
            abs_error=b.abs_error, rel_error=b.rel_error, ulp_error=b.ulp_error,
            ulp_errors=b.ulp_errors, hardmax=one_hot, limit=limit, ties=ties,
            distance_max_abs=dist[0], distance_l1=dist[1], distance_max_abs_reference=rdist[0],
            distance_l1_reference=rdist[1], scaled_max=max(svals) if svals else math.nan,
            output_sum=b.output_sum, overflow=b.overflow or div_overflow,
            underflow=b.underflow, nan=b.nan))
    return out


def _distances(p: Sequence[float], h) -> tuple[float, float]:
    if h is None or any(math.isnan(v) for v in p):
        return math.nan, math.nan
    if any(math.isinf(v) for v in p):
        return math.inf, math.inf
    d = [abs(Fraction(v) - h[i]) for i, v in enumerate(p)]
    return float(max(d)), float(sum(d))


def _distances_mp(ref, h) -> tuple[float, float]:
    import mpmath

    if h is None or any(mpmath.isnan(r) for r in ref):
        return math.nan, math.nan
    d = [abs(r - h[i]) for i, r in enumerate(ref)]
    return float(max(d)), float(mpmath.fsum(d))


def _breaks(fmt, xs: Sequence[float]) -> str:
    """Where the naive form breaks first as T shrinks, for this dtype's inputs."""
    from smoothcli.commands.exp_range import thresholds

    finite = [v for v in xs if math.isfinite(v)]
    if not finite:
        return f"{fmt.name}: no finite input"
    th = thresholds(fmt)
    top, big = max(finite), max(abs(v) for v in finite)
    shifted = (f"shifted breaks only when x/T overflows {fmt.name}: T < "
               f"{big / float(fmt.max_finite):.3g}" if big else "shifted never breaks")
    if top > 0:
        naive = (f"naive: exp(x/T) overflows once max(x)/T > {th['largest_finite_x']!r}, "
                 f"i.e. T < {top / th['largest_finite_x']:.4g}")
    elif top < 0:
        naive = (f"naive: every exp(x/T) underflows to 0 once max(x)/T < "
                 f"{th['smallest_nonzero_x']!r}, i.e. T < {top / th['smallest_nonzero_x']:.4g}")
    else:
        naive = "naive: max(x) = 0, exp(0/T) = 1 keeps Σ exp ≥ 1 for every T"
    return f"{fmt.name}: {naive}; {shifted}"


def _section(rows: list[TemperatureRow], settings: Settings, n: int) -> Section:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("dtype", "dtype"), Column("temperature", "T", "value"),
            Column("method", "method"), Column("scaled_max", "max(x/T)", "value")]
    if n <= VECTOR_LIMIT:
        cols.append(Column("value", "softmax(x/T)", "vector"))
    cols += [Column("distance_max_abs", "max|p − h|", "value"),
             Column("distance_max_abs_reference", "exact", "value"),
             Column("distance_l1", "Σ|p − h|", "value"),
             Column("distance_l1_reference", "exact", "value"),
             Column("ulp_error", "worst ULP", "error"), Column("flags", "flags", "flags")]
    order = {f.name: i for i, f in enumerate(settings.dtypes)}
    table = [{"dtype": r.dtype, "temperature": r.temperature, "method": r.method,
              "scaled_max": r.scaled_max, "value": r.value,
              "distance_max_abs": r.distance_max_abs,
              "distance_max_abs_reference": r.distance_max_abs_reference,
              "distance_l1": r.distance_l1, "distance_l1_reference": r.distance_l1_reference,
              "ulp_error": r.ulp_error, "flags": flag_names(r),
              "_digits": digits.get(r.dtype, 17)}
             for r in sorted(rows, key=lambda r: (order[r.dtype], -r.temperature))]
    hm = rows[0].hardmax if rows else None
    title = "softmax(x/T) → hardmax(x) as T → 0" + (f"  (hardmax {hm})" if hm else "")
    return Section(title, cols, table, "h = hardmax(x), one-hot at the first maximal x")
