"""``smooth grad max X...``: the subgradient conventions of max(x) side by side, exactly.

max is differentiable wherever its maximum is unique (gradient: 1 at the argmax, 0 elsewhere);
at a tie it is not, and each library picks a convention.  The values are 0, 1 and 1/t (t tied
maxima), so there is no rounding question in the gradient itself; what the dtype decides is
*which* inputs tie: values distinct as typed can round to the same number (1000 and 1000.3 are
both 1000 in float16).  Per dtype, the inputs are rounded once, correctly, and every convention
is applied to the rounded values:

* ``first``: 1 to the first maximum — x[argmax(x)], torch.max(x, dim) (the index it returns);
  replacing x.max() by x[x.argmax()] is the workaround of jax#13600 (a NaN gradient of .max());
* ``split``: 1/t to each of the t tied maxima — torch.amax and torch.max(x) (evenly distributed),
  jnp.max, tf.reduce_max; the gradient sums to 1;
* ``all``: 1 to every tied maximum — a mask x == max(x) (onnxruntime's first Max/Min gradient,
  CNTK's reduce_max); the gradient sums to t.  onnxruntime PR #7217 moved to a total of 1 after
  this convention made float16 training diverge;
* ``argmax``: the hard argmax / hardmax (a one-hot vector) is piecewise constant: its Jacobian
  is 0 wherever the maximum is unique and does not exist at a tie (it jumps there).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

from smoothcli.core.errors import InputError
from smoothcli.core.numbers import Number
from smoothcli.report.model import Column, Report, Section

CONVENTIONS = {
    "first": "x[argmax(x)], torch.max(x, dim): 1 to the first maximum (the jax#13600 workaround)",
    "split": "torch.amax, torch.max(x), jnp.max, tf.reduce_max: 1/t to each of t tied maxima",
    "all": "a mask x == max(x) (onnxruntime before PR #7217, CNTK reduce_max): 1 to every tie",
    "argmax": "argmax / hardmax (one-hot): Jacobian 0 where the maximum is unique, none at a tie",
}


def _fraction_text(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def gradient(xs: Sequence[float], convention: str) -> list[Fraction] | None:
    """The gradient of max at ``xs`` (values of one dtype) under ``convention``, exactly; None
    where it has no value (argmax at a tie)."""
    top = max(xs)
    ties = [i for i, v in enumerate(xs) if v == top]
    n, t = len(xs), len(ties)
    if convention == "first":
        return [Fraction(1 if i == ties[0] else 0) for i in range(n)]
    if convention == "split":
        return [Fraction(1, t) if i in ties else Fraction(0) for i in range(n)]
    if convention == "all":
        return [Fraction(1 if i in ties else 0) for i in range(n)]
    if convention == "argmax":
        return None if t > 1 else [Fraction(0)] * n
    raise KeyError(convention)


def _verdict(convention: str, ties: list, dtype: str) -> tuple[str, str | None, str | None]:
    """The status of a convention's gradient at these inputs: a subgradient of max (the
    gradients of max are the convex combinations of the tied maxima's one-hots) is ok; 1 to
    every tie is not one (its entries sum to t); argmax has no gradient at a tie."""
    t = len(ties)
    if t == 1 or convention in ("first", "split"):
        return "ok", None, None
    if convention == "all":
        return ("inaccurate",
                f"{t} tied maxima in {dtype} each get 1: the entries sum to {t}, so this is no "
                "subgradient of max and the update is {t} times too large (onnxruntime PR "
                "#7217: float16 training diverged)".replace("{t}", str(t)),
                "use --method split (torch.amax, jnp.max: 1/t each) or --method first "
                "(x[argmax(x)]): both are subgradients (their entries sum to 1, as shown)")
    return ("undefined", f"argmax jumps at a tie of {t} maxima in {dtype}: it has no gradient "
            "there (away from ties it is 0)", "no convention can give argmax a gradient at a "
            "tie; differentiate max or a smooth stand-in (softmax) instead")


def grad_max_report(numbers: Sequence[Number], ks: Any, dtypes: Any, methods: Any) -> Report:
    """Every convention (``methods``: a subset) in every dtype for the vector ``numbers``."""
    import math

    from smoothcli.core.formats import resolve_dtypes
    from smoothcli.core.rounding import round_number
    from smoothcli.methods.registry import resolve_methods

    if ks:
        raise InputError("--k applies to grad abs (the sharpness of f_k), not to grad max")
    if not numbers:
        raise InputError("grad max needs at least one value")
    conventions = resolve_methods(methods, CONVENTIONS) if methods else list(CONVENTIONS)
    formats = resolve_dtypes(dtypes)
    rows, table = [], []
    for fmt in formats:
        xs = [round_number(x, fmt) for x in numbers]
        if any(math.isnan(v) for v in xs):
            raise InputError(f"grad max needs numbers, not NaN (in {fmt.name}: "
                             f"{', '.join(x.text for x in numbers)})")
        top = max(xs)
        ties = [i for i, v in enumerate(xs) if v == top]
        for c in conventions:
            g = gradient(xs, c)
            exact = None if g is None else [_fraction_text(q) for q in g]
            status, reason, advice = _verdict(c, ties, fmt.name)
            rows.append({
                "function": "max", "dtype": fmt.name, "convention": c,
                "used_by": CONVENTIONS[c], "input": [x.text for x in numbers], "x": xs,
                "max": top, "ties": ties,
                "gradient": None if g is None else [float(q) for q in g],
                "gradient_exact": exact,
                "gradient_sum": None if g is None else _fraction_text(sum(g, Fraction(0))),
                "differentiable": len(ties) == 1,
                "status": status, "reason": reason, "advice": advice})
            table.append({
                "dtype": fmt.name, "x": xs, "ties": ", ".join(map(str, ties)),
                "convention": c,
                "gradient": "none (a jump)" if g is None else "[" + ", ".join(exact) + "]",
                "sum": "" if g is None else rows[-1]["gradient_sum"], "status": status,
                "_digits": fmt.max_digits10})
    cols = [Column("dtype", "dtype"), Column("x", "x in the dtype", "vector"),
            Column("ties", "max at"), Column("convention", "convention"),
            Column("gradient", "∂max/∂x"), Column("sum", "Σ"), Column("status", "status", "status")]
    from smoothcli.report.family import WRAP

    report = Report("grad", rows)
    report.wrap = WRAP
    report.extra = {"function": "max", "input": [x.text for x in numbers],
                    "conventions": {c: CONVENTIONS[c] for c in conventions}}
    verdicts = [f"{r['dtype']} {r['convention']}: {r['status']} — {r['reason']}\n"
                 f"  advice: {r['advice']}" for r in rows if r["status"] != "ok"]
    report.sections = [Section("the gradient of max(x) under each convention", cols, table,
                               "\n".join(["exact values: 0, 1 and 1/t for t tied maxima; which "
                                          "inputs tie is decided by their rounding to the "
                                          "dtype", *verdicts]))]
    report.check = lambda max_ulp: [f"{r['dtype']} {r['convention']}: {r['status']} — "
                                    f"{r['reason']}" for r in rows if r["status"] != "ok"]
    report.notes = [f"{c}: {CONVENTIONS[c]}" for c in conventions] + [
        "max(x) is differentiable where its maximum is unique; at a tie every convention is a "
        "choice of subgradient (or none)",
        "jax#13600: the gradient of f(x).max() was NaN everywhere while f(x)[f(x).argmax()] "
        "(first) was right",
        "onnxruntime PR #7217: with 1 to every tie (all) float16 training diverged; first and "
        "split (a total of 1) trained fine"]
    return report
