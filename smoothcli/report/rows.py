"""The one row model of the LSE family, its summary, and what ``--check`` fails on.

A row is one (input row, dtype, method[, temperature or k]) evaluation.  Its keys are the same
for every function of the family and every input size (docs/json.md lists them): scalar-valued
functions (LSE, the smooth max) give scalars in ``value``, ``reference`` and
``reference_decimal`` and null element arrays; vector-valued ones (softmax) give arrays there and
in ``abs_errors``, ``rel_errors``, ``ulp_errors`` and ``element_bits``, with the worst element in
the scalar errors.  A batch of R rows gives R rows per (dtype, method), and a separate summary per
(dtype, method): counts of rows by flag, the worst and the median ULP error.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

#: Every key of a row, in order (docs/json.md).
ROW_KEYS = (
    "row", "dtype", "method", "function", "temperature", "k", "input", "x", "hard",
    "value", "reference", "reference_decimal", "reference_typed",
    "abs_error", "rel_error", "ulp_error", "bits",
    "abs_errors", "rel_errors", "ulp_errors", "element_bits",
    "overflow", "underflow", "nan", "flushed_terms", "sumexp", "exp", "output_sum", "sum_error",
    "inputs_changed", "inputs_overflowed", "max", "argmax", "ties", "gap", "upper", "inside",
    "bound", "error_u", "exceeds_bound", "bound_rule",
    "accumulation", "acc_dtype", "peer", "status", "reason", "advice")

#: Every key of a summary entry.
SUMMARY_KEYS = (
    "dtype", "method", "function", "temperature", "k", "rows", "overflow_rows",
    "underflow_rows", "nan_rows", "outside_rows", "worst_row", "ulp_error", "median_ulp_error",
    "bits", "flushed_terms", "status_rows")

FLAGS = ("overflow", "underflow", "nan")  # facts of a row; its status is judged from its result


def function_name(kind: str, series: Any) -> str:
    """The row's ``function``: the series' own (smooth_max for LSE at a k), else the plan's."""
    return getattr(series, "function", "") or kind


def where(series: Any) -> str:
    """How a (dtype, method[, T or k]) is named in messages: 'float16 naive T=0.5'."""
    text = f"{series.dtype} {series.method}"
    if series.transform is not None:
        tag = "T" if series.transform.name == "temperature" else "k"
        text += f" {tag}={series.param:g}"
    return text


def point_input(ev: Any, q: int) -> str:
    """Point ``q`` of a pointwise evaluation as given: the typed token ("37.43"), the value
    read from a file, or the pair "(x, y)"."""
    from smoothcli.engine.evaluate import point_location
    from smoothcli.report.model import number_text

    i, j = point_location(ev.plan, ev.batch, q)
    b = ev.batch
    if j is None:
        if b.numbers is not None and i == 0:
            return "(" + ", ".join(x.text for x in b.numbers) + ")"
        return "(" + ", ".join(number_text(x) for x in b.data[i]) + ")"
    if b.numbers is not None and i == 0:
        return b.numbers[j].text
    return number_text(b.data[i][j])


def _opt(v: Any) -> Any:
    """A float array entry as a float, or None where it does not apply (NaN)."""
    v = float(v)
    return None if math.isnan(v) else v


def _num(v: Any) -> Any:
    """A numpy scalar as a Python number (ints stay ints; -1 marks "none" in int arrays)."""
    if hasattr(v, "item"):
        v = v.item()
    return v


