"""The one flag rule set: what went wrong in an evaluation, read off its intermediates.

Every evaluated row of the LSE family (lse, softmax and its temperature form, the smooth max,
bounds, underflow, sweep points, peers) gets its flags here, from the same facts:

* ``overflow``: the exact result is finite but the dtype's computation met ±inf (or, in a format
  without infinities such as float8_e4m3fn, NaN from an overflowing operation): an input that
  rounding to the dtype (or forming it there, k·x or x/T) turned infinite; an exponential; the sum
  of exponentials; or the result itself (m + log Σ beyond the dtype's max).  A result of -inf from
  log(0) is the underflow's doing, not an overflow;
* ``underflow``: the computed Σ exp is zero or subnormal *in the dtype it was accumulated in*
  (``--acc``) although the exact sum is not zero: the log or the division then sees a value with
  no or few correct bits (IEEE 754 §7.5 underflow);
* ``nan``: a result is NaN although the exact result is not;
* ``flushed``: how many exponentials of finite inputs came out as 0 (a fact, not a failure: for
  x far below the max that is the correct rounding).

Inputs holding NaN have a NaN exact value: nothing can be flagged as going wrong.  A +inf input
makes the exact LSE +inf: overflow and underflow are then not meaningful either.

Black-box results (a library's function called through ``--peer``) have no intermediates: their
flags are read off the result alone (overflow: ±inf from a finite exact value, or an input that
overflowed; underflow: LSE -inf, or every softmax output 0, from a nonzero exact sum; nan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smoothcli.core.formats import FloatFormat


@dataclass(frozen=True)
class Flags:
    overflow: Any  # bool (arrays of them for a block of rows)
    underflow: Any
    nan: Any
    flushed: Any  # exp terms of finite inputs computed as 0


@dataclass
class InputFacts:
    """What the flags need to know about one row's inputs in one dtype."""

    all_finite: bool
    has_nan: bool
    has_posinf: bool
    sum_nonzero: bool  # some input > -inf: the exact Σ exp is not zero
    overflowed: bool = False  # forming the dtype inputs made a finite value ±inf (or NaN)
    finite: Any = None  # mask of the finite inputs, only when not all_finite


def input_facts(x64: Any, overflowed: bool = False) -> InputFacts:
    """Facts about one row, read from its exact float64 copy ``x64`` (numpy's min/max of
    float16 arrays are ~30 times slower than float64's)."""
    import numpy as np

    lo, hi = x64.min(), x64.max()
    if np.isfinite(lo) and np.isfinite(hi):
        return InputFacts(True, False, False, True, overflowed)
    finite = np.isfinite(x64)
    return InputFacts(False, bool(np.isnan(x64).any()), bool((x64 == np.inf).any()),
                      bool((x64 > -np.inf).any()), overflowed, finite)


def inputs_overflowed(x64: Any, given64: Any) -> bool:
    """Forming the dtype inputs ``x64`` from the values given (``given64``, exact or nearest
    float64) made the result non-finite although the values given make it finite: a finite value
    became +inf (or NaN in a format without infinities), or every value became -inf.  A lone
    -inf among finite values is harmless: its exp would round to 0 anyway.  A NaN or +inf given
    as such is the input's own (IEEE 754 §7.4 overflow of the inputs)."""
    import numpy as np

    if np.isfinite(x64.min()) and np.isfinite(x64.max()):
        return False
    same = (x64 == given64) | (np.isnan(x64) & np.isnan(given64))
    if (same & (np.isnan(x64) | (x64 == np.inf))).any():
        return False
    changed = ~same
    up = bool((changed & ~np.isfinite(x64) & (x64 != -np.inf)).any())
    return up or (bool((x64 == -np.inf).all()) and bool(changed.any()))


