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


def _shift(x):
    import numpy as np

    m = np.max(x)
    return m if np.isfinite(m) else x.dtype.type(0)


def lse_naive(x, acc: Accumulation) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        terms = np.exp(x)
        s = acc.sum(terms)
        return Trace(acc.finish(np.log(s), x.dtype), terms, s)


def lse_shifted(x, acc: Accumulation) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        m = _shift(x)
        terms = np.exp(x - m)
        s = acc.sum(terms)
        return Trace(acc.finish(acc.widen(m, s) + np.log(s), x.dtype), terms, s, m)


def softmax_naive(x, acc: Accumulation) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        terms = np.exp(x)
        s = acc.sum(terms)
        return Trace(acc.finish(acc.widen(terms, s) / s, x.dtype), terms, s)


def softmax_shifted(x, acc: Accumulation) -> Trace:
    import numpy as np

    with np.errstate(all="ignore"):
        m = _shift(x)
        terms = np.exp(x - m)
        s = acc.sum(terms)
        return Trace(acc.finish(acc.widen(terms, s) / s, x.dtype), terms, s, m)
