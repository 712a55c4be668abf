"""The methods ML code uses beyond naive and shifted: log1p, online, division-free softmax.

Each runs in the target dtype exactly as :mod:`smoothcli.methods.lse`'s methods do (numpy arrays of
the dtype, every intermediate rounded to it; sums and the operations that consume them in the
accumulation dtype of :class:`~smoothcli.core.accumulation.Accumulation`, see ``--acc``) and returns the
same :class:`~smoothcli.methods.lse.Trace`, so the same flags, errors and bounds apply.

* ``log1p`` — Algorithm 4.1 of P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing
  the log-sum-exp and softmax functions", IMA J. Numer. Anal. 41(4):2311-2330, 2021
  (doi:10.1093/imanum/draa038): a = max x at (the first) index k, s = Σ_{i≠k} exp(x_i − a),
  LSE = a + log1p(s), softmax_i = exp(x_i − a) / (1 + s).  Leaving the term exp(0) = 1 out of the
  sum keeps the information of a tiny tail that 1 + s would round away before the log.
  (Recent scipy.special.logsumexp — 1.17 here — separates its maximal terms the same way.)
* ``online`` — the one-pass normaliser of M. Milakov and N. Gimelshein, "Online normalizer
  calculation for softmax", arXiv:1805.02867, 2018 (their Algorithm 3):
  m_j = max(m_{j−1}, x_j), d_j = d_{j−1}·exp(m_{j−1} − m_j) + exp(x_j − m_j), m_0 = −inf, d_0 = 0;
  LSE = m_n + log(d_n), softmax_i = exp(x_i − m_n) / d_n.  Every step is rounded (d in the
  accumulation dtype).  While the running max is still −inf the step would compute
  exp(−inf − (−inf)) = NaN; as FlashAttention-style kernels do, such a step contributes nothing
  (d stays 0), so all −inf inputs give LSE −inf.  A +inf input is *not* guarded: the kernel's
  inf − inf makes the result NaN, which the tool then flags.
* division-free softmax ``<base>-exp-lse``: softmax_i = exp(x_i − LSE(x)) with LSE computed by
  the base method (``exp-lse`` uses the naive LSE; ``shifted-exp-lse``, ``log1p-exp-lse``,
  ``online-exp-lse`` the others).  LSE is rounded to the dtype first, so x_i − LSE carries an
  absolute error of about u·|LSE|, which exp turns into a relative error: BHH §3 warn that this form
  loses accuracy when |LSE| is large (float16 softmax(1000, 1000) comes out near 0.61, not 0.5).

Method names: the divide forms are called by their LSE method (``naive``, ``shifted``, ``log1p``,
``online``: softmax_i = exp(x_i − m) / Σ), the division-free forms by that name + ``-exp-lse``
(``exp-lse`` alone for the naive one, as BHH's "alternative" formula).
"""

from __future__ import annotations

from typing import Any, Callable

from smoothcli.core.accumulation import Accumulation
from smoothcli.methods.lse import Trace, lse_shifted, softmax_shifted


def _top(x):
    """(a, k): the max and the first index holding it (BHH Alg. 4.1 step 1)."""
    import numpy as np

    k = int(np.argmax(x))
    return x[k], k


