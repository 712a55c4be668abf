"""``smooth grad FUNCTION X...``: the derivative of a smooth function as autodiff computes it
from each forward form (naive, stable, ...), in every dtype, against the exact derivative.

The derivatives are pointwise functions of the one engine (:mod:`smoothcli.methods.gradients`):
one row of the row model per (x, dtype, method[, k]) with status, reason and verified advice, so
``--json``, ``--check``, ``--max-ulp`` and ``--full`` work as for ``smooth sigmoid``.
"""

from __future__ import annotations

from typing import Sequence

from smoothcli.commands._common import Settings
from smoothcli.core.errors import InputError
from smoothcli.core.numbers import Number
from smoothcli.report.model import Report

#: FUNCTION as typed -> the pointwise derivative evaluated.
FUNCTIONS = {"sigmoid": "sigmoid_grad", "softplus": "softplus_grad",
             "log-sigmoid": "log_sigmoid_grad", "abs": "smooth_abs_grad"}
ALIASES = {"log_sigmoid": "log-sigmoid", "logsigmoid": "log-sigmoid", "sigma": "sigmoid",
           "log_softmax": "log-softmax", "cross_entropy": "cross-entropy", "ce": "cross-entropy",
           "logsumexp": "lse"}
#: The vector gradients (smoothcli.methods.vjp): FUNCTION as typed -> the function evaluated.
VECTOR = {"lse": "lse_grad", "softmax": "softmax_vjp", "log-softmax": "log_softmax_vjp",
          "cross-entropy": "cross_entropy_grad"}
#: Exact, no rounding question: handled by :mod:`smoothcli.commands.grad_max`.
SUBGRADIENTS = ("max",)


def resolve(function: str) -> str:
    """The FUNCTION argument's canonical name (sigmoid, softplus, log-sigmoid, abs, max)."""
    key = function.strip().lower()
    key = ALIASES.get(key, key)
    if key in FUNCTIONS or key in SUBGRADIENTS or key in VECTOR:
        return key
    raise InputError(f"unknown function {function!r} for grad (choose from "
                     f"{', '.join([*VECTOR, *FUNCTIONS, *SUBGRADIENTS])})")


def methods_of(function: str) -> dict:
    """The methods of FUNCTION's derivative (for ``--method``)."""
    from smoothcli.methods.pointwise import pointwise

    if function in VECTOR:
        from smoothcli.methods.vjp import VECTOR_FUNCTIONS

        return VECTOR_FUNCTIONS[VECTOR[function]].methods
    return pointwise(FUNCTIONS[function]).methods


#: The methods shown without --method.
DEFAULT_METHODS = {"lse": ["naive", "shifted", "shifted-exp-lse"],
                   "softmax": ["naive", "shifted", "stable"],
                   "log-softmax": ["naive", "stable"], "cross-entropy": ["naive", "stable"]}


def vector_grad_report(function: str, data, ks: Sequence[Number] | None,
                       cotangent: Sequence[Number] | None, label: int | None,
                       settings: Settings, full: bool = False) -> Report:
    """The gradient of a vector function (∇LSE; the vector–Jacobian products of softmax and
    log-softmax with a cotangent; the cross-entropy's gradient at a label) for every row and
    (dtype, method), as rows of the one engine (:mod:`smoothcli.methods.vjp`)."""
    from smoothcli.engine.evaluate import Plan, Transform, evaluate
    from smoothcli.engine.sources import as_batch
    from smoothcli.methods.vjp import VECTOR_FUNCTIONS
    from smoothcli.report.family import build

    kind = VECTOR[function]
    spec = VECTOR_FUNCTIONS[kind]
    if ks and function != "lse":
        raise InputError(f"--k applies to grad lse (the smooth max) and grad abs, not to grad "
                         f"{function}")
    if cotangent is not None and spec.aux != "cotangent":
        raise InputError(f"--cotangent applies to grad softmax and grad log-softmax, not to "
                         f"grad {function}")
    if (label is not None) != (spec.aux == "label"):
        raise InputError("grad cross-entropy needs --label (the index of the right class)"
                         if label is None else
                         f"--label applies to grad cross-entropy, not to grad {function}")
    aux = list(cotangent) if cotangent is not None else label
    if cotangent is not None and any(t.exact is None for t in cotangent):
        raise InputError("--cotangent needs finite values")
    plan = Plan(kind, list(settings.dtypes), list(settings.methods), settings.accumulation,
                list(settings.peers), [Transform("scale", k) for k in ks or []], elements=True,
                aux=aux)
    ev = evaluate(plan, as_batch(data))
    extra = {"function": function, "derivative": kind,
             "cotangent": None if cotangent is None else [float(t.exact) for t in cotangent],
             "label": label}
    report = build("grad", ev, settings, False, None, full=full, extra=extra)
    report.notes[:0] = NOTES[function]
    return report