def row_dict(ev: Any, s: Any, i: int, typed: Any = None, bounds: Any = None,
             verdicts: Any = None) -> dict:
    """Row ``i`` of series ``s`` in the row model (JSON-ready apart from non-finite floats).
    ``verdicts``: the :class:`~smoothcli.report.verdict.Verdicts` of ``ev`` (made if not given)."""
    if verdicts is None:
        from smoothcli.report.verdict import Verdicts

        verdicts = Verdicts(ev)
    a = s.arrays
    el = s.elements[i] if s.elements is not None else None
    vector = s.vector
    t = s.transform

    def arr(key: str):
        if not vector:
            return None
        return el[key].tolist() if el is not None else None

    argmax = int(a["argmax"][i])
    d: dict[str, Any] = {
        "row": i, "dtype": s.dtype, "method": s.method,
        "function": function_name(ev.plan.kind, s),
        "temperature": s.param if t is not None and t.name == "temperature" else None,
        "k": s.param if t is not None and t.name in ("k", "scale") else None,
        "input": point_input(ev, i) if s.extras is not None else None,
        "x": _opt(a["x"][i]), "hard": _opt(a["hard"][i]),
        "value": arr("value") if vector else float(a["value"][i]),
        "reference": arr("reference") if vector else float(a["reference"][i]),
        "reference_decimal": (el["reference_decimal"] if vector and el is not None else
                              None if vector else s.reference_decimal[i]),
        "reference_typed": typed,
        "abs_error": float(a["abs_error"][i]), "rel_error": float(a["rel_error"][i]),
        "ulp_error": float(a["ulp_error"][i]), "bits": float(a["bits"][i]),
        "abs_errors": arr("abs_errors"), "rel_errors": arr("rel_errors"),
        "ulp_errors": arr("ulp_errors"), "element_bits": arr("element_bits"),
        "overflow": bool(a["overflow"][i]), "underflow": bool(a["underflow"][i]),
        "nan": bool(a["nan"][i]), "flushed_terms": int(a["flushed_terms"][i]),
        "sumexp": float(a["sumexp"][i]), "exp": float(a["exp"][i])
        if s.extras is not None and s.peer is None else None,
        "output_sum": float(a["output_sum"][i]) if vector else None,
        "sum_error": float(a["sum_error"][i]) if vector else None,
        "inputs_changed": int(a["changed_inputs"][i]),
        "inputs_overflowed": bool(a["inputs_overflowed"][i]),
        "max": None if math.isnan(a["max"][i]) else float(a["max"][i]),
        "argmax": None if argmax < 0 else argmax,
        "ties": None if argmax < 0 else int(a["ties"][i]),
        "gap": None, "upper": None, "inside": None,
        "bound": float(a["bound"][i]), "error_u": float(a["error_u"][i]),
        "exceeds_bound": bool(a["exceeds_bound"][i]), "bound_rule": s.bound_rule[i],
        "accumulation": accumulation_text(s) if s.extras is None or s.peer else None,
        "acc_dtype": s.acc_dtype if s.extras is None else None,
        "peer": peer_text(s),
        "status": verdicts.status(s, i), "reason": verdicts.reason(s, i),
        "advice": verdicts.advice(s, i)}
    if bounds is not None:
        d["gap"], d["upper"], d["inside"] = bounds
    return d


def iter_rows(ev: Any, typed: dict | None = None, bounds: dict | None = None,
              verdicts: Any = None) -> Iterator[dict]:
    """Every row of an evaluation, row by row, then by dtype and method (lazily: a batch of
    262,144 rows is never held as row objects)."""
    if verdicts is None:
        from smoothcli.report.verdict import Verdicts

        verdicts = Verdicts(ev)
    for i in range(ev.rows):
        for s in ev.series:
            yield row_dict(ev, s, i, (typed or {}).get((i, s.dtype)),
                           (bounds or {}).get((i, id(s))), verdicts)


class Rows:
    """The rows of a report, produced when iterated (for ``--json``)."""

    def __init__(self, ev: Any, typed: dict | None = None, bounds: dict | None = None,
                 verdicts: Any = None):
        self.ev, self.typed, self.bounds, self.verdicts = ev, typed, bounds, verdicts

    def __iter__(self) -> Iterator[dict]:
        return iter_rows(self.ev, self.typed, self.bounds, self.verdicts)

    def __len__(self) -> int:
        return self.ev.rows * len(self.ev.series)


