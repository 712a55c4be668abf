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


_WHAT = {("scipy", "lse"): "scipy.special.logsumexp", ("scipy", "softmax"): "scipy.special.softmax",
         ("torch", "lse"): "torch.logsumexp", ("torch", "softmax"): "torch.softmax"}


def call(peer: str, kind: str, x: Any, fmt: FloatFormat):
    """(result as a float64 numpy array or scalar, returned dtype name, the function called,
    library version) of ``peer``'s own function on the dtype array ``x``."""
    import numpy as np

    what = _WHAT[peer, kind]
    if peer == "scipy":
        import scipy
        import scipy.special

        with np.errstate(all="ignore"):
            r = (scipy.special.logsumexp(x) if kind == "lse" else scipy.special.softmax(x))
        r = np.asarray(r)
        return r.astype(np.float64), r.dtype.name, what, f"scipy {scipy.__version__}"
    import torch

    tdt = getattr(torch, fmt.name, None)
    if tdt is None:
        raise TypeError(f"torch has no {fmt.name}")
    t = torch.tensor(np.asarray(x, dtype=np.float64)).to(tdt)  # exact: x holds dtype values
    r = torch.logsumexp(t, dim=0) if kind == "lse" else torch.softmax(t, dim=0)
    name = str(r.dtype).removeprefix("torch.")
    return r.to(torch.float64).numpy(), name, what, f"torch {torch.__version__}"
