"""Candidate fixes for a row that is not ok, evaluated on the same inputs by the same engine.

For a (dtype, method[, T or k]) series and one of its rows, the candidates are tried in this
order, and the first one the caller's judge finds ok is the advice:

1. the other methods in the same dtype (shifted first: the usual fix; then log1p, online, ...);
2. ``--acc float32`` for dtypes narrower than float32 (the same method first), as GPU kernels
   accumulate;
3. the next wider dtype (float16/bfloat16/float8 → float32, float32 → float64), the same method
   first.

Every candidate of one (dtype, accumulation) is evaluated in one :func:`evaluate` call (one
reference for all the methods) on a batch of that single row; calls are cached on the
evaluation, so a dtype's candidates run once however many of its series need advice.
Nothing here writes a sentence: the labels are the command-line options that select a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

#: Preferred order of the methods tried as fixes.
ORDER = {"lse": ("shifted", "log1p", "online", "naive"),
         "softmax": ("shifted", "log1p", "online", "shifted-exp-lse", "log1p-exp-lse",
                     "online-exp-lse", "naive", "exp-lse")}
WIDER = {"float16": "float32", "bfloat16": "float32", "float8_e4m3fn": "float32",
         "float8_e5m2": "float32", "float32": "float64"}


@dataclass
class Candidate:
    label: str  # the options that select it: "--method log1p", "--acc float32", ...
    dtype: str
    method: str
    acc: str | None
    series: Any  # its Series (one row)


def one_point(ev: Any, q: int) -> Any:
    """Point ``q`` of a pointwise evaluation as a batch of its own: one element (arity 1) or
    one row, keeping its exact value."""
    from dataclasses import replace

    from smoothcli.engine.evaluate import point_location

    i, j = point_location(ev.plan, ev.batch, q)
    b = ev.batch
    if j is None:
        return one_row(b, i)
    fixes = {(0, 0): v for (r, c), v in b.exact_fixes.items() if (r, c) == (i, j)}
    numbers = [b.numbers[j]] if b.numbers is not None and i == 0 else None
    return replace(b, data=b.data[i:i + 1, j:j + 1], exact_fixes=fixes, numbers=numbers,
                   shape=(1,))


def one_row(batch: Any, i: int) -> Any:
    """Row ``i`` of ``batch`` as a batch of its own (decimal rows keep their exact values)."""
    if batch.rows == 1:
        return batch
    from dataclasses import replace

    fixes = {(0, j): q for (r, j), q in batch.exact_fixes.items() if r == i}
    return replace(batch, data=batch.data[i:i + 1], exact_fixes=fixes, numbers=None)


def _methods(kind: str, own: str) -> list[str]:
    """The methods to try in place of ``own``, in the order advice prefers them."""
    available, order = _candidates(kind)
    return ([own] if own in available else []) + [m for m in order if m != own]


def _candidates(kind: str) -> tuple[Any, list[str]]:
    """(the methods of function ``kind``, those advice tries, best first)."""
    from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS

    if kind in ("lse", "softmax"):  # (the other families' modules are not imported for them)
        available = SOFTMAX_METHODS if kind == "softmax" else LSE_METHODS
        return available, [m for m in ORDER[kind] if m in available]
    from smoothcli.methods.pointwise import is_pointwise, pointwise

    if is_pointwise(kind):
        spec = pointwise(kind)
        return spec.methods, [*spec.advice_order,
                              *(m for m in spec.methods if m not in spec.advice_order)]
    if _vector(kind):
        from smoothcli.methods.vjp import VECTOR_FUNCTIONS

        available = VECTOR_FUNCTIONS[kind].methods
        return available, [m for m in ("stable", "shifted", "shifted-exp-lse", "log1p",
                                       "online", "naive") if m in available]
    if kind == "metrics":
        from smoothcli.methods.metrics import METHOD_NAMES

        return dict.fromkeys(METHOD_NAMES), ["stable",
                                             *(m for m in METHOD_NAMES if m != "stable")]
    raise ValueError(f"no advice for {kind!r}")


def _vector(kind: str) -> bool:
    from smoothcli.methods.vjp import VECTOR_FUNCTIONS

    return kind in VECTOR_FUNCTIONS


def _run(ev: Any, s: Any, i: int, dtype: str, acc: str | None, methods: list[str]) -> Any:
    from smoothcli.core.accumulation import Accumulation
    from smoothcli.core.formats import FORMATS
    from smoothcli.engine.evaluate import Plan, evaluate

    cache = ev.__dict__.setdefault("_advice_runs", {})
    t = s.transform
    key = (i, dtype, acc, None if t is None else (t.name, t.text), tuple(methods))
    if key not in cache:
        plan = Plan(ev.plan.kind, [FORMATS[dtype]], methods,
                    Accumulation(ev.plan.acc.order, acc), [],
                    [t] if t is not None else [], keep_plain=t is None, aux=ev.plan.aux)
        batch = one_point(ev, i) if ev.pointwise else one_row(ev.batch, i)
        cache[key] = evaluate(plan, batch, progress=False)
    return cache[key]


def first_ok(ev: Any, s: Any, i: int, is_ok: Callable[[Any, Any], bool]
             ) -> tuple[Candidate | None, list[Candidate]]:
    """The first candidate fix of row ``i`` of series ``s`` that ``is_ok(evaluation, series)``
    accepts, and every candidate tried."""
    from smoothcli.core.formats import FORMATS, is_wider

    kind = ev.plan.kind
    own_acc = ev.plan.acc.acc
    methods = _methods(kind, s.method)
    tried: list[Candidate] = []
    steps: list[tuple[str, str | None, list[str], bool]] = []
    steps.append((s.dtype, own_acc, [m for m in methods if m != s.method], False))
    f32 = FORMATS["float32"]
    if own_acc != "float32" and is_wider(f32, s.format) and not ev.pointwise:  # no sums
        steps.append((s.dtype, "float32", methods, True))
    wider = WIDER.get(s.dtype)
    if wider is not None:
        steps.append((wider, own_acc if own_acc == "float64" else None, methods, True))
    for dtype, acc, ms, flagged in steps:
        if not ms:
            continue
        ev2 = _run(ev, s, i, dtype, acc, ms)
        for m in ms:
            s2 = next((x for x in ev2.series if x.method == m and x.function == s.function),
                      None)
            if s2 is None:
                continue
            parts = []
            if dtype != s.dtype:
                parts.append(f"--dtype {dtype}")
            if acc != own_acc and acc is not None:
                parts.append(f"--acc {acc}")
            if m != s.method or not parts:
                parts.append(f"--method {m}")
            c = Candidate(" ".join(parts), dtype, m, acc, s2)
            tried.append(c)
            if is_ok(ev2, s2):
                return c, tried
    return None, tried
