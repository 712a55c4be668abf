"""Smooth accuracy, precision, recall, F1 and cross-entropy over a batch (the seed's last two
sections): hard values, values computed in a dtype, and exact mpmath references.

Binary (one logit s per sample, the negative class's logit fixed at 0, so softmax([0, s]) =
[1 − σ(s), σ(s)]; labels t ∈ {0, 1}).  The seed replaces the hard prediction by σ(s) and sums
over the batch *before* dividing (its eqs. 7–9):

    tp = Σ σ(s)·t,   fp = Σ σ(s)·(1 − t),   fn = Σ (1 − σ(s))·t
    precision = Σσ(s)t / Σσ(s),   recall = Σσ(s)t / Σt,   F1 = 2Σσ(s)t / (Σt + Σσ(s))
    accuracy  = mean((1 − t)(1 − σ(s)) + t·σ(s))        (the seed calls this expression
    accuracy_loss = 1 − accuracy                          "AccuracyLoss"; it is the accuracy)
    bce = mean(−t·log σ(s) − (1 − t)·log(1 − σ(s))) = mean(softplus(s) − t·s)

The hard values put the unit step H(s) (0, ½ at 0, 1; the seed's eq. 6) in place of σ(s): the
prediction at threshold 0, a logit of exactly 0 counting half.  H is the k → ∞ limit of σ(ks).

Multi-class (a row of C logits x per sample, label y a class index): hard accuracy =
mean(hardmax(x)·onehot(y)), smooth accuracy = mean(softmax(x)_y), accuracy_loss = 1 − accuracy,
cross_entropy = mean(LSE(x) − x_y).  On an exact tie the hard prediction splits evenly between
the tied classes (the k → ∞ limit of softmax(kx), and H(0) = ½ for the binary case); numpy's
argmax would pick the first.

``--k`` multiplies the logits by k (in the dtype, as a user's code would): as k grows the smooth
values tend to the hard ones.

Methods (every step in the dtype; sums by the chosen :class:`~smoothcli.core.accumulation.Accumulation`,
whose ``acc`` dtype, when wider, also hosts the operations that consume the sums):

* ``naive``: σ(s) = 1/(1 + e^(−s)) and 1 − σ(s) by subtraction; bce as written with logs of σ
  and 1 − σ; softmax exp(x)/Σ exp(x); cross-entropy log Σ exp(x) − x_y; accuracy_loss = 1 − acc.
* ``stable``: σ by the sign branch (:func:`smoothcli.methods.sigmoid.sigmoid_stable`) and 1 − σ(s) as
  σ(−s) (no cancellation); bce = mean(max(s, 0) − t·s + log1p(e^(−|s|))); accuracy_loss =
  mean(σ((1 − 2t)·s)) directly; softmax shifted by m = max(x); cross-entropy =
  (m − x_y) + log1p(Σ_{j≠argmax} e^(x_j − m)) (= LSE(x) − x_y; Blanchard, Higham & Higham 2021,
  Alg. 4.1, so that a confident correct prediction keeps its tiny loss instead of LSE − x_y = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.reference.exact import converge, to_mpf

BINARY_METRICS = ("tp", "fp", "fn", "accuracy", "accuracy_loss", "precision", "recall", "f1",
                  "bce")
MULTICLASS_METRICS = ("accuracy", "accuracy_loss", "cross_entropy")
METHOD_NAMES = ("naive", "stable")



@dataclass
class Computed:
    """One metric computed in a dtype, and what went wrong on the way."""

    value: float
    overflow: bool  # an intermediate (k·s, an exponential, a sum) overflowed
    zero_denominator: bool  # a denominator that is exactly nonzero was computed as 0


def _any_big(a, has_inf: bool) -> bool:
    import numpy as np

    a = np.asarray(a).astype(np.float64)
    return bool(np.isinf(a).any() or (not has_inf and np.isnan(a).any()))


def _round(acc: Accumulation, v, dtype):
    """A value computed in the accumulation dtype, rounded once to the target ``dtype`` (the
    identity when the sums ran in the target dtype itself)."""
    if v.dtype == dtype:
        return v
    finish = getattr(acc, "finish", None)  # --acc support of smoothcli.core.accumulation
    return finish(v, dtype) if finish is not None else dtype.type(v)


def _finish(acc: Accumulation, v, dtype) -> float:
    return float(_round(acc, v, dtype))


# --- binary ------------------------------------------------------------------------------------

def binary_computed(s, t, k, method: str, acc: Accumulation, has_inf: bool = True
                    ) -> dict[str, Computed]:
    """Every binary metric of logits ``s`` (array of the dtype) and labels ``t`` (0/1, same
    dtype) scaled by ``k`` (a scalar of the dtype), by ``method``."""
    import numpy as np

    from smoothcli.methods.sigmoid import sigmoid_naive, sigmoid_stable

    dt = s.dtype
    one = dt.type(1)
    with np.errstate(all="ignore"):
        z = k * s
        if method == "naive":
            tr = sigmoid_naive(z)
            sig = tr.value
            comp = one - sig
        else:
            tr = sigmoid_stable(z)
            sig = tr.value
            comp = sigmoid_stable(-z).value  # 1 − σ(z) = σ(−z), no cancellation
        big = _any_big(z, has_inf) or _any_big(tr.exp, has_inf) or \
            _any_big(tr.steps.get("1 + e", z[:0]), has_inf)
        TP = acc.sum(sig * t)
        FP = acc.sum(sig * (one - t))
        FN = acc.sum(comp * t)
        Ssig = acc.sum(sig)
        St = acc.sum(t)
        w = TP.dtype.type  # the accumulation dtype (the target unless --acc is wider)
        n = w(len(s))
        accuracy = acc.sum((one - t) * comp + t * sig) / n
        if method == "naive":
            loss = w(1) - accuracy
            bce = -acc.sum(t * np.log(sig) + (one - t) * np.log(comp)) / n
        else:
            flipped = np.where(t == one, -z, z)  # σ((1 − 2t)·s): the probability of the wrong
            loss = acc.sum(sigmoid_stable(flipped).value) / n  # class, computed directly
            bce = acc.sum(np.maximum(z, dt.type(0)) - t * z + np.log1p(np.exp(-np.abs(z)))) / n
        values = {"tp": TP, "fp": FP, "fn": FN, "accuracy": accuracy, "accuracy_loss": loss,
                  "precision": TP / Ssig, "recall": TP / St, "f1": w(2) * TP / (St + Ssig),
                  "bce": bce}
    zero = {"precision": float(Ssig) == 0, "recall": False,
            "f1": float(St) + float(Ssig) == 0}
    out = {}
    for name, v in values.items():
        sums_big = _any_big(v, has_inf) and name not in ("bce",)
        out[name] = Computed(_finish(acc, v, dt), big or sums_big, zero.get(name, False))
    return out


def binary_reference(s: Sequence[float], t: Sequence[int], k: float) -> dict[str, Any]:
    """The exact metrics (mpfs) of logits ``s`` times ``k`` (exact products), labels ``t``;
    None for the undefined ones (recall with no positive label; F1 then only if Σσ = 0, never)."""
    import mpmath

    n = len(s)
    positives = sum(t)

    def at_prec():
        kv = to_mpf(k)
        tp, ssig, fn, acc, loss, bce = [], [], [], [], [], []
        for si, ti in zip(s, t):
            z = kv * to_mpf(si)  # exact: a product of two floats has at most 106 bits
            e = mpmath.exp(-abs(z))
            sp, sm = (1 / (1 + e), e / (1 + e)) if z >= 0 else (e / (1 + e), 1 / (1 + e))
            l1p = mpmath.log1p(e)
            ssig.append(sp)
            if ti:
                tp.append(sp)
                fn.append(sm)
                acc.append(sp)
                loss.append(sm)
                bce.append(max(-z, 0) + l1p)  # softplus(−z)
            else:
                acc.append(sm)
                loss.append(sp)
                bce.append(max(z, 0) + l1p)  # softplus(z)
        TP, S, FN = mpmath.fsum(tp), mpmath.fsum(ssig), mpmath.fsum(fn)
        # fp = Σσ(s)(1 − t) summed directly: S − TP would cancel when tp ≈ S.
        FP = mpmath.fsum(v for v, ti in zip(ssig, t) if not ti)
        return {"tp": TP, "fp": FP, "fn": FN,
                "accuracy": mpmath.fsum(acc) / n, "accuracy_loss": mpmath.fsum(loss) / n,
                "precision": TP / S, "recall": TP / positives if positives else None,
                "f1": 2 * TP / (positives + S), "bce": mpmath.fsum(bce) / n}

    names = list(BINARY_METRICS)
    defined = [m for m in names if not (m == "recall" and not positives)]
    got = converge(lambda: (lambda d: [d[m] for m in defined])(at_prec()))
    out: dict[str, Any] = dict.fromkeys(names)
    out.update(zip(defined, got))
    return out


def binary_hard(s: Sequence[float], t: Sequence[int]) -> dict[str, float | None]:
    """The metrics with the unit step H(s) in place of σ(s), exactly (None when undefined).

    H takes the values 0, ½ and 1, so every sum is a count of halves: the counts are exact
    integers (numpy, vectorised) and the ratios exact Fractions."""
    import numpy as np

    s = np.asarray(s, dtype=np.float64)
    pos = np.asarray(t, dtype=bool)
    n = s.size
    h2 = np.where(s > 0, 2, np.where(s == 0, 1, 0))  # 2·H(s), an integer
    tp = Fraction(int(h2[pos].sum()), 2)
    sh = Fraction(int(h2.sum()), 2)
    st = int(pos.sum())
    fp = sh - tp
    fn = Fraction(int((2 - h2[pos]).sum()), 2)
    acc = (tp + Fraction(int((2 - h2[~pos]).sum()), 2)) / n
    # bce with H: −log H for t = 1, −log(1 − H) for t = 0: 0 when right, log 2 at s = 0, inf when
    # wrong — the k → ∞ limit of bce(k·s) is +inf as soon as one sample is misclassified.
    p2 = np.where(pos, h2, 2 - h2)  # 2·(the probability given to the right class)
    bce = math.inf if (p2 == 0).any() else int((p2 == 1).sum()) * math.log(2) / n
    return {"tp": float(tp), "fp": float(fp), "fn": float(fn), "accuracy": float(acc),
            "accuracy_loss": float(1 - acc),
            "precision": float(tp / sh) if sh else None,
            "recall": float(tp / st) if st else None,
            "f1": float(2 * tp / (st + sh)) if st + sh else None, "bce": bce}


# --- multi-class -------------------------------------------------------------------------------

def multiclass_computed(x, y: Sequence[int], k, method: str, acc: Accumulation,
                        has_inf: bool = True) -> dict[str, Computed]:
    """accuracy, accuracy_loss and cross-entropy of logits ``x`` (n × C array of the dtype)
    scaled by ``k``, labels ``y`` (class indices), by ``method``; every sample's row at once
    (each row's sums by ``acc``'s rule, as a per-row loop would)."""
    import numpy as np

    dt = x.dtype
    rows = np.arange(x.shape[0])
    yi = np.asarray(y, dtype=np.int64)
    with np.errstate(all="ignore"):
        z = k * x
        big = _any_big(z, has_inf)
        if method == "naive":
            terms = np.exp(z)
            S = acc.sum(terms, axis=-1)
            p_y = _round(acc, terms[rows, yi].astype(S.dtype) / S, dt)
            ce_i = _round(acc, np.log(S) - z[rows, yi].astype(S.dtype), dt)
        else:
            kmax = np.argmax(z, axis=1)
            m = z[rows, kmax]
            m = np.where(np.isfinite(m), m, dt.type(0)).astype(dt)
            terms = np.exp(z - m[:, None])
            S = acc.sum(terms, axis=-1)
            p_y = _round(acc, terms[rows, yi].astype(S.dtype) / S, dt)
            others = terms.copy()
            others[rows, yi] = 0
            loss_i = _round(acc, acc.sum(others, axis=-1) / S, dt)
            tail = terms.copy()
            tail[rows, kmax] = 0
            ce_i = _round(acc, (m - z[rows, yi]).astype(S.dtype) +
                          np.log1p(acc.sum(tail, axis=-1)), dt)
        big = big or _any_big(terms, has_inf) or _any_big(S, has_inf)
        zero_den = bool((S.astype(np.float64) == 0).any())
        P = np.asarray(p_y, dtype=dt)
        A = acc.sum(P)
        n = A.dtype.type(len(yi))
        accuracy = A / n
        loss = A.dtype.type(1) - accuracy if method == "naive" else \
            acc.sum(np.asarray(loss_i, dtype=dt)) / n
        ce = acc.sum(np.asarray(ce_i, dtype=dt)) / n
    return {"accuracy": Computed(_finish(acc, accuracy, dt), big, zero_den),
            "accuracy_loss": Computed(_finish(acc, loss, dt), big, zero_den),
            "cross_entropy": Computed(_finish(acc, ce, dt), big, zero_den)}


def multiclass_reference(x: Sequence[Sequence[float]], y: Sequence[int], k: float
                         ) -> dict[str, Any]:
    """The exact accuracy, accuracy_loss and cross-entropy (mpfs) of k·x, labels y."""
    import mpmath

    n = len(x)

    def at_prec():
        kv = to_mpf(k)
        p_y, loss, ce = [], [], []
        for row, yi in zip(x, y):
            z = [kv * to_mpf(v) for v in row]  # exact products
            km = max(range(len(z)), key=lambda j: z[j])
            m = z[km]
            e = [mpmath.exp(v - m) for v in z]
            tail = mpmath.fsum(v for j, v in enumerate(e) if j != km)
            S = 1 + tail
            p_y.append(e[yi] / S)
            loss.append(mpmath.fsum(v for j, v in enumerate(e) if j != yi) / S)
            ce.append((m - z[yi]) + mpmath.log1p(tail))
        return [mpmath.fsum(p_y) / n, mpmath.fsum(loss) / n, mpmath.fsum(ce) / n]

    return dict(zip(MULTICLASS_METRICS, converge(at_prec)))


def multiclass_hard(x: Sequence[Sequence[float]], y: Sequence[int]) -> dict[str, float]:
    """Hard accuracy with a tie split evenly between the tied classes; CE of the hard
    prediction (inf as soon as one sample is wrong).  Exact: the accuracy is Σ 1/c_i over the
    right samples (c_i tied classes), summed as Fractions per distinct c."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    tied = x == x.max(axis=1, keepdims=True)
    counts = tied.sum(axis=1)
    right = tied[np.arange(n), np.asarray(y, dtype=np.int64)]
    cs, per = np.unique(counts[right], return_counts=True)
    acc = sum((Fraction(int(k), int(c)) for c, k in zip(cs, per)), Fraction(0)) / n
    ce = math.inf if not right.all() else \
        math.fsum(int(k) * math.log(int(c)) for c, k in zip(cs, per)) / n
    return {"accuracy": float(acc), "accuracy_loss": float(1 - acc), "cross_entropy": ce}
