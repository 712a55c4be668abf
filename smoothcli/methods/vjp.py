"""Gradients of the vector functions: ∇LSE, and the vector–Jacobian products of softmax,
log-softmax and the cross-entropy, each as autodiff computes it from a forward form ("naive")
and in a form without cancellation ("stable"), with an exact reference.

With p = softmax(x), a cotangent g and G = Σ g_j:

* ∇LSE(x) = p (the smooth hardmax);
* softmax: gᵀJ = p ⊙ (g − Σ_j g_j p_j).  Default g: the one-hot of the argmax, the gradient of
  the largest probability (Σ softmax = 1 has gradient 0).  ``naive`` is torch's and jax's
  softmax backward, y ⊙ (g − (g·y)) from the forward y = exp(x)/Σ exp(x).  The factor
  g_k − g·y cancels when y_k ≈ 1; ``stable`` uses Σ_j y_j = 1 to write it as
  Σ_j (g_i − g_j)·y_j, a sum with no cancellation for the default g (i = k: Σ_{j≠k} y_j;
  i ≠ k: −y_k);
* log-softmax: gᵀJ = g − p·G.  Default g: all ones, the gradient of Σ log-softmax.  ``naive`` is
  torch's log_softmax backward, g − exp(y)·G from the forward y = x − LSE(x) (shifted);
  ``stable`` writes g_i − p_i·G = (1/S)·Σ_j (g_i·e_j − g_j·e_i) with e_j − e_i formed as
  e_i·expm1(x_j − x_i) where g_i = g_j, so equal logits give exactly 0;
* cross-entropy with label y: p − onehot(y).  ``naive`` subtracts 1 from p_y (it cancels when
  p_y ≈ 1, a confident right prediction in bfloat16); ``stable`` computes the y entry as
  −Σ_{j≠y} p_j.

Special values (the conventions of docs/gradients.md): a NaN input or a row of −inf (a fully
masked row: softmax is 0/0) has no gradient; a +inf entry takes the limit x_k → +inf, where p is
the one-hot of the +inf entries (split evenly between several), which torch and jax do not
compute (they return NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from smoothcli.core.accumulation import Accumulation


@dataclass(frozen=True)
class VectorFunction:
    """One vector gradient: its methods, its exact reference and its default cotangent."""

    name: str  # the JSON function name
    title: str
    methods: dict[str, Callable[..., Any]]  # (x, acc, aux) -> methods.lse.Trace
    exact: Callable[[list, Any], list]  # (exact inputs, aux) -> [mpf, ...]
    aux: str  # "cotangent" | "label" | "none"
    forms: dict[str, str]


# --- the methods, in the dtype ---------------------------------------------------------------

def _softmax(x, acc: Accumulation, shifted: bool):
    from smoothcli.methods.lse import softmax_naive, softmax_shifted

    return (softmax_shifted if shifted else softmax_naive)(x, acc)


def _with(trace, value):
    from smoothcli.methods.lse import Trace

    return Trace(value, trace.terms, trace.sumexp, trace.shift)


def lse_grad(form: str):
    """∇LSE by the softmax form autodiff produces from that LSE form."""
    from smoothcli.methods.registry import SOFTMAX_METHODS

    fn = SOFTMAX_METHODS[form]
    return lambda x, acc, aux: fn(x, acc)


def _softmax_backward(shifted: bool):
    """torch's and jax's softmax backward, y ⊙ (g − g·y), on the naive or shifted forward y."""

    def vjp(x, acc: Accumulation, g):
        import numpy as np

        t = _softmax(x, acc, shifted)
        y = t.value
        with np.errstate(all="ignore"):
            dot = acc.finish(acc.sum(g * y), x.dtype)
            return _with(t, y * (g - dot))

    return vjp


softmax_vjp_naive = _softmax_backward(False)
softmax_vjp_shifted = _softmax_backward(True)


def softmax_vjp_stable(x, acc: Accumulation, g):
    """y_i · Σ_j (g_i − g_j)·y_j: no g_i − (g·y) cancellation (O(n²) work)."""
    import numpy as np

    t = _softmax(x, acc, True)
    y = t.value
    with np.errstate(all="ignore"):
        diff = g[:, None] - g[None, :]  # g_i − g_j, exact for a one-hot g
        inner = acc.sum(diff * y[None, :], axis=-1)
        return _with(t, y * acc.finish(inner, x.dtype))


def log_softmax_vjp_naive(x, acc: Accumulation, g):
    """torch's log_softmax backward: g − exp(y)·Σg, y = x − LSE(x) (shifted)."""
    import numpy as np

    from smoothcli.methods.lse import lse_shifted

    t = lse_shifted(x, acc)
    with np.errstate(all="ignore"):
        y = x - t.value
        G = acc.finish(acc.sum(g), x.dtype)
        return _with(t, g - np.exp(y) * G)


