"""``smooth bounds``: max ≤ LSE ≤ max + log n, and the smooth max (1/k)·LSE(k·x).

The seed's eq. (4): LSE is within log n above the max, so (1/k)·LSE(k·x) is within log(n)/k of
it and tends to max as k → ∞ (eq. (2)).  For each dtype the exact quantities are computed on the
dtype's rounded inputs; each evaluated (dtype, method) row is then checked against the bounds
*rounded to its dtype*: a correctly rounded LSE of equal inputs is max + log n rounded, which may
lie above the exact max + log n, so comparing with the exact bound would flag correct results.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.commands._common import Settings, run
from smoothcli.core.errors import InputError
from smoothcli.core.numbers import Number, parse_positive
from smoothcli.report.model import Report


def parse_ks(tokens: Sequence[str] | None) -> list[Number]:
    """The ``--k`` values: finite and > 0."""
    return parse_positive(tokens, "--k")


def bounds_report(data: Any, ks: Sequence[Number], settings: Settings, show_rows: bool = False,
                  elements: bool = True, full: bool = False) -> Report:
    """LSE and the smooth max (1/k)·LSE(k·x) of every row, each checked against its bounds
    rounded to the row's dtype."""
    from smoothcli.engine.evaluate import Transform
    from smoothcli.engine.sources import as_batch
    from smoothcli.report.family import build

    batch = as_batch(data)
    if batch.numbers is not None and any(x.exact is None for x in batch.numbers):
        raise InputError("bounds needs finite values (max and LSE of inf/nan are not bounded)")
    ev, typed = run("lse", batch, settings, elements=elements,
                    transforms=[Transform("k", k) for k in ks])
    inside, outside = _inside(ev)
    report = build("bounds", ev, settings, show_rows, typed, inside, outside,
                   {"k": [float(k.exact) for k in ks]}, full=full or elements)
    report.notes.append("inside: the computed value lies within the bounds rounded to its "
                        "dtype (a correctly rounded result always does); gap: the exact value "
                        "minus the max, in [0, log n] (smooth max: [0, log(n)/k])")
    return report


def _inside(ev: Any) -> tuple[dict, dict]:
    """Per (row, series): (gap, upper, inside) — the exact value minus the max, max + log(n)/k
    (nearest float64), and whether the computed value lies in [max, max + log(n)/k] rounded to
    the dtype (k = 1 for LSE);
    per series: how many rows lie outside.  Rows with a non-finite input have neither."""
    import mpmath

    from smoothcli.reference.exact import converge, exact_fraction, to_mpf
    from smoothcli.reference.fast import MP_LOCK
    from smoothcli.core.rounding import round_fraction

    per_row: dict = {}
    outside: dict = {}
    n = ev.n
    with MP_LOCK:
        log_n = {}
        for s in ev.series:
            k = s.param if s.transform is not None else 1.0
            if k not in log_n:
                log_n[k] = exact_fraction(converge(lambda: mpmath.log(n) / to_mpf(Fraction(k))))
            for i in range(ev.rows):
                top = float(s.arrays["max"][i])
                v = float(s.arrays["value"][i])
                ref = s.reference_mpf[i]
                if not math.isfinite(top) or s.arrays["inputs_overflowed"][i] or ref is None \
                        or not mpmath.isfinite(ref):
                    per_row[(i, id(s))] = (None, None, None)
                    continue
                upper = Fraction(top) + log_n[k]
                hi = round_fraction(upper, s.format)
                ok = bool(top <= v <= hi)
                per_row[(i, id(s))] = (float(ref - to_mpf(top)), float(upper), ok)
                if not ok:
                    outside[id(s)] = outside.get(id(s), 0) + 1
    return per_row, outside