def summary(ev: Any, outside: dict | None = None, verdicts: Any = None) -> list[dict]:
    """One entry per series (docs/json.md): counts over the rows, worst and median ULP error
    (rows with a NaN result are counted, not ranked), rows per status (``status_rows``)."""
    import numpy as np

    if verdicts is None:
        from smoothcli.report.verdict import Verdicts

        verdicts = Verdicts(ev, advise=False)

    out = []
    for s in ev.series:
        a = s.arrays
        ulp = np.where(a["nan"], np.nan, a["ulp_error"])
        ranked = ~np.isnan(ulp)
        bits = a["bits"]
        t = s.transform
        entry = {
            "dtype": s.dtype, "method": s.method, "function": function_name(ev.plan.kind, s),
            "temperature": s.param if t is not None and t.name == "temperature" else None,
            "k": s.param if t is not None and t.name in ("k", "scale") else None,
            "rows": s.rows,
            "overflow_rows": int(a["overflow"].sum()), "underflow_rows": int(a["underflow"].sum()),
            "nan_rows": int(a["nan"].sum()),
            "outside_rows": None if outside is None else int(outside.get(id(s), 0)),
            "worst_row": int(np.nanargmax(ulp)) if ranked.any() else None,
            "ulp_error": float(np.nanmax(ulp)) if ranked.any() else math.nan,
            "median_ulp_error": _median(ulp[ranked]) if ranked.any() else math.nan,
            "bits": float(np.nanmax(bits)) if (~np.isnan(bits)).any() else math.nan,
            "flushed_terms": int(a["flushed_terms"].sum()),
            "status_rows": verdicts.counts(s)}
        out.append(entry)
    return out


def _median(v: Any) -> float:
    """The median of a non-empty float array (np.nanmedian would import numpy.ma: ~6 ms of
    every cold start)."""
    import numpy as np

    s = np.sort(v)
    mid = s.size // 2
    return float(s[mid]) if s.size % 2 else float((s[mid - 1] + s[mid]) / 2)


def problems(ev: Any, max_ulp: float | None, outside: dict | None = None,
             verdicts: Any = None) -> list[str]:
    """What ``--check`` fails on: one line per (series, status other than ok) with the reason
    (of the worst row of that status in a batch), and the bounds command's rows outside
    [max, max + log n]."""
    from smoothcli.report.verdict import STATUSES, Verdicts

    if verdicts is None or verdicts.max_ulp != max_ulp:
        verdicts = Verdicts(ev, max_ulp)
    out = []
    for s in ev.series:
        name = where(s)
        R = s.rows
        counts = verdicts.counts(s)
        for code, status in enumerate(STATUSES):
            count = counts.get(status, 0)
            if code == 0 or not count:
                continue
            i = verdicts.worst_row(s, code)
            reason = verdicts.reason(s, i)
            if R == 1:
                out.append(f"{name}: {status} — {reason}")
            else:
                which = "worst" if status == "inaccurate" else "first"
                out.append(f"{name}: {status} in {count} of {R} {unit(ev)} ({which}: "
                           f"{unit(ev)[:-1]} {i}) — {reason}")
        if outside and outside.get(id(s)):
            what = OUTSIDE.get(function_name(ev.plan.kind, s), "LSE outside [max, max + log n]")
            out.append(f"{name}: {what}" +
                       ("" if R == 1 else f" in {outside[id(s)]} of {R} {unit(ev)}"))
    return out


#: What ``--check`` says of a row outside its function's bounds.
OUTSIDE = {"smooth_max": "smooth max outside [max, max + log(n)/k]",
           "smooth_abs": "f_k(x) outside [|x| − 2·log(2)/k, |x|]"}


def unit(ev: Any) -> str:
    """What the rows of an evaluation are: input rows, or the points of a pointwise function."""
    return "points" if getattr(ev, "pointwise", False) else "rows"


def accumulation_text(s: Any) -> str:
    """How the row's sums were accumulated (or which library function a peer row called)."""
    if s.peer is not None:
        what, version = s.peer
        return f"{what} ({version}) on a {s.dtype} array, returned {s.returned}"
    from smoothcli.core.accumulation import Accumulation

    return Accumulation(s.order, s.acc_dtype if s.acc_dtype != s.dtype else None
                        ).describe(s.dtype, s.method)


def peer_text(s: Any) -> str | None:
    if s.peer is None:
        return None
    what, version = s.peer
    return f"{what} ({version})"