def log_softmax_vjp_stable(x, acc: Accumulation, g):
    """Σ_j (g_i·p_j − g_j·p_i), each term p_i·(g_i·expm1(x_j − x_i) + (g_i − g_j)) where the
    logits are close: equal logits with equal cotangents contribute exactly 0."""
    import numpy as np

    from smoothcli.methods.lse import softmax_shifted

    t = softmax_shifted(x, acc)
    p = t.value
    with np.errstate(all="ignore"):
        d = x[None, :] - x[:, None]  # x_j − x_i
        gi, gj = g[:, None], g[None, :]
        pi, pj = p[:, None], p[None, :]
        # near each other (|x_j − x_i| < 1) p_j − p_i cancels: p_i·expm1(x_j − x_i) does not;
        # farther apart the plain difference is exact enough and expm1 could overflow
        near = np.abs(d) < 1
        terms = np.where(near, pi * (gi * np.expm1(d) + (gi - gj)), gi * pj - gj * pi)
        return _with(t, acc.finish(acc.sum(terms.astype(x.dtype), axis=-1), x.dtype))


def cross_entropy_grad_naive(x, acc: Accumulation, label):
    """p − onehot(y): the frameworks' form, p_y − 1 by subtraction."""
    import numpy as np

    t = _softmax(x, acc, True)
    v = t.value.copy()
    with np.errstate(all="ignore"):
        v[label] = v[label] - x.dtype.type(1)
    return _with(t, v)


def cross_entropy_grad_stable(x, acc: Accumulation, label):
    """The label's entry as −Σ_{j≠y} p_j: no cancellation when p_y ≈ 1."""
    import numpy as np

    t = _softmax(x, acc, True)
    v = t.value.copy()
    others = v.copy()
    others[label] = 0
    with np.errstate(all="ignore"):
        v[label] = -acc.finish(acc.sum(others), x.dtype)
    return _with(t, v)


# --- exact references --------------------------------------------------------------------------

def _p_exact(values: list):
    """softmax at the working precision, with the +inf limit (one-hot of the +inf entries) and
    None where no value exists (a NaN, or every entry −inf)."""
    import mpmath

    from smoothcli.reference.exact import softmax_at_prec, to_mpf

    xs = [to_mpf(v) for v in values]
    if any(mpmath.isnan(x) for x in xs) or all(x == mpmath.ninf for x in xs):
        return None
    tops = [i for i, x in enumerate(xs) if x == mpmath.inf]
    if tops:
        share = mpmath.mpf(1) / len(tops)
        return [share if i in tops else mpmath.mpf(0) for i in range(len(xs))]
    return softmax_at_prec(values)


def _nan(n: int) -> list:
    import mpmath

    return [mpmath.mpf("nan")] * n


def _exact(values: list, of_p: Callable[[list], list]) -> list:
    """``of_p(p)`` at rising precision (Ziv's loop), p the exact softmax of ``values`` with its
    limits; NaN everywhere for a row that has no gradient."""
    from smoothcli.reference.exact import converge

    def at_prec():
        p = _p_exact(values)
        return _nan(len(values)) if p is None else of_p(p)

    return converge(at_prec)


def exact_lse_grad(values: list, aux: Any) -> list:
    return _exact(values, lambda p: p)


