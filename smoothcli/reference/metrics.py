"""Stage 4 for ``smooth metrics``: the exact smooth metrics of a batch, fast where a proven bound
allows, mpmath (:func:`smoothcli.methods.metrics.binary_reference`, ``multiclass_reference``)
where it does not.

The metrics are means and ratios of sums of positive per-sample terms (σ(z), σ(−z),
softplus(±z), softmax(x)_y, Σ_{j≠y} softmax(x)_j, (m − x_y) + log1p(Σ_{j≠argmax} e^(x_j − m))).
The per-sample mpmath reference costs ~0.1 ms a sample; this module computes the terms with
numpy in long double and carries a relative error bound along (Higham, "Accuracy and Stability
of Numerical Algorithms", ch. 2-4; the assumptions on expl/log1pl are those of
:mod:`smoothcli.reference.fast`):

* z = k·s exactly as a float64 pair (Dekker's TwoProduct; for k = 1, z = s);
* e = exp(−|z|) = expl(−|hi|)·(1 ∓ lo) in long double: relative error ≤ 2**-62 (expl within
  2 ULP of the 64-bit format) + 2**-64 (the factor) + lo²;
* each term (σ, softplus, ...) from e with a few more roundings: relative error ≤ E_SIG
  (≈ 2**-61.2) for σ, E_SOFT (≈ 2**-60.2) for softplus;
* each sum of n positive terms exactly (two passes of Shewchuk's exact summation, ``math.fsum``,
  over the float64 high and low parts of the long double terms): the sum's relative error is the
  terms' — summing positive numbers does not amplify relative errors;
* a ratio of two such sums: the sum of their bounds plus the division's rounding.

A metric is taken from the fast path for a target format when its bound is at most
:data:`TAU_METRICS` (1/32) ULP of the format at the value and both ends of
[value − bound, value + bound] round to the same value of the format (so Herbie's bits, which
need the correctly rounded exact value, are exact too); otherwise the batch's metrics are
computed with the mpmath Ziv loop.  Where long double is plain float64 (MSVC, Apple silicon),
every metric uses mpmath.  Multi-class batches with k ≠ 1 use mpmath (their shifted exponents
would need the TwoProduct pairs subtracted exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

#: Relative error bounds of the fast per-sample terms (module docstring), in long double
#: (u = 2**-64): e^(−|z|) (expl within 2 ULP, as :mod:`smoothcli.reference.fast` assumes, and the
#: (1 ∓ lo) factor); σ(±z) = e/(1 + e) or 1/(1 + e) (two more roundings); softplus(±z) =
#: max(±z, 0) + log1p(e) (log1pl within 2 ULP, e's own error, the addition).
U_LD = 2.0 ** -64
E_EXP = 2.0 ** -62 + U_LD
E_SIG = E_EXP + 3 * U_LD
E_SOFT = 2 * E_EXP + 2.0 ** -62 + 2 * U_LD
#: For targets of at most 24 bits the terms are computed in float64: numpy's exp assumed within
#: 2**-44 (as smoothcli.reference.fast does), a few more roundings, and a pairwise float64 sum of
#: up to 2**20 terms within 28·2**-53 (Higham, ASNA (4.6)): every term and sum within 2**-43.
E_NARROW = 2.0 ** -43
#: The largest reference error, in ULPs of a target format, the fast path may leave.  A ratio
#: of two sums carries about 2**-60 relative, at most 1/128 ULP of float64 (ulp(v) ≥
#: 2**-53·v); float16 to float32 targets are far below it.  A metric whose bound does not meet
#: it (tiny terms that lost their relative accuracy) goes to mpmath.
TAU_METRICS = 1.0 / 32
#: |k·s| beyond this (or a tiny nonzero product) sends the batch to mpmath.
Z_MAX = 2.0 ** 20
Z_TINY = 2.0 ** -900
#: Batches of at most this many logits get the mpmath reference (17 correct digits, errors
#: exact; ~0.1 ms a logit), as short rows of the LSE family do; larger ones the fast path.
EXACT_LOGITS = 1024
#: Below this argument long double's exp leaves its normal range (e^-11355 ≈ 2**-16382): such a
#: term keeps no relative accuracy, so each adds this absolute error (a term below 2**-16000)
#: to every bound; a metric made of such terms alone then goes to mpmath.
LD_EXP_MIN = -11000.0
TINY_TERM_EXP = -16000
#: The same for float64 terms (narrow targets): exp leaves the normal range below −708, and such
#: a term is below 2**-1000.
F64_EXP_MIN, F64_TINY_EXP = -708.0, -1000


@dataclass
class MetricsReference:
    """The exact metrics of one batch of dtype-rounded logits and one k."""

    kind: str  # "fast-longdouble" | "fast-float64" (targets of ≤ 24 bits) | "mpmath"
    values: dict[str, Any]  # metric -> mpf, or None where the metric does not exist
    bounds: dict[str, Any] = field(default_factory=dict)  # metric -> absolute bound (mpf)


def metrics_reference(xs: Any, y: Sequence[int], k: float, binary: bool,
                      fmt: Any = None) -> MetricsReference:
    """The exact metrics of the logits ``xs`` (float64 array of dtype values, (n,) or (n, C))
    times ``k``, labels ``y``: the fast path when its bound is good enough for ``fmt`` (every
    format when ``fmt`` is None), else mpmath.  (The engine keeps them in its reference cache.)"""
    from smoothcli.reference.fast import MP_LOCK, _ld_enabled

    with MP_LOCK:
        fast = None
        narrow = fmt is not None and fmt.precision <= 24
        if (narrow or _ld_enabled()) and xs.size > EXACT_LOGITS:
            fast = (_binary_fast(xs, y, k, narrow) if binary else
                    _multiclass_fast(xs, y, narrow) if k == 1.0 else None)
        if fast is not None and (fmt is None or good_enough(fast, fmt)):
            return fast
        return _mpmath(xs, y, k, binary)


def good_enough(ref: MetricsReference, fmt: Any) -> bool:
    """Every metric's bound is below TAU ULP of ``fmt`` and decides the rounding to ``fmt``."""
    import mpmath

    from smoothcli.measure.errors import ulp_exponent
    from smoothcli.reference.exact import round_mpf
    for name, v in ref.values.items():
        b = ref.bounds.get(name, 0)
        if v is None or b == 0:
            continue
        if b > TAU_METRICS * mpmath.ldexp(1, ulp_exponent(abs(v) - b if abs(v) > b else v, fmt)):
            return False
        lo = mpmath.fsub(v, b, exact=True)
        hi = mpmath.fadd(v, b, exact=True)
        if round_mpf(lo, fmt) != round_mpf(hi, fmt):
            return False
    return True


