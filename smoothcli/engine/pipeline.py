"""The pipeline shared by every subcommand: round → evaluate → reference → measure.

Each subcommand module in :mod:`smoothcli.commands` parses its inputs, calls these steps and
packs the result into a :class:`~smoothcli.report.model.Report`.  Keeping the steps here means lse,
softmax, bounds and underflow all produce the same rows, flags and errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.core.formats import FloatFormat
from smoothcli.measure.bounds import annotate_lse, annotate_softmax
from smoothcli.methods.lse import Trace
from smoothcli.measure.errors import errors, flags
from smoothcli.core.numbers import Number
from smoothcli.reference.exact import decimal_text, lse_reference, softmax_reference
from smoothcli.report.model import Evaluation, SoftmaxEvaluation
from smoothcli.core.rounding import exact_decimal, round_number


@dataclass
class RoundedInputs:
    """The inputs as they are in one dtype: each typed token rounded once, correctly."""

    dtype: str
    values: list[float]
    changed: list[bool]  # rounding changed the typed value
    array: Any  # numpy array of the dtype

    @property
    def any_changed(self) -> bool:
        return any(self.changed)

    @property
    def overflowed(self) -> bool:
        """Rounding to this dtype made the result non-finite although the values as typed give
        a finite one (no nan or +inf typed): a finite input became +inf (or nan in a format
        without infinities), or every input became -inf.  A lone -inf among finite values is
        harmless: its exp would round to 0 anyway.  IEEE 754 §7.4 overflow of the inputs."""
        vc = list(zip(self.values, self.changed))
        if any(not c and (math.isnan(v) or v == math.inf) for v, c in vc):
            return False
        up = any(c and not math.isfinite(v) and v != -math.inf for v, c in vc)
        return up or (all(v == -math.inf for v, _ in vc) and any(self.changed))


def round_inputs(numbers: Sequence[Number], fmt: FloatFormat) -> RoundedInputs:
    import numpy as np

    values = [round_number(x, fmt) for x in numbers]
    changed = [_changed(x, v) for x, v in zip(numbers, values)]
    array = np.array(values, dtype=np.float64).astype(fmt.np)
    return RoundedInputs(fmt.name, values, changed, array)


def _changed(x: Number, v: float) -> bool:
    if x.exact is None:
        return not (math.isnan(v) and math.isnan(x.special)) and v != x.special
    return not math.isfinite(v) or Fraction(v) != x.exact


def exact_values(numbers: Sequence[Number]) -> list[Any]:
    """The values as typed: exact Fractions, or floats for inf/nan (for the typed reference)."""
    return [x.exact if x.exact is not None else x.special for x in numbers]


class ReferenceCache:
    """References keyed by input values: dtypes whose rounded inputs agree share one."""

    def __init__(self, compute: Callable[[Sequence[Any]], Any]):
        self._compute = compute
        self._cache: dict[tuple, Any] = {}

    def __call__(self, values: Sequence[Any]) -> Any:
        key = tuple(("nan" if isinstance(v, float) and math.isnan(v) else v) for v in values)
        if key not in self._cache:
            self._cache[key] = self._compute(values)
        return self._cache[key]


def evaluate_lse_like(inputs: RoundedInputs, fmt: FloatFormat, methods: dict[str, Callable],
                      names: Sequence[str], acc: Accumulation, ref: Any) -> list[Evaluation]:
    """Run each named scalar method on one dtype's inputs and measure it against ``ref``."""
    import mpmath

    rows = []
    for name in names:
        trace: Trace = methods[name](inputs.array, acc)
        err = errors(float(trace.value), ref, fmt)
        fl = flags(inputs.array, trace.terms, trace.sumexp, trace.value,
                   ref_is_nan=bool(mpmath.isnan(ref)), ref_finite=bool(mpmath.isfinite(ref)),
                   fmt=fmt)
        rows.append(Evaluation(
            dtype=fmt.name, method=name, value=float(trace.value), reference=float(ref),
            reference_decimal=decimal_text(ref), abs_error=err.abs_error,
            rel_error=err.rel_error, ulp_error=err.ulp_error,
            overflow=fl.overflow or inputs.overflowed,
            underflow=fl.underflow, nan=fl.nan, flushed_terms=fl.flushed,
            sumexp=float(trace.sumexp), accumulation=acc.describe(fmt.name)))
        annotate_lse(rows[-1], inputs, fmt, ref, acc)  # bits, BHH bound, acc_dtype
    return rows


def evaluate_softmax_like(inputs: RoundedInputs, fmt: FloatFormat, methods: dict[str, Callable],
                          names: Sequence[str], acc: Accumulation,
                          ref: list) -> list[SoftmaxEvaluation]:
    """Run each named softmax method on one dtype's inputs and measure every element."""
    import mpmath

    ref_is_nan = any(mpmath.isnan(r) for r in ref)
    rows = []
    for name in names:
        trace: Trace = methods[name](inputs.array, acc)
        values = [float(v) for v in trace.value]
        errs = [errors(v, r, fmt) for v, r in zip(values, ref)]
        fl = flags(inputs.array, trace.terms, trace.sumexp, trace.value, ref_is_nan=ref_is_nan,
                   ref_finite=not ref_is_nan, fmt=fmt)
        total = math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)
        rows.append(SoftmaxEvaluation(
            dtype=fmt.name, method=name, value=values, reference=[float(r) for r in ref],
            reference_decimal=[decimal_text(r) for r in ref],
            abs_error=_worst(e.abs_error for e in errs),
            rel_error=_worst(e.rel_error for e in errs),
            ulp_error=_worst(e.ulp_error for e in errs),
            abs_errors=[e.abs_error for e in errs], rel_errors=[e.rel_error for e in errs],
            ulp_errors=[e.ulp_error for e in errs], output_sum=total,
            sum_error=_sum_error(values, total),
            overflow=fl.overflow or inputs.overflowed, underflow=fl.underflow, nan=fl.nan,
            flushed_terms=fl.flushed,
            sumexp=float(trace.sumexp), accumulation=acc.describe(fmt.name)))
        annotate_softmax(rows[-1], inputs, fmt, ref, acc)  # bits, BHH bound, acc_dtype
    return rows


def _sum_error(values: list[float], total: float) -> float:
    """|Σ values − 1| computed exactly, then rounded: |fsum − 1| would hide a float64 row whose
    outputs sum to 1 − 1.4e-17 (its fsum rounds to 1.0)."""
    if not all(math.isfinite(v) for v in values):
        return abs(total - 1.0) if not math.isnan(total) else math.nan
    return float(abs(sum(Fraction(v) for v in values) - 1))


def _worst(xs) -> float:
    """The largest value, NaN if any is NaN (a NaN error must not hide behind a max)."""
    xs = list(xs)
    if any(math.isnan(x) for x in xs):
        return math.nan
    return max(xs) if xs else 0.0


lse_references = lambda: ReferenceCache(lse_reference)  # noqa: E731
softmax_references = lambda: ReferenceCache(softmax_reference)  # noqa: E731

__all__ = ["round_inputs", "exact_values", "evaluate_lse_like", "evaluate_softmax_like",
           "exact_decimal", "RoundedInputs", "ReferenceCache"]