def exact_softmax_vjp(values: list, g: list) -> list:
    import mpmath

    # Σ_j (g_i − g_j) p_j: exact differences of the (exact) cotangent, no cancellation
    return _exact(values, lambda p: [
        p[i] * mpmath.fsum((mpmath.mpf(g[i]) - mpmath.mpf(g[j])) * p[j] for j in range(len(p)))
        for i in range(len(p))])


def exact_log_softmax_vjp(values: list, g: list) -> list:
    import mpmath

    from smoothcli.reference.exact import to_mpf

    def of_p(p: list) -> list:
        xs = [to_mpf(v) for v in values]
        G = mpmath.fsum(mpmath.mpf(v) for v in g)
        if any(x == mpmath.inf for x in xs):
            return [mpmath.mpf(g[i]) - p[i] * G for i in range(len(p))]
        out = []
        for i in range(len(p)):  # g_i − p_i·G = Σ_j (g_i p_j − g_j p_i), term by term
            terms = []
            for j in range(len(p)):
                if g[i] == g[j]:
                    if xs[i] == mpmath.ninf or xs[j] == mpmath.ninf:
                        terms.append(mpmath.mpf(g[i]) * (p[j] - p[i]))
                    else:  # p_j − p_i = p_i·expm1(x_j − x_i), no cancellation
                        terms.append(mpmath.mpf(g[i]) * p[i] * mpmath.expm1(xs[j] - xs[i]))
                else:
                    terms.append(mpmath.mpf(g[i]) * p[j] - mpmath.mpf(g[j]) * p[i])
            out.append(mpmath.fsum(terms))
        return out

    return _exact(values, of_p)


def exact_cross_entropy_grad(values: list, label: int) -> list:
    import mpmath

    def of_p(p: list) -> list:
        out = list(p)
        out[label] = -mpmath.fsum(v for j, v in enumerate(p) if j != label)
        return out

    return _exact(values, of_p)


VECTOR_FUNCTIONS: dict[str, VectorFunction] = {
    "lse_grad": VectorFunction(
        "lse_grad", "∇LSE(x) = softmax(x)",
        {"naive": lse_grad("naive"), "shifted": lse_grad("shifted"),
         "shifted-exp-lse": lse_grad("shifted-exp-lse"), "log1p": lse_grad("log1p"),
         "online": lse_grad("online")},
        exact_lse_grad, "none",
        {"naive": "exp(x)/Σ exp(x)", "shifted": "exp(x − m)/Σ exp(x − m)",
         "shifted-exp-lse": "exp(x − LSE(x)), torch's logsumexp backward",
         "log1p": "BHH Alg. 4.1", "online": "the online normaliser"}),
    "softmax_vjp": VectorFunction(
        "softmax_vjp", "gᵀ∂softmax(x) = p ⊙ (g − g·p)",
        {"naive": softmax_vjp_naive, "shifted": softmax_vjp_shifted,
         "stable": softmax_vjp_stable},
        exact_softmax_vjp, "cotangent",
        {"naive": "y ⊙ (g − g·y), y = exp(x)/Σ exp(x)",
         "shifted": "y ⊙ (g − g·y), y shifted (torch's and jax's backward)",
         "stable": "y_i·Σ_j (g_i − g_j)·y_j"}),
    "log_softmax_vjp": VectorFunction(
        "log_softmax_vjp", "gᵀ∂log_softmax(x) = g − p·Σg",
        {"naive": log_softmax_vjp_naive, "stable": log_softmax_vjp_stable},
        exact_log_softmax_vjp, "cotangent",
        {"naive": "g − exp(y)·Σg, y = x − LSE(x) (torch's backward)",
         "stable": "Σ_j (g_i·p_j − g_j·p_i) with p_j − p_i = p_i·expm1(x_j − x_i)"}),
    "cross_entropy_grad": VectorFunction(
        "cross_entropy_grad", "∇CE(x, y) = softmax(x) − onehot(y)",
        {"naive": cross_entropy_grad_naive, "stable": cross_entropy_grad_stable},
        exact_cross_entropy_grad, "label",
        {"naive": "p − onehot(y): p_y − 1 by subtraction",
         "stable": "p, and −Σ_{j≠y} p_j at the label"}),
}