def reference_text(ref: MetricsReference, name: str) -> str:
    """The exact metric as decimal text: 17 digits from mpmath, as many as the bound
    guarantees from the fast path."""
    from smoothcli.engine.evaluate import bounded_text
    from smoothcli.reference.exact import decimal_text

    v = ref.values[name]
    if v is None:
        return ""
    b = ref.bounds.get(name, 0)
    return decimal_text(v) if not b else bounded_text(v, b)


def _mpmath(xs: Any, y: Sequence[int], k: float, binary: bool) -> MetricsReference:
    from smoothcli.methods import metrics as M

    values = (M.binary_reference(xs.reshape(-1).tolist(), y, k) if binary else
              M.multiclass_reference(xs.tolist(), y, k))
    return MetricsReference("mpmath", values)


# --- the fast path ------------------------------------------------------------------------

def _exact_sum(terms: Any) -> Any:
    """Σ terms (long double array) exactly, as an mpf: the float64 high and low parts of every
    term (term − hi is exact: at most 11 significant bits), summed by Shewchuk's algorithm in two
    passes (S1 = fsum, then the residual fsum(parts − S1)); S1 + residual is within 2**-105
    relative of the exact sum."""
    import mpmath
    import numpy as np

    hi = terms.astype(np.float64)
    lo = (terms - hi.astype(terms.dtype)).astype(np.float64)
    parts = np.concatenate([hi, lo]).tolist()
    s1 = math.fsum(parts)
    r = math.fsum(parts + [-s1])
    return mpmath.fadd(s1, r, exact=True)


def _two_product(a: Any, b: float) -> tuple[Any, Any]:
    """a·b = hi + lo exactly (Dekker, with Veltkamp's split), elementwise in float64."""
    import numpy as np

    c = 134217729.0  # 2**27 + 1
    hi = a * b

    def split(v):
        t = c * v
        h = t - (t - v)
        return h, v - h

    ah, al = split(a)
    bh, bl = split(np.float64(b))
    lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl
    return hi, lo


def _sum(terms: Any, narrow: bool) -> Any:
    """Σ of positive terms: exactly (long double terms), or, for targets of at most 24 bits,
    numpy's pairwise float64 sum, within (log2 n + 8)·2**-53 relative (Higham, ASNA §4.2)."""
    import mpmath
    import numpy as np

    return mpmath.mpf(float(np.sum(terms))) if narrow else _exact_sum(terms)