def lse_log1p(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """BHH Algorithm 4.1, LSE part: a + log1p(Σ_{i≠k} exp(x_i − a))."""
    import numpy as np

    with np.errstate(all="ignore"):
        a, k = _top(x)
        if not np.isfinite(a):
            # An inf or nan max: the term at k is not exp(0) = 1 and Alg. 4.1 does not apply;
            # fall back to the shifted method's convention (m = 0), as scipy does.
            return lse_shifted(x, acc)
        terms = np.exp(x - a)
        rest = np.delete(terms, k)
        s = acc.sum(rest)  # in the accumulation dtype; 0 for a single input
        return Trace(acc.finish(acc.widen(a, s) + np.log1p(s), x.dtype), terms, _total(s, acc),
                     a)


def _total(s, acc: Accumulation):
    """The full Σ exp(x_i − a) = 1 + s, as the flags and the Σ exp column read it (≥ 1: a tail
    s flushed to 0 is not an underflow of the sum)."""
    return s + s.dtype.type(1)


def softmax_log1p(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """BHH Algorithm 4.1, softmax part: exp(x_i − a) / (1 + s), with exp(x_k − a) = 1."""
    import numpy as np

    with np.errstate(all="ignore"):
        a, k = _top(x)
        if not np.isfinite(a):
            return softmax_shifted(x, acc)
        terms = np.exp(x - a)
        rest = np.delete(terms, k)
        s = acc.sum(rest)
        one_plus = s + s.dtype.type(1)  # rounded: the denominator of Alg. 4.1 step 4
        out = acc.widen(terms, one_plus) / one_plus
        return Trace(acc.finish(out, x.dtype), terms, one_plus, a)


def _online(x, acc: Accumulation, guard: bool = True):
    """The online normaliser: (m_n, d_n, terms) with terms_j = exp(x_j − m_j) as computed.

    Vectorised where it is exact to do so: the running max is exact (np.maximum.accumulate),
    x_j − m_j and m_{j−1} − m_j are single roundings done elementwise.  The recurrence itself is
    sequential; between two changes of the max the factor exp(0) is exactly 1 and d·1 = d, so
    those stretches are strict left-to-right sums (np.add.accumulate keeps every partial sum in
    the dtype) and only the steps where the max moves need the extra multiplication."""
    import numpy as np

    from smoothcli.core.formats import FORMATS

    accdt = FORMATS[acc.acc_dtype(x.dtype.name)].np
    with np.errstate(all="ignore"):
        m = np.maximum.accumulate(x)
        # m_0 = -inf and d_0 = 0: the first factor multiplies 0, so exp(m_1 - m_1) = 1 serves
        # (and float8_e4m3fn, which has no -inf, needs no special case).
        m_prev = np.concatenate([m[:1], m[:-1]])
        terms = np.exp(x - m)
        scale = np.exp(m_prev - m)
        # Guard (see module docstring): while the running max is -inf nothing has weight yet.
        if guard:
            dead = m == -np.inf
            terms[dead] = 0
            scale[dead] = 1
        wide_terms = terms.astype(accdt)
        wide_scale = scale.astype(accdt)
        d = accdt.type(0)
        starts = np.flatnonzero(wide_scale != 1)
        bounds = [0, *[int(j) for j in starts if j > 0], len(x)]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if wide_scale[lo] != 1:
                d = d * wide_scale[lo]  # rounded to the accumulation dtype
            run = np.concatenate([np.array([d], dtype=accdt), wide_terms[lo:hi]])
            d = np.add.accumulate(run)[-1]
        return m[-1], d, terms


def lse_online(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """Milakov & Gimelshein's normaliser, then LSE = m_n + log(d_n)."""
    import numpy as np

    with np.errstate(all="ignore"):
        mn, d, terms = _online(x, acc)
        value = acc.widen(mn, d) + np.log(d)  # -inf + log(0) = -inf for all -inf inputs
        return Trace(acc.finish(value, x.dtype), terms, d, mn)


def lse_online_unguarded(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """The online normaliser *without* the guard: while the running max is still -inf the step
    computes exp(−inf − (−inf)) = NaN, so a row that starts with -inf gives NaN although its
    LSE is finite — what Dao-AILab/flash-attention#1930 reported for cross_entropy_loss (NaN
    depending on where the finite logit is) and PR #1948 guards ("nan when m_i_new=-inf in
    online softmax").  ``online`` is the guarded form."""
    import numpy as np

    with np.errstate(all="ignore"):
        mn, d, terms = _online(x, acc, guard=False)
        value = acc.widen(mn, d) + np.log(d)
        return Trace(acc.finish(value, x.dtype), terms, d, mn)


def softmax_online(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
    """Milakov & Gimelshein's normaliser, then softmax_i = exp(x_i − m_n) / d_n."""
    import numpy as np

    with np.errstate(all="ignore"):
        mn, d, terms = _online(x, acc)
        if mn == -np.inf:  # all -inf: exp(-inf - (-inf)) / 0 is NaN, which is also the exact
            out = np.full(x.shape, np.nan, dtype=x.dtype)  # value (softmax undefined)
            return Trace(out, terms, d, mn)
        final = np.exp(x - mn)
        out = acc.widen(final, d) / d
        return Trace(acc.finish(out, x.dtype), terms, d, mn)


def exp_lse(lse: Callable[..., Trace]) -> Callable[..., Trace]:
    """The division-free softmax exp(x_i − LSE(x)) on top of an LSE method (BHH §3, §4)."""

    def softmax(x, acc: Accumulation, ws: Any = None, top: Any = None) -> Trace:
        import numpy as np

        with np.errstate(all="ignore"):
            t = lse(x, acc)
            y = t.value  # rounded to the dtype, as a stored LSE is
            return Trace(np.exp(x - (y[..., None] if x.ndim > 1 else y)), t.terms, t.sumexp,
                         t.shift)

    softmax.__doc__ = f"exp(x_i − LSE(x)), LSE by {lse.__name__}"
    softmax.rows = getattr(lse, "rows", False)  # a block when its LSE takes one
    return softmax