def read_flags(facts: InputFacts, terms: Any, sumexp: Any, value: Any, ref_is_nan: Any,
               ref_finite: Any, fmt: FloatFormat, mask: Any = None) -> Flags:
    """The flags of one evaluation (see the module docstring), or of every row of a block.

    ``terms`` are the exponentials as computed and ``sumexp`` their sum (in the accumulation
    dtype), or both None for a black-box result; ``value`` is the result (scalar or array);
    ``ref_is_nan`` / ``ref_finite`` describe the exact result (for softmax: of every element).
    ``mask`` is an optional reusable boolean buffer of the terms' size.

    A block: ``terms`` 2-D (one row per input row), ``sumexp``, ``ref_is_nan``, ``ref_finite``
    and the facts one per row, ``value`` one per row (LSE) or 2-D (softmax); the flags are then
    arrays with one entry per row."""
    import numpy as np

    vals = np.asarray(value)
    if terms is None:
        v_nan = bool(np.isnan(vals).any())
        return _black_box(facts, vals, ref_is_nan, ref_finite, v_nan and not ref_is_nan)
    block = terms.ndim > 1
    per_row = (lambda a: a.any(axis=-1)) if vals.ndim == terms.ndim else (lambda a: a)
    v_nan = per_row(np.isnan(vals))
    nan = v_nan & ~np.asarray(ref_is_nan, dtype=bool)
    if facts.all_finite is True:
        buf = mask if mask is not None and mask.shape == terms.shape else None
        flushed = np.count_nonzero(np.equal(terms, 0, out=buf), axis=-1)
        term_inf = np.isinf(terms, out=buf).any(axis=-1)
        term_nan = (not fmt.has_inf) & np.isnan(terms, out=buf).any(axis=-1)
    else:
        fin = facts.finite
        flushed = np.count_nonzero((terms == 0) & fin, axis=-1)
        term_inf = (np.isinf(terms) & fin).any(axis=-1)
        term_nan = (not fmt.has_inf) & (np.isnan(terms) & fin).any(axis=-1)
    s = np.asarray(sumexp, dtype=np.float64)
    reaches = np.asarray(ref_finite, dtype=bool) & (s != 0)  # a finite result was reachable
    overflow = term_inf | facts.overflowed
    overflow |= ~np.asarray(facts.has_posinf) & (np.isinf(s) | (reaches & per_row(np.isinf(vals))))
    if not fmt.has_inf:
        # no infinity: an exp, sum or result that overflows is NaN (ml_dtypes).  From finite
        # inputs NaN arises no other way, except 0/0 of a flushed sum: the underflow's doing.
        overflow |= term_nan | np.isnan(s) | (reaches & v_nan)
    from smoothcli.core.formats import FORMATS

    sum_fmt = FORMATS.get(getattr(getattr(sumexp, "dtype", None), "name", ""), fmt)
    underflow = (np.asarray(facts.sum_nonzero) & ~np.asarray(facts.has_posinf)
                 & ((s == 0) | (np.abs(s) < float(sum_fmt.smallest_normal))))
    # NaN given: nothing else can go wrong; NaN made by rounding: overflow
    has_nan = np.asarray(facts.has_nan)
    overflow = np.where(has_nan, facts.overflowed, overflow)
    underflow &= ~has_nan
    nan &= ~has_nan
    if block:
        return Flags(overflow, underflow, nan, flushed)
    return Flags(bool(overflow), bool(underflow), bool(nan), int(flushed))


def _black_box(facts: InputFacts, vals: Any, ref_is_nan: bool, ref_finite: bool,
               nan: bool) -> Flags:
    import numpy as np

    if facts.has_nan:
        return Flags(facts.overflowed, False, False, 0)
    if vals.ndim == 0:  # LSE-like
        v = float(vals)
        return Flags((ref_finite and v == math.inf) or facts.overflowed,
                     ref_finite and v == -math.inf, nan, 0)
    overflow = (not ref_is_nan and bool(np.isinf(vals).any())) or facts.overflowed
    underflow = not ref_is_nan and vals.size > 0 and bool((vals == 0).all())
    return Flags(overflow, underflow, nan, 0)


def pointwise_flags(x: float, exps: Any, steps: Any, value: float, ref: Any,
                    fmt: FloatFormat) -> Flags:
    """The flags of one element of an elementwise function (sigmoid, softplus, smooth |x|...).

    ``x`` is the element's input in the dtype, ``exps`` the exponentials its method computed,
    ``steps`` its other intermediates (1 + e, cosh, ...), ``value`` the result and ``ref`` the
    exact result (an mpf).  The same three flags, read for one element:

    * overflow:  x and the exact result are finite but an intermediate or the result is ±inf
      (naive σ(−12) in float16: e^12 = inf, so 1/(1 + inf) = 0);
    * underflow: the result is 0 although the exact result rounds to a nonzero number of the
      dtype, or subnormal although it rounds to a normal one — a term that carried the result
      vanished (e^x flushed to 0, or 1 + e^x rounded to 1 before the log).  Not raised when the
      overflow already explains the loss;
    * nan: the result is NaN although the exact result is not.

    ``flushed`` counts the exponentials computed as 0 (informational: for x very negative that
    is the correct rounding)."""
    import mpmath

    from smoothcli.reference.exact import round_mpf

    def _floats(v):
        return [float(e) for e in (v if isinstance(v, (list, tuple)) else [v])]

    es, others, v = _floats(exps), _floats(steps), float(value)
    finite_x = math.isfinite(float(x))
    flushed = sum(1 for e in es if e == 0) if finite_x else 0
    if mpmath.isnan(ref) or math.isnan(float(x)):
        return Flags(False, False, False, flushed)
    nan = math.isnan(v)
    ref_finite = bool(mpmath.isfinite(ref))
    # Without infinities (float8_e4m3fn) an overflowing operation gives NaN instead of inf.
    big = math.isinf if fmt.has_inf else (lambda t: math.isinf(t) or math.isnan(t))
    overflow = finite_x and ref_finite and (any(big(e) for e in es + others) or big(v))
    underflow = False
    if ref_finite and not overflow and not nan and math.isfinite(v):
        r = abs(round_mpf(ref, fmt))
        tiny = float(fmt.smallest_normal)
        underflow = (v == 0 and r != 0) or (0 < abs(v) < tiny <= r)
    return Flags(bool(overflow), bool(underflow), bool(nan), flushed)
