"""``--peer``: what other libraries return for the same dtype-rounded inputs, measured the same way.

A peer row runs a library's own function on an array of the row's dtype — the array a user of
that library would hold — and measures the returned value against the same exact reference:
``scipy`` calls scipy.special.logsumexp / scipy.special.softmax, ``torch`` calls
torch.logsumexp / torch.softmax (dim 0, CPU).  The peers are black boxes: their intermediates
are unknown, so the flags are read off the result alone (overflow: ±inf from a finite exact value
or an input that overflowed the dtype; underflow: LSE −inf, or every softmax output 0; nan), and
``sumexp`` is NaN.  Whatever dtype the library returns is reported as returned (scipy returns
float64 for a bfloat16 array, float32 for float8_e5m2); ``bits`` counts on that value rounded to
the row's dtype, as storing it in the user's array would.

Peers are optional extras (``pip install 'smoothcli[peers]'`` for scipy; torch separately):
asking for one that is not importable is a usage error (exit 2), never a silent omission.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any, Sequence

from smoothcli.core.formats import FloatFormat
from smoothcli.core.errors import InputError

PEERS = ("scipy", "torch")


def resolve_peers(names: Sequence[str] | None) -> list[str]:
    """Parse repeatable / comma-separated ``--peer`` values; each must be importable."""
    out: list[str] = []
    for item in names or []:
        for part in item.split(","):
            key = part.strip().lower()
            if key not in PEERS:
                raise InputError(f"unknown --peer {part.strip()!r} (choose from "
                                 f"{', '.join(PEERS)})")
            if importlib.util.find_spec(key) is None:
                hint = ("pip install 'smoothcli[peers]'" if key == "scipy"
                        else "see https://pytorch.org for the install command")
                raise InputError(f"--peer {key}: {key} is not installed ({hint})")
            if key not in out:
                out.append(key)
    return out


def _call(peer: str, kind: str, x: Any, fmt: FloatFormat):
    """(result as a float64 numpy array or scalar, returned dtype name, library version)."""
    import numpy as np

    if peer == "scipy":
        import scipy
        import scipy.special

        with np.errstate(all="ignore"):
            r = (scipy.special.logsumexp(x) if kind == "lse" else scipy.special.softmax(x))
        r = np.asarray(r)
        return r.astype(np.float64), r.dtype.name, f"scipy {scipy.__version__}"
    import torch

    tdt = getattr(torch, fmt.name, None)
    if tdt is None:
        raise TypeError(f"torch has no {fmt.name}")
    t = torch.tensor(np.asarray(x, dtype=np.float64)).to(tdt)  # exact: x holds dtype values
    r = torch.logsumexp(t, dim=0) if kind == "lse" else torch.softmax(t, dim=0)
    name = str(r.dtype).removeprefix("torch.")
    return r.to(torch.float64).numpy(), name, f"torch {torch.__version__}"


_WHAT = {("scipy", "lse"): "scipy.special.logsumexp", ("scipy", "softmax"): "scipy.special.softmax",
         ("torch", "lse"): "torch.logsumexp", ("torch", "softmax"): "torch.softmax"}


def peer_lse_rows(inputs: Any, fmt: FloatFormat, ref: Any, peers: Sequence[str]):
    """(rows, notes): one Evaluation per peer for LSE."""
    import mpmath

    from smoothcli.measure.bounds import annotate_lse
    from smoothcli.measure.errors import errors
    from smoothcli.reference.exact import decimal_text
    from smoothcli.report.model import Evaluation

    rows, notes = [], []
    for peer in peers:
        try:
            r, returned, version = _call(peer, "lse", inputs.array, fmt)
        except Exception as e:  # a library that refuses a dtype: say so, show no row
            notes.append(f"--peer {peer}: {_WHAT[peer, 'lse']} on {fmt.name} failed: "
                         f"{type(e).__name__}: {' '.join(str(e).split())[:160]}")
            continue
        v = float(r)
        err = errors(v, ref, fmt)
        ref_nan, ref_finite = bool(mpmath.isnan(ref)), bool(mpmath.isfinite(ref))
        row = Evaluation(
            dtype=fmt.name, method=peer, value=v, reference=float(ref),
            reference_decimal=decimal_text(ref), abs_error=err.abs_error,
            rel_error=err.rel_error, ulp_error=err.ulp_error,
            overflow=(ref_finite and v == math.inf) or inputs.overflowed,
            underflow=ref_finite and v == -math.inf, nan=math.isnan(v) and not ref_nan,
            flushed_terms=0, sumexp=math.nan,
            accumulation=f"{_WHAT[peer, 'lse']} ({version}) on a {fmt.name} array, "
                         f"returned {returned}")
        annotate_lse(row, inputs, fmt, ref, None)
        rows.append(row)
    return rows, notes


def peer_softmax_rows(inputs: Any, fmt: FloatFormat, ref: Sequence[Any], peers: Sequence[str]):
    """(rows, notes): one SoftmaxEvaluation per peer."""
    import mpmath

    from smoothcli.measure.bounds import annotate_softmax
    from smoothcli.measure.errors import errors
    from smoothcli.engine.pipeline import _sum_error, _worst
    from smoothcli.reference.exact import decimal_text
    from smoothcli.report.model import SoftmaxEvaluation

    ref_nan = any(mpmath.isnan(g) for g in ref)
    rows, notes = [], []
    for peer in peers:
        try:
            r, returned, version = _call(peer, "softmax", inputs.array, fmt)
        except Exception as e:
            notes.append(f"--peer {peer}: {_WHAT[peer, 'softmax']} on {fmt.name} failed: "
                         f"{type(e).__name__}: {' '.join(str(e).split())[:160]}")
            continue
        values = [float(v) for v in r]
        errs = [errors(v, g, fmt) for v, g in zip(values, ref)]
        finite = all(math.isfinite(v) for v in values)
        total = math.fsum(values) if finite else sum(values)
        row = SoftmaxEvaluation(
            dtype=fmt.name, method=peer, value=values, reference=[float(g) for g in ref],
            reference_decimal=[decimal_text(g) for g in ref],
            abs_error=_worst(e.abs_error for e in errs),
            rel_error=_worst(e.rel_error for e in errs),
            ulp_error=_worst(e.ulp_error for e in errs),
            abs_errors=[e.abs_error for e in errs], rel_errors=[e.rel_error for e in errs],
            ulp_errors=[e.ulp_error for e in errs], output_sum=total,
            sum_error=_sum_error(values, total),  # exact, as the pipeline's rows
            overflow=(not ref_nan and any(math.isinf(v) for v in values)) or inputs.overflowed,
            underflow=not ref_nan and bool(values) and all(v == 0 for v in values),
            nan=any(math.isnan(v) for v in values) and not ref_nan,
            flushed_terms=0, sumexp=math.nan,
            accumulation=f"{_WHAT[peer, 'softmax']} ({version}) on a {fmt.name} array, "
                         f"returned {returned}")
        annotate_softmax(row, inputs, fmt, ref, None)
        rows.append(row)
    return rows, notes