#: Per function: the notes that say what each method computes and which conventions it takes.
NOTES = {
    "softmax": [
        "the vector–Jacobian product gᵀ∂softmax(x) = p ⊙ (g − g·p); without --cotangent g is the "
        "one-hot of the argmax: the gradient of the largest probability (Σ softmax = 1 has "
        "gradient 0)",
        "naive and shifted: y ⊙ (g − g·y) as torch's and jax's softmax backward compute it; it "
        "cancels when the largest probability is close to 1 (g_k − g·y = 1 − y_k)",
        "stable: y_i·Σ_j (g_i − g_j)·y_j, with no such cancellation (n² work)",
        "a +inf entry: the limit is the one-hot of the +inf entries (p ⊙ (g − g·p) = 0 there); "
        "torch and jax return NaN; a row of -inf has no gradient"],
    "log-softmax": [
        "the vector–Jacobian product gᵀ∂log_softmax(x) = g − p·Σg; without --cotangent g is all "
        "ones: the gradient of Σ log-softmax",
        "naive: g − exp(y)·Σg from y = x − LSE(x), torch's log_softmax backward: with g = 1 it "
        "cancels (1 − n·p_i), and is not 0 for equal logits",
        "stable: Σ_j (g_i·p_j − g_j·p_i) with p_j − p_i = p_i·expm1(x_j − x_i) for close logits",
        "a +inf entry: the limit g − onehot(+inf)·Σg; a row of -inf has no gradient"],
    "cross-entropy": [
        "∇CE(x, y) = softmax(x) − onehot(y) at the label y (--label, 0-based)",
        "naive: p − onehot(y), p_y − 1 by subtraction, as frameworks compute it: it cancels when "
        "the prediction is confidently right (p_y ≈ 1), e.g. in bfloat16",
        "stable: the label's entry as −Σ_{j≠y} p_j",
        "a +inf entry: the limit onehot(+inf) − onehot(y); a row of -inf has no gradient "
        "(flash-attention#1930: all -inf but one logit still has one)"],
    "lse": [
        "∇LSE(x) = softmax(x): the gradient of the smooth max is the smooth hardmax; with --k, "
        "∇(1/k)·LSE(k·x) = softmax(k·x), which tends to the split-ties subgradient of max as "
        "k → ∞ (smooth grad max shows the conventions)",
        "naive and the other methods are the softmax forms autodiff produces from each LSE form "
        "(torch's logsumexp backward is exp(x − LSE(x)): the exp-lse forms)",
        "a row of −inf (a fully masked row) has no gradient: softmax is 0/0 there; torch and "
        "jax return NaN (pytorch#31829, jax#6811), and masking with where afterwards does not "
        "remove it (jax#23842)"],
    "sigmoid": [
        "σ′(x) = σ(x)·(1 − σ(x)) = σ(x)·σ(−x); H′(x) = 0 away from 0 and has no value at 0",
        "naive: σ·(1 − σ) from σ = 1/(1 + e^(−x)), what torch's and jax's sigmoid backward "
        "compute from the forward σ: once σ(x) rounds to 1, 1 − σ = 0 (float64: x > 36.7; "
        "jax#40385: σ′(37.43) = 0 in float64, exactly 5.5e-17)",
        "stable: σ(x)·σ(−x) with each σ by the sign branch, so the small factor is "
        "e^(−|x|)/(1 + e^(−|x|)), never 1 − (something ≈ 1)"],
    "softplus": [
        "softplus′(x) = σ(x), the smooth step; the hard max(x, 0) has derivative H(x)",
        "naive: autograd of log(1 + e^x) is (1/(1 + e^x))·e^x, and e^x = inf makes it "
        "0·inf = NaN (float32: x > 88.72)",
        "stable: autograd of max(x, 0) + log1p(e^(−|x|)) is H(x) − sign(x)·e^(−|x|)/(1 + "
        "e^(−|x|)); at x = 0 it depends on the subgradient conventions: ½ with max's tie "
        "split (torch.maximum, jnp.maximum: ½) and torch's abs′(0) = 0 (shown here); 0 with "
        "relu′(0) = 0 or with jax's abs′(0) = +1; −½ with jax.nn.relu and jax's abs"],
    "log-sigmoid": [
        "(log σ)′(x) = σ(−x) = 1 − σ(x); the hard min(x, 0) has derivative 1 − H(x)",
        "naive: autograd of log(1/(1 + e^(−x))) is −((1/σ)·(−σ²))·e^(−x): σ² underflows to 0 "
        "for very negative x (float64: x < −372.6) and the gradient is 0; past the overflow of "
        "e^(−x) it is inf·0 = NaN",
        "stable: autograd of min(x, 0) − log1p(e^(−|x|)) is 1 − H(x) + sign(x)·e^(−|x|)/(1 + "
        "e^(−|x|)), with the conventions of softplus (½ at 0)"],
    "abs": [
        "f_k′(x) = tanh(kx/2) for f_k(x) = (2/k)·log cosh(kx/2) (smooth abs); |x|′ = sign(x)",
        "naive: autograd of (2/k)·log(1 + e^(kx)) − x − (2/k)·log 2 is 2e^(kx)/(1 + e^(kx)) − 1 "
        "(as ((2/k)/(1 + e^(kx)))·e^(kx)·k − 1): it cancels near 0 and is 0·inf = NaN once "
        "e^(kx) overflows",
        "cosh: autograd of (2/k)·log cosh(kx/2) is sinh/cosh: 0·inf = NaN once cosh overflows",
        "tanh: numpy's tanh(kx/2); stable: sign(x)·(−expm1(−k|x|))/(2 + expm1(−k|x|))"],
}

