"""``smooth softmax --temperature T``: softmax(x/T) next to hardmax(x) as T → 0.

softmax is the smooth hardmax (the seed's "SoftMax" section): dividing the logits by a temperature
T > 0 sharpens it, and softmax(x/T) → hardmax(x) as T → 0 when the max is unique.  For each T
and each (dtype, method) the rows give softmax(x/T) (x/T computed in the dtype, as a user's code
would; the reference is exact for the dtype's x and T), its distance to the one-hot hardmax(x)
(max |p_i − h_i| and Σ |p_i − h_i|, from the computed values exactly and from the reference), and
the usual errors and flags.  For the exact softmax p the distances are 1 − p_argmax and
2·(1 − p_argmax) (Σ p = 1).

Ties: hardmax (as numpy's argmax) puts its 1 on the *first* maximal index, but softmax(x/T) tends
to 1/k on each of the k tied maxima, so the distance to the one-hot tends to 1 − 1/k (max abs) and
2·(1 − 1/k) (L1), never 0.  The rows carry that limit (``limit``) too.

Where the naive form breaks: exp(x_i/T) overflows once max(x)/T exceeds the dtype's largest
finite exp argument (float16: 11.0859375), i.e. for T < max(x)/that; with max(x) < 0 every term
underflows once max(x)/T drops below the smallest argument whose exp is nonzero.  The shifted form
only breaks when x/T itself overflows the dtype.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.report.model import Column, Report, Section

#: Vectors of at most this many elements are shown in the temperature table.
VECTOR_LIMIT = 6


def parse_temperatures(tokens: Sequence[str] | None) -> list:
    """The ``--temperature`` values: finite and > 0."""
    from smoothcli.core.numbers import parse_positive

    return parse_positive(tokens, "--temperature")


def hard_limit(values: Sequence[float]) -> tuple[list[int] | None, list[float] | None, int]:
    """hardmax (one-hot at the first max), the tie-averaged limit of softmax(x/T), tie count."""
    if any(math.isnan(v) for v in values):
        return None, None, 0
    top = max(values)
    tied = [i for i, v in enumerate(values) if v == top]
    one_hot = [1 if i == tied[0] else 0 for i in range(len(values))]
    return one_hot, [1 / len(tied) if i in tied else 0.0 for i in range(len(values))], len(tied)


def add_temperatures(report: Report, ev: Any, settings: Any, transforms: Sequence[Any],
                     full: bool = True) -> Report:
    """The softmax(x/T) rows' distances to hardmax(x), their table and notes (the rows
    themselves are rows of the report already: function softmax, key ``temperature``)."""
    import numpy as np

    facts: list[dict] = []
    notes: list[str] = []
    for f in ev.plan.dtypes:
        xs = ev.batch.rounded(0, f).astype(np.float64).tolist()
        one_hot, limit, ties = hard_limit(xs)
        for s in ev.series:
            if s.dtype != f.name or s.transform is None:
                continue
            el = s.elements[0]
            p = el["value"].tolist()
            ref = [(h, lo) for h, lo in zip(el["reference"].tolist(),
                                           el["reference_lo"].tolist())]
            dist = _distances(p, one_hot)
            rdist = _distances_ref(ref, one_hot)
            with np.errstate(all="ignore"):
                scaled = s.transform.apply(ev.batch.rounded(0, f), s.param, f).astype(np.float64)
            facts.append({
                "dtype": f.name, "method": s.method, "temperature": s.param,
                "hardmax": one_hot, "limit": limit, "ties": ties,
                "distance_max_abs": dist[0], "distance_l1": dist[1],
                "distance_max_abs_reference": rdist[0], "distance_l1_reference": rdist[1],
                "scaled_max": float(np.max(scaled)) if scaled.size else math.nan,
                "value": p, "ulp_error": float(s.arrays["ulp_error"][0]),
                "flags": [n for n in ("overflow", "underflow", "nan") if s.arrays[n][0]],
                "_digits": f.max_digits10})
        notes.append(_breaks(f, xs))
    if any(r["ties"] > 1 for r in facts):
        k = max(r["ties"] for r in facts)
        notes.append(f"the max is tied ({k} equal maxima in some dtype): hardmax takes the first "
                     f"index (numpy/torch), but softmax(x/T) tends to 1/{k} on each tied entry, "
                     f"so its distance to the one-hot tends to 1 − 1/{k} (max abs) and "
                     f"2(1 − 1/{k}) (L1), not 0; 'limit' in JSON is that tie-averaged vector")
    notes.append("distances: max|p − hardmax(x)| and Σ|p − hardmax(x)| for the computed p "
                 "(exactly, then rounded) and for the exact softmax(x/T) (= 1 − p_argmax and "
                 "2(1 − p_argmax))")
    report.sections.append(_section(facts, settings, ev.n, full))
    report.notes.extend(notes)
    report.extra["temperature"] = [float(t.number.exact) for t in transforms]
    report.extra["temperature_rows"] = [{k: v for k, v in r.items()
                                         if k not in ("value", "flags", "_digits")}
                                        for r in facts]
    return report


def _distances(p: Sequence[float], h) -> tuple[float, float]:
    if h is None or any(math.isnan(v) for v in p):
        return math.nan, math.nan
    if any(math.isinf(v) for v in p):
        return math.inf, math.inf
    d = [abs(Fraction(v) - h[i]) for i, v in enumerate(p)]
    return float(max(d)), float(sum(d))


def _distances_ref(ref: Sequence[tuple[float, float]], h) -> tuple[float, float]:
    """The distances of the exact softmax (each element hi + lo) to the one-hot ``h``: each
    |hi + lo − h_i| in exact rationals, then rounded (1 − p_argmax can be far below p's ULP)."""
    if h is None or any(math.isnan(a) for a, _ in ref):
        return math.nan, math.nan
    d = [abs(Fraction(a) + Fraction(b) - h[i]) for i, (a, b) in enumerate(ref)]
    return float(max(d)), float(sum(d))


def _breaks(fmt, xs: Sequence[float]) -> str:
    """Where the naive form breaks first as T shrinks, for this dtype's inputs."""
    from smoothcli.commands.exp_range import thresholds

    finite = [v for v in xs if math.isfinite(v)]
    if not finite:
        return f"{fmt.name}: no finite input"
    th = thresholds(fmt)
    top, big = max(finite), max(abs(v) for v in finite)
    shifted = (f"shifted breaks only when x/T overflows {fmt.name}: T < "
               f"{big / float(fmt.max_finite):.3g}" if big else "shifted never breaks")
    if top > 0:
        naive = (f"naive: exp(x/T) overflows once max(x)/T > {th['largest_finite_x']!r}, "
                 f"i.e. T < {top / th['largest_finite_x']:.4g}")
    elif top < 0:
        naive = (f"naive: every exp(x/T) underflows to 0 once max(x)/T < "
                 f"{th['smallest_nonzero_x']!r}, i.e. T < {top / th['smallest_nonzero_x']:.4g}")
    else:
        naive = "naive: max(x) = 0, exp(0/T) = 1 keeps Σ exp ≥ 1 for every T"
    return f"{fmt.name}: {naive}; {shifted}"


def _section(rows: list[dict], settings: Any, n: int, full: bool = True) -> Section:
    """The distances to hardmax; the compact view (no --full) keeps the max-abs distance only."""
    cols = [Column("dtype", "dtype"), Column("temperature", "T", "value"),
            Column("method", "method"), Column("scaled_max", "max(x/T)", "value")]
    if full and n <= VECTOR_LIMIT:
        cols.append(Column("value", "softmax(x/T)", "vector"))
    cols += [Column("distance_max_abs", "max|p − h|", "value"),
             Column("distance_max_abs_reference", "exact", "value")]
    if full:
        cols += [Column("distance_l1", "Σ|p − h|", "value"),
                 Column("distance_l1_reference", "exact", "value")]
    cols += [Column("ulp_error", "worst ULP", "error")]
    if full:
        cols.append(Column("flags", "flags", "flags"))
    order = {f.name: i for i, f in enumerate(settings.dtypes)}
    table = sorted(rows, key=lambda r: (order[r["dtype"]], -r["temperature"]))
    if not full:  # six significant digits: enough to compare p with the exact distance
        table = [{**r, "_digits": min(r["_digits"], 6)} for r in table]
    hm = rows[0]["hardmax"] if rows else None
    title = "softmax(x/T) → hardmax(x) as T → 0" + (f"  (hardmax {hm})" if hm else "")
    return Section(title, cols, table, "h = hardmax(x), one-hot at the first maximal x")
