"""How a sum of exponentials is accumulated: the order and the dtype of the partial sums.

The order matters as much as the dtype.  A strict left-to-right float16 sum of ones stalls at 2048
(2048 + 1 rounds back to 2048: the float16 spacing there is 2), while numpy's ``np.sum`` on a
float16 array adds pairwise and keeps its partial sums in float32, returning 5000 for 5000 ones.
The tool's default is the strict model every intermediate of which is a value of the target dtype;
``pairwise`` reproduces what ``np.sum`` does, so users see what their numpy code gets.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENTIAL = "sequential"
PAIRWISE = "pairwise"
ORDERS = (SEQUENTIAL, PAIRWISE)


@dataclass(frozen=True)
class Accumulation:
    """A summation rule: ``sequential`` (left to right, each partial sum rounded to the dtype) or
    ``pairwise`` (numpy's ``np.sum``)."""

    order: str = SEQUENTIAL

    def describe(self, dtype: str) -> str:
        if self.order == SEQUENTIAL:
            return f"sequential, left to right, every partial sum rounded to {dtype}"
        if dtype == "float16":
            return "numpy np.sum: pairwise, float16 partial sums kept in float32, rounded once"
        return f"numpy np.sum: pairwise (blocks of 128, 8 accumulators) in {dtype}"

    def sum(self, terms):
        """Sum a 1-D numpy array of terms in its own dtype, by this rule."""
        import numpy as np

        if terms.size == 0:
            return terms.dtype.type(0)
        if self.order == SEQUENTIAL:
            # ufunc.accumulate stores each partial sum in the array's dtype before the next
            # addition, so this is the strict recurrence s_i = fl(s_{i-1} + t_i).
            return np.add.accumulate(terms)[-1]
        return np.add.reduce(terms, dtype=terms.dtype)


def get_accumulation(order: str) -> Accumulation:
    from smoothcli.errors import InputError

    key = order.strip().lower()
    if key not in ORDERS:
        raise InputError(f"unknown --sum order {order!r} (choose from {', '.join(ORDERS)})")
    return Accumulation(key)