#: The compact view's pointer to the full tables.
FULL_HINT = "--full: every column (abs / rel error, the computed exponential, the flags); " \
            "--json: every field"


def grad_report(function: str, numbers, ks: Sequence[Number] | None,
                settings: Settings, full: bool = False) -> Report:
    """The derivative of ``function`` (sigmoid, softplus, log-sigmoid, abs) at every x, for
    every (dtype, method[, k])."""
    from smoothcli.engine.evaluate import Plan, Transform, evaluate
    from smoothcli.engine.sources import as_batch
    from smoothcli.methods.pointwise import pointwise
    from smoothcli.report.pointwise import Part, build

    kind = FUNCTIONS[function]
    spec = pointwise(kind)
    transforms = []
    if spec.param:
        from smoothcli.core.numbers import parse_number

        ks = list(ks or [parse_number("1")])
        transforms = [Transform("k", k) for k in ks]
    elif ks:
        raise InputError(f"--k applies to grad abs (the sharpness of f_k), not to grad "
                         f"{function}")
    ev = evaluate(Plan(kind, list(settings.dtypes), list(settings.methods),
                       peers=list(settings.peers), transforms=transforms), as_batch(numbers))
    title = f"{spec.title}  vs  {spec.hard_name}"
    extra = {"function": function, "derivative": kind}
    if spec.param:
        extra["k"] = [float(k.exact) for k in ks]
    report = build("grad", [Part(ev, title=title)], settings, NOTES[function], extra, full)
    if not full:
        last = report.sections[-1]
        last.caption = "\n".join(filter(None, [last.caption, FULL_HINT]))
    return report
