"""``smooth softmax``: softmax by each method in each dtype, element by element, with hardmax;
``--temperature T`` adds softmax(x/T) beside hardmax(x) (:mod:`smoothcli.commands.temperature`)."""

from __future__ import annotations

from typing import Any, Sequence

from smoothcli.commands._common import Settings, run
from smoothcli.core.numbers import Number
from smoothcli.report.model import Report


def softmax_report(data: Any, settings: Settings, temperatures: Sequence[Number] | None = None,
                   show_rows: bool = False, elements: bool = True, full: bool = False) -> Report:
    """Evaluate softmax(x) for every (dtype, method) of ``settings`` on every row of ``data``;
    with ``temperatures``, also softmax(x/T) against hardmax(x)."""
    from smoothcli.engine.evaluate import Transform
    from smoothcli.report.family import build

    transforms = [Transform("temperature", t) for t in temperatures or []]
    ev, typed = run("softmax", data, settings, elements=elements, transforms=transforms)
    report = build("softmax", ev, settings, show_rows, typed, full=full or elements)
    if ev.rows == 1:
        report.extra["hardmax"] = hardmax_facts(ev)
    if transforms:
        from smoothcli.commands.temperature import add_temperatures

        add_temperatures(report, ev, settings, transforms, full or elements)
    return report


def hardmax_facts(ev: Any) -> list[dict]:
    """Per dtype: max, argmax (first index of a tie, as numpy and torch), hardmax (one-hot) and
    the number of tied maxima; all None with a NaN input (NaN has no place in an order)."""
    out = []
    for f in ev.plan.dtypes:
        s = next((s for s in ev.series if s.dtype == f.name), None)
        if s is None:
            continue
        k = int(s.arrays["argmax"][0])
        if k < 0:
            out.append({"dtype": f.name, "max": None, "argmax": None, "hardmax": None,
                        "ties": 0})
            continue
        out.append({"dtype": f.name, "max": float(s.arrays["max"][0]), "argmax": k,
                    "hardmax": [1 if i == k else 0 for i in range(ev.n)],
                    "ties": int(s.arrays["ties"][0])})
    return out
