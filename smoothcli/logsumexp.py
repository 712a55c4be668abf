"""Stage 3 for LSE and softmax: evaluate each method in the target dtype, keeping intermediates.

Every operation runs on numpy arrays of the target dtype, so every intermediate is rounded to it:
exp and log are numpy's (for float16 numpy evaluates them in float32 and rounds once to float16),
sums follow the chosen :class:`~smoothcli.accumulate.Accumulation`.  The traces keep the terms and
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
from typing import Any, Callable

from smoothcli.accumulate import Accumulation


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


LSE_METHODS: dict[str, Callable[[Any, Accumulation], Trace]] = {
    "naive": lse_naive,
    "shifted": lse_shifted,
}
SOFTMAX_METHODS: dict[str, Callable[[Any, Accumulation], Trace]] = {
    "naive": softmax_naive,
    "shifted": softmax_shifted,
}


#: The methods evaluated when ``--method`` is not given (``all`` selects every method).
DEFAULT_METHODS = ("naive", "shifted")


def resolve_methods(names, available: dict) -> list[str]:
    """Parse repeatable / comma-separated ``--method`` values against the available methods."""
    from smoothcli.errors import InputError

    if not names:
        default = [k for k in DEFAULT_METHODS if k in available]
        return default or list(available)
    out: list[str] = []
    for item in names:
        for part in item.split(","):
            key = part.strip().lower()
            if key == "all":
                out.extend(k for k in available if k not in out)
                continue
            if key not in available:
                raise InputError(f"unknown method {part.strip()!r} (choose from "
                                 f"{', '.join(available)})")
            if key not in out:
                out.append(key)
    return out


# Blanchard-Higham-Higham's log1p form, the online normaliser and the division-free softmax
# forms live in their own module; they register here so every subcommand can select them.
from smoothcli.methods_bhh import LSE_EXTRA, SOFTMAX_EXTRA  # noqa: E402

LSE_METHODS.update(LSE_EXTRA)
SOFTMAX_METHODS.update(SOFTMAX_EXTRA)