def _binary_fast(xs: Any, y: Sequence[int], k: float,
                 narrow: bool = False) -> MetricsReference | None:
    import mpmath
    import numpy as np

    s = xs.reshape(-1)
    with np.errstate(all="ignore"):
        hi, lo = (s, np.zeros_like(s)) if k == 1.0 else _two_product(s, k)
        ah = np.abs(hi)
        if not np.isfinite(hi).all() or (ah > Z_MAX).any() or ((ah > 0) & (ah < Z_TINY)).any():
            return None
        ld = np.float64 if narrow else np.longdouble
        sign = np.where(hi >= 0, 1.0, -1.0)
        # exp(−|z|) = exp(−|hi|)·exp(−sign·lo), exp(−sign·lo) = 1 − sign·lo to within lo²
        e = np.exp(-ah.astype(ld)) * (ld(1) - (sign * lo).astype(ld))
        one = ld(1)
        d = one + e
        pos = hi >= 0
        sp = np.where(pos, one / d, e / d)  # σ(z)
        sm = np.where(pos, e / d, one / d)  # σ(−z)
        l1p = np.log1p(e)
        zl = hi.astype(ld) + lo.astype(ld)
        zero = ld(0)
        soft_pos = np.maximum(zl, zero) + l1p  # softplus(z)
        soft_neg = np.maximum(-zl, zero) + l1p  # softplus(−z)
    t = np.asarray(y, dtype=bool)
    n = s.size
    positives = int(t.sum())
    TP = _sum(sp[t], narrow)
    FP = _sum(sp[~t], narrow)
    FN = _sum(sm[t], narrow)
    S = mpmath.fadd(TP, FP, exact=True)
    ACC = mpmath.fadd(TP, _sum(sm[~t], narrow), exact=True)
    LOSS = mpmath.fadd(FN, FP, exact=True)
    BCE = mpmath.fadd(_sum(soft_neg[t], narrow), _sum(soft_pos[~t], narrow), exact=True)
    # terms e^(−|z|) past the format's normal range keep no relative accuracy
    lost = int(np.count_nonzero(-ah < (F64_EXP_MIN if narrow else LD_EXP_MIN)))
    with mpmath.workprec(200):
        values = {"tp": TP, "fp": FP, "fn": FN, "accuracy": ACC / n, "accuracy_loss": LOSS / n,
                  "precision": TP / S, "recall": TP / positives if positives else None,
                  "f1": 2 * TP / (positives + S), "bce": BCE / n}
        rel = {"precision": 2 * E_SIG + U_LD, "f1": 2 * E_SIG + U_LD, "bce": E_SOFT}
        if narrow:  # float64 terms (exp within 2**-44, fast.F64_EXP_REL) and a pairwise sum
            rel = dict.fromkeys(values, 2 * E_NARROW)
        tiny = lost * mpmath.ldexp(1, F64_TINY_EXP if narrow else TINY_TERM_EXP)
        bounds = {name: (abs(v) * rel.get(name, E_SIG) * 1.01 + tiny
                         if v is not None else 0) for name, v in values.items()}
    return MetricsReference("fast-float64" if narrow else "fast-longdouble", values, bounds)


def _multiclass_fast(xs: Any, y: Sequence[int], narrow: bool = False) -> MetricsReference | None:
    import mpmath
    import numpy as np

    n, C = xs.shape
    if not np.isfinite(xs).all():
        return None
    rows = np.arange(n)
    yi = np.asarray(y, dtype=np.int64)
    with np.errstate(all="ignore"):
        kmax = np.argmax(xs, axis=1)
        m = xs[rows, kmax]
        # d = x − m exactly as hi + lo (Knuth's TwoSum)
        hi = xs - m[:, None]
        bv = hi - xs
        lo = (xs - (hi - bv)) + (-m[:, None] - bv)
        ld = np.float64 if narrow else np.longdouble
        t = np.exp(hi.astype(ld)) * (ld(1) + lo.astype(ld))  # e^(x_j − m) ≤ 1, t_max = 1
        tail = t.copy()
        tail[rows, kmax] = 0
        T = tail.sum(axis=1)  # Σ_{j≠argmax}: positive terms, ≤ (C − 1)·2**-64 relative
        S = ld(1) + T
        ty = t[rows, yi]
        others = t.copy()
        others[rows, yi] = 0
        p_y = ty / S
        loss = others.sum(axis=1) / S
        ce = (m.astype(ld) - xs[rows, yi].astype(ld)) + np.log1p(T)
    e_sum = E_EXP + (C - 1) * U_LD  # a row's sum of C positive terms t_j
    lost = int(np.count_nonzero(hi < (F64_EXP_MIN if narrow else LD_EXP_MIN)))  # no rel. accuracy
    with mpmath.workprec(200):
        values = {"accuracy": _sum(p_y, narrow) / n, "accuracy_loss": _sum(loss, narrow) / n,
                  "cross_entropy": _sum(ce, narrow) / n}
        rel = {"accuracy": E_EXP + e_sum + U_LD, "accuracy_loss": 2 * e_sum + U_LD,
               "cross_entropy": e_sum + 2.0 ** -62 + 2 * U_LD}
        if narrow:
            rel = dict.fromkeys(values, 3 * E_NARROW + C * 2.0 ** -53)
        tiny = lost * mpmath.ldexp(1, F64_TINY_EXP if narrow else TINY_TERM_EXP)
        bounds = {name: abs(v) * rel[name] * 1.01 + tiny for name, v in values.items()}
    return MetricsReference("fast-float64" if narrow else "fast-longdouble", values, bounds)
