"""Stage 3 for LSE and softmax: evaluate each method in the target dtype, keeping intermediates.

Every operation runs on numpy arrays of the target dtype, so every intermediate is rounded to it:
exp and log are numpy's (for float16 numpy evaluates them in float32 and rounds once to float16),
sums follow the chosen :class:`~smoothcli.core.accumulation.Accumulation`.  The traces keep the terms and
the sum so that the flags (overflow, underflow, flushed terms) can be read off afterwards.

Methods (the seed's formulas, eq. (3) and (5)):

* ``naive``   LSE(x) = log(Σ exp(x_i)),         softmax(x)_i = exp(x_i) / Σ exp(x_j)
* ``shifted`` LSE(x) = m + log(Σ exp(x_i - m)), softmax(x)_i = exp(x_i - m) / Σ exp(x_j - m),
  m = max(x).  The largest term is exp(0) = 1, so the sum is at least 1: nothing overflows and the
  log never sees 0.  As in scipy.special.logsumexp, m is replaced by 0 when max(x) is not finite
  (an inf or nan input), so inf - inf never manufactures a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smoothcli.core.accumulation import Accumulation


@dataclass
class Trace:
    """The result of one method in one dtype, with the intermediates the flags are read from."""

    value: Any  # numpy scalar (LSE) or array (softmax) of the target dtype
    terms: Any  # the exponentials exp(x_i) or exp(x_i - m), as computed
    sumexp: Any  # their sum, as computed
    shift: Any = None  # m for shifted methods


def _shift(x, top: Any = None):
    """m = max(x), or 0 when that is not finite (scipy's convention).  ``top``: the max when the
    caller already has it (numpy's float16 max is ~30 times slower than float64's).  For a block
    of rows (2-D ``x``, ``top`` one max per row) one m per row."""
    import numpy as np

    if x.ndim > 1:
        m = np.max(x, axis=-1) if top is None else np.asarray(top).astype(x.dtype)
        return np.where(np.isfinite(m), m, x.dtype.type(0)).astype(x.dtype)
    m = np.max(x) if top is None else x.dtype.type(top)
    return m if np.isfinite(m) else x.dtype.type(0)


def _col(v, x):
    """A per-row value as a column against a block ``x`` (itself for a single row)."""
    return v[..., None] if x.ndim > 1 else v


def _sum(acc: Accumulation, terms, ws: Any):
    """Σ terms by ``acc``: of the row, or of each row of a block."""
    return acc.sum(terms, ws, axis=-1) if terms.ndim > 1 else acc.sum(terms, ws)


def _buffer(ws: Any, name: str, like: Any):
    """A reusable buffer of ``like``'s dtype and size from the engine's workspace (fresh
    multi-megabyte temporaries for every row cost a page fault per 4 KiB page), or None."""
    return None if ws is None else ws.get(name, like.dtype, like.shape)


def _exp_terms(x, m, ws: Any):
    """exp(x) or exp(x - m), rounded to x's dtype (into a workspace buffer when given)."""
    import numpy as np

    terms = _buffer(ws, "terms", x)
    if m is None:
        return np.exp(x, out=terms)
    d = np.subtract(x, _col(m, x), out=terms)
    return np.exp(d, out=d)


def lse_naive(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        terms = _exp_terms(x, None, ws)
        s = _sum(acc, terms, ws)
        return Trace(acc.finish(np.log(s), x.dtype), terms, s)


def lse_shifted(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        m = _shift(x, top)
        terms = _exp_terms(x, m, ws)
        s = _sum(acc, terms, ws)
        return Trace(acc.finish(acc.widen(m, s) + np.log(s), x.dtype), terms, s, m)


def _divide(terms, s, acc: Accumulation, x, ws: Any):
    import numpy as np

    col = _col(s, x)
    if acc.acc_dtype(x.dtype.name) == x.dtype.name and np.asarray(s).dtype == x.dtype:
        return np.divide(terms, col, out=_buffer(ws, "value", x))  # already in the dtype
    return acc.finish(acc.widen(terms, s) / col, x.dtype)


def softmax_naive(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        terms = _exp_terms(x, None, ws)
        s = _sum(acc, terms, ws)
        return Trace(_divide(terms, s, acc, x, ws), terms, s)


def softmax_shifted(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        m = _shift(x, top)
        terms = _exp_terms(x, m, ws)
        s = _sum(acc, terms, ws)
        return Trace(_divide(terms, s, acc, x, ws), terms, s, m)


# --- the forms the published failures and fixes need (docs/cases.md) -----------------------------

def lse_shifted_unguarded(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """m + log Σ exp(x_i − m) with m = max(x) *even when it is not finite*: the form
    tensorflow#11692 reported (tf.reduce_logsumexp 1.2), where an all -inf row computes
    −inf − (−inf) = NaN.  ``shifted`` replaces such an m by 0 (scipy's convention, the fix
    tensorflow PR #11757 adopted)."""
    import numpy as np

    with np.errstate(all="ignore"):
        m = np.max(x, axis=-1)
        terms = _exp_terms(x, m, ws)
        s = _sum(acc, terms, ws)
        return Trace(acc.finish(acc.widen(m, s) + np.log(s), x.dtype), terms, s, m)


def _no_finite_max(x) -> bool:
    """Every input is -inf (a fully masked row): the row has no finite maximum and no +inf."""
    import numpy as np

    return x.size > 0 and bool(np.all(x == -np.inf))


def softmax_safe(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """The shifted softmax, except that a row whose every input is -inf gives zeros instead of
    0/0 = NaN: torch's ``_safe_softmax`` (pytorch PR #131060), which scaled_dot_product_attention
    calls for fully masked rows.  The exact softmax of such a row does not exist: the zeros are
    a convention, and the row's status stays ``undefined`` (its reason says so)."""
    import numpy as np

    if x.ndim > 1:  # a block: the fully masked rows give zeros
        t = softmax_shifted(x, acc, ws, top)
        dead = np.all(x == -np.inf, axis=-1) & (x.shape[-1] > 0)
        if dead.any():
            t.value[dead], t.terms[dead], t.sumexp[dead] = 0, 0, 0
        return t
    if _no_finite_max(x):
        zeros = np.zeros(x.shape, dtype=x.dtype)
        return Trace(zeros, zeros, x.dtype.type(0))
    return softmax_shifted(x, acc, ws, top)


def _upcast_dtype(x):
    """float32 for a dtype narrower than it (float16, bfloat16, float8), else None."""
    import numpy as np

    from smoothcli.core.formats import FORMATS, is_wider

    name = x.dtype.name
    if name in FORMATS and is_wider(FORMATS["float32"], FORMATS[name]):
        return np.dtype(np.float32)
    return None


def _upcast(kernel):
    def run(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
        wide = _upcast_dtype(x)
        if wide is None:  # float32 / float64: the shifted method in the dtype itself
            return kernel(x, acc, ws, top)
        x32 = x.astype(wide)  # exact: every value of a narrower format is a float32
        t = kernel(x32, acc, None, top)
        return Trace(acc.finish(t.value, x.dtype), t.terms, t.sumexp, t.shift)

    return run


#: ``upcast``: the shifted method computed in float32 from the dtype's values and rounded once to
#: the dtype: torch.softmax(x, dtype=torch.float32).to(x.dtype), as transformers does for
#: float16 attention (huggingface/transformers PR #17437); sums follow ``--sum`` in float32 (or
#: in ``--acc`` when that is wider still).  For float32 and float64 it is ``shifted``.
lse_upcast = _upcast(lse_shifted)
softmax_upcast = _upcast(softmax_shifted)
lse_upcast.__doc__ = softmax_upcast.__doc__ = "shifted, computed in float32, rounded once"

#: The kernels that take a block of rows (2-D ``x``, one result per row) as well as one row;
#: the engine runs the others (BHH's log1p and the online normaliser) row by row.
for _kernel in (lse_naive, lse_shifted, lse_shifted_unguarded, lse_upcast, softmax_naive,
                softmax_shifted, softmax_safe, softmax_upcast):
    _kernel.rows = True
