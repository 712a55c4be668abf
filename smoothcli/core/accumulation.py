"""How a sum of exponentials is accumulated: the order and the dtype of the partial sums.

The order matters as much as the dtype.  A strict left-to-right float16 sum of ones stalls at 2048
(2048 + 1 rounds back to 2048: the float16 spacing there is 2), while numpy's ``np.sum`` on a
float16 array adds pairwise and keeps its partial sums in float32, returning 5000 for 5000 ones.
The default, ``pairwise``, reproduces what ``np.sum`` does, so users see what their numpy code
gets.  numpy has no pairwise loop for ml_dtypes' bfloat16 / float8 arrays: their ``np.sum`` is a
strict left-to-right sum in the dtype itself (``np.ones(5000, bfloat16).sum()`` is 256: 256 + 1
rounds back to 256), and ``pairwise`` reproduces that too.  ``sequential`` is the strict model of
Blanchard, Higham & Higham (2021), every intermediate of which is a value of the target dtype.
docs/sums.md says why the default is numpy's.

``acc`` (``--acc DTYPE``) models a kernel that keeps its reduction in a wider dtype, as GPU
softmax / logsumexp kernels do in float32 for float16 and bfloat16: the terms are computed in the
target dtype and widened exactly, Σ (and the online normaliser) accumulates in ``acc``, and the
operations that consume the sum (its log, the division by it, m + log Σ) run in ``acc`` too; the
result is rounded once to the target dtype.  An ``acc`` that is not wider than a row's dtype is
ignored for that row (the row's ``acc_dtype`` says what was used).
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENTIAL = "sequential"
PAIRWISE = "pairwise"
ORDERS = (PAIRWISE, SEQUENTIAL)
#: The order used when ``--sum`` is not given: what numpy code computes (docs/sums.md).
DEFAULT_ORDER = PAIRWISE


@dataclass(frozen=True)
class Accumulation:
    """A summation rule: ``pairwise`` (numpy's ``np.sum``, the default) or ``sequential`` (left to
    right, each partial sum rounded to the dtype)."""

    order: str = PAIRWISE
    acc: str | None = None  # --acc: the name of a wider accumulation dtype, or None

    def acc_dtype(self, dtype: str) -> str:
        """The dtype the sums of a ``dtype`` row accumulate in (``acc`` only when it is wider)."""
        from smoothcli.core.formats import FORMATS, is_wider

        if self.acc is None or self.acc == dtype or dtype not in FORMATS:
            return dtype
        return self.acc if is_wider(FORMATS[self.acc], FORMATS[dtype]) else dtype

    def describe(self, dtype: str, method: str | None = None) -> str:
        acc = self.acc_dtype(dtype)
        wide = (f"; the log of / division by the sum in {acc}, the result rounded once to "
                f"{dtype}" if acc != dtype else "")
        if method is not None and method.startswith("online"):
            return (f"online normaliser (Milakov & Gimelshein 2018), left to right: "
                    f"d_j = d_(j-1)*exp(m_(j-1) - m_j) + exp(x_j - m_j), every step rounded to "
                    f"{acc}" + wide)
        if self.order == SEQUENTIAL:
            return f"sequential, left to right, every partial sum rounded to {acc}" + wide
        if acc != dtype:
            return (f"numpy np.sum of the terms widened to {acc}: pairwise in {acc}" + wide)
        if dtype == "float16":
            return "numpy np.sum: pairwise, float16 partial sums kept in float32, rounded once"
        from smoothcli.core.formats import ML_DTYPES

        if dtype in ML_DTYPES:
            return (f"numpy np.sum on ml_dtypes' {dtype}: no pairwise loop, a strict "
                    f"left-to-right sum in {dtype} (np.ones(5000, bfloat16).sum() is 256: "
                    f"256 + 1 rounds back to 256)")
        return f"numpy np.sum: pairwise (blocks of 128, 8 accumulators) in {dtype}"

    def widen(self, a, like):
        """``a`` (array or scalar of the target dtype) in the dtype of ``like`` (exact: wider).

        Needed because numpy/ml_dtypes promotion would not pick ``acc``: float8 op float16
        promotes to float32."""
        return a if a.dtype == like.dtype else a.astype(like.dtype)

    def finish(self, value, dtype):
        """A result computed in the accumulation dtype, rounded once to the target ``dtype``."""
        import numpy as np

        if value.dtype == dtype:
            return value
        if value.dtype.itemsize > 4 and dtype.name in ("bfloat16", "float8_e4m3fn",
                                                         "float8_e5m2"):
            # ml_dtypes converts float64 through float32 and can round twice (a float32 result
            # exactly on a bfloat16 midpoint; jax-ml/ml_dtypes PR #401): round exactly instead.
            from fractions import Fraction

            from smoothcli.core.formats import FORMATS
            from smoothcli.core.rounding import round_fraction

            fmt = FORMATS[dtype.name]
            flat = [float(v) for v in np.ravel(value)]
            out = np.array([round_fraction(Fraction(v), fmt) if np.isfinite(v) else v
                            for v in flat], dtype=np.float64).astype(dtype)  # exact now
            return out.reshape(np.shape(value)) if np.ndim(value) else out[0]
        return np.asarray(value).astype(dtype) if np.ndim(value) else dtype.type(value)

    def sum(self, terms, ws=None, axis=None):
        """Sum a 1-D numpy array of terms by this rule, in the accumulation dtype of their
        dtype (the terms' own dtype unless ``acc`` is wider).  ``ws``: the engine's workspace,
        whose buffer then holds the partial sums of the sequential rule.  ``axis=-1``: each row
        of a C-contiguous 2-D array by the same rule (numpy's pairwise reduction of a
        contiguous row is the one it applies to a 1-D array)."""
        import numpy as np

        acc = self.acc_dtype(terms.dtype.name)
        if acc != terms.dtype.name:
            from smoothcli.core.formats import FORMATS

            terms = terms.astype(FORMATS[acc].np)  # exact: every term is a value of acc
        if axis is not None:
            if terms.shape[-1] == 0:
                return np.zeros(terms.shape[:-1], dtype=terms.dtype)
            terms = np.ascontiguousarray(terms)
            if self.order == SEQUENTIAL:
                return np.add.accumulate(terms, axis=-1)[..., -1]
            return np.add.reduce(terms, axis=-1, dtype=terms.dtype)
        if terms.size == 0:
            return terms.dtype.type(0)
        if self.order == SEQUENTIAL:
            # ufunc.accumulate stores each partial sum in the array's dtype before the next
            # addition, so this is the strict recurrence s_i = fl(s_{i-1} + t_i).
            out = None if ws is None else ws.get("partial_sums", terms.dtype, terms.size)
            return np.add.accumulate(terms, out=out)[-1]
        return np.add.reduce(terms, dtype=terms.dtype)


def get_accumulation(order: str = DEFAULT_ORDER, acc: str | None = None) -> Accumulation:
    from smoothcli.core.errors import InputError

    key = order.strip().lower()
    if key not in ORDERS:
        raise InputError(f"unknown --sum order {order!r} (choose from {', '.join(ORDERS)})")
    if acc is not None:
        from smoothcli.core.formats import get_float_format

        try:
            acc = get_float_format(acc).name
        except InputError as e:
            raise InputError(f"--acc: {e}") from None
    return Accumulation(key, acc)
