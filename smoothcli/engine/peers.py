"""``--peer``: what other libraries return for the same dtype-rounded inputs, measured the same way.

A peer row runs a library's own public function on an array of the row's dtype — the array a
user of that library would hold — and measures the returned value against the same exact
reference.  Each (peer, kind) maps to one function (:data:`FUNCTIONS`; docs/peers.md):

=============  ==========================  ==============================  =====================
kind           scipy                       torch (CPU, dim 0)              jax (CPU, x64 on)
=============  ==========================  ==============================  =====================
lse            scipy.special.logsumexp     torch.logsumexp                 jax.nn.logsumexp
softmax        scipy.special.softmax       torch.softmax                   jax.nn.softmax
log_softmax    scipy.special.log_softmax   torch.log_softmax               jax.nn.log_softmax
sigmoid        scipy.special.expit         torch.sigmoid                   jax.nn.sigmoid
softplus       scipy.special.softplus      torch.nn.functional.softplus    jax.nn.softplus
log_sigmoid    scipy.special.log_expit     torch.nn.functional.logsigmoid  jax.nn.log_sigmoid
=============  ==========================  ==============================  =====================

scipy.special.softplus is ``np.logaddexp(0, x)``; a scipy too old to have it is refused (no
stand-in is called under scipy's name).  The peers are black boxes: their intermediates are
unknown, so the flags are read off the result alone, and ``sumexp`` is NaN.  Whatever dtype the
library returns is reported as returned (scipy returns float64 for logsumexp of a bfloat16 array,
float32 for float8_e5m2); ``bits`` counts on that value rounded to the row's dtype, as storing it
in the user's array would.  :func:`describe` says, where it matters and where it was checked by
experiment (tests/test_peers.py), what the library computes internally.

A kind a library lacks, or a dtype it refuses (torch has no float8 kernels on CPU), raises
:class:`PeerError`; the engine turns it into a note.  Peers are optional: asking for one that is
not importable is a usage error (exit 2) with an install hint, never a silent omission.  Nothing
here imports a library until :func:`call` needs it (``resolve_peers`` only looks the module up).
"""

from __future__ import annotations

import importlib.util
from typing import Any, Sequence

from smoothcli.core.errors import InputError
from smoothcli.core.formats import FloatFormat

PEERS = ("scipy", "torch", "jax")

KINDS = ("lse", "softmax", "log_softmax", "sigmoid", "softplus", "log_sigmoid")

#: (peer, kind) -> the public function called, as a user would spell it
FUNCTIONS: dict[tuple[str, str], str] = {
    ("scipy", "lse"): "scipy.special.logsumexp",
    ("scipy", "softmax"): "scipy.special.softmax",
    ("scipy", "log_softmax"): "scipy.special.log_softmax",
    ("scipy", "sigmoid"): "scipy.special.expit",
    ("scipy", "softplus"): "scipy.special.softplus",
    ("scipy", "log_sigmoid"): "scipy.special.log_expit",
    ("torch", "lse"): "torch.logsumexp",
    ("torch", "softmax"): "torch.softmax",
    ("torch", "log_softmax"): "torch.log_softmax",
    ("torch", "sigmoid"): "torch.sigmoid",
    ("torch", "softplus"): "torch.nn.functional.softplus",
    ("torch", "log_sigmoid"): "torch.nn.functional.logsigmoid",
    ("jax", "lse"): "jax.nn.logsumexp",
    ("jax", "softmax"): "jax.nn.softmax",
    ("jax", "log_softmax"): "jax.nn.log_softmax",
    ("jax", "sigmoid"): "jax.nn.sigmoid",
    ("jax", "softplus"): "jax.nn.softplus",
    ("jax", "log_sigmoid"): "jax.nn.log_sigmoid",
    # gradients: the framework's own autodiff of its own function, in the dtype
    ("torch", "sigmoid_grad"): "torch.autograd.grad of torch.sigmoid",
    ("torch", "softplus_grad"): "torch.autograd.grad of torch.nn.functional.softplus",
    ("torch", "log_sigmoid_grad"): "torch.autograd.grad of torch.nn.functional.logsigmoid",
    ("torch", "lse_grad"): "torch.autograd.grad of torch.logsumexp",
    ("torch", "softmax_vjp"): "torch.autograd.grad of torch.softmax",
    ("torch", "log_softmax_vjp"): "torch.autograd.grad of torch.log_softmax",
    ("torch", "cross_entropy_grad"): "torch.autograd.grad of torch.nn.functional.cross_entropy",
    ("jax", "sigmoid_grad"): "jax.grad of jax.nn.sigmoid",
    ("jax", "softplus_grad"): "jax.grad of jax.nn.softplus",
    ("jax", "log_sigmoid_grad"): "jax.grad of jax.nn.log_sigmoid",
    ("jax", "lse_grad"): "jax.grad of jax.nn.logsumexp",
    ("jax", "softmax_vjp"): "jax.vjp of jax.nn.softmax",
    ("jax", "log_softmax_vjp"): "jax.vjp of jax.nn.log_softmax",
    ("jax", "cross_entropy_grad"): "jax.grad of optax-style −log_softmax(x)[y]",
}

#: The gradient kinds: the cotangent or label they take (see :func:`call`'s ``aux``).
GRADIENTS = {"sigmoid_grad": None, "softplus_grad": None, "log_sigmoid_grad": None,
             "lse_grad": None, "softmax_vjp": "cotangent", "log_softmax_vjp": "cotangent",
             "cross_entropy_grad": "label"}

INSTALL = {
    "scipy": "pip install 'smoothcli[peers]'",
    "torch": "pip install torch; CPU-only wheels: see https://pytorch.org/get-started/locally/",
    "jax": "pip install jax (the CPU jaxlib comes with it)",
}


class PeerError(RuntimeError):
    """A library that has no function for a kind, or refuses the dtype: a note, not a row."""


class _Functions(dict):
    """:data:`FUNCTIONS` for callers that index it with a kind no peer has (a note, not a
    KeyError): ``_WHAT[peer, kind]`` names what was asked for."""

    def __missing__(self, key: tuple[str, str]) -> str:
        peer, kind = key
        return f"{peer} ({kind})"


_WHAT = _Functions(FUNCTIONS)  # the name report/family.py imports


def function_name(peer: str, kind: str) -> str:
    """The public function ``call(peer, kind, ...)`` runs, e.g. ``torch.logsumexp``."""
    return _WHAT[peer, kind]


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
                raise InputError(f"--peer {key}: {key} is not installed ({INSTALL[key]})")
            if key not in out:
                out.append(key)
    return out


def call(peer: str, kind: str, x: Any, fmt: FloatFormat, aux: Any = None):
    """(result as a float64 numpy array or 0-d array, returned dtype name, the function called,
    library version) of ``peer``'s own function on the dtype array ``x`` (1-D; for the
    elementwise kinds, every point at once).  Raises :class:`PeerError` for a kind the library
    has no function for or a dtype it refuses.  Gradient kinds (:data:`GRADIENTS`) run the
    library's autodiff of its own function; ``aux`` is the cotangent (an array of the dtype) or
    the label."""
    if peer not in PEERS:
        raise PeerError(f"unknown peer {peer!r} (choose from {', '.join(PEERS)})")
    if (peer, kind) not in FUNCTIONS:
        raise PeerError(f"{peer} has no function for {kind} here (it has "
                        f"{', '.join(k for p, k in FUNCTIONS if p == peer)})")
    if kind in GRADIENTS:
        return {"torch": _torch_grad, "jax": _jax_grad}[peer](kind, x, fmt, aux)
    return {"scipy": _scipy, "torch": _torch, "jax": _jax}[peer](kind, x, fmt)


def _scipy(kind: str, x: Any, fmt: FloatFormat):
    import numpy as np
    import scipy
    import scipy.special as sp

    what = FUNCTIONS["scipy", kind]
    f = getattr(sp, what.rsplit(".", 1)[1], None)
    if f is None:
        raise PeerError(f"scipy {scipy.__version__} has no {what} (a newer scipy has it)")
    with np.errstate(all="ignore"):
        r = np.asarray(f(x))
    return r.astype(np.float64), r.dtype.name, what, f"scipy {scipy.__version__}"


def _torch(kind: str, x: Any, fmt: FloatFormat):
    import numpy as np
    import torch

    what = FUNCTIONS["torch", kind]
    tdt = getattr(torch, fmt.name, None)
    if not isinstance(tdt, torch.dtype):
        raise PeerError(f"torch {torch.__version__} has no {fmt.name} dtype")
    with np.errstate(invalid="ignore"):  # ml_dtypes warns when widening its NaNs
        x64 = np.asarray(x, dtype=np.float64)
    t = torch.tensor(x64).to(tdt)  # exact: x holds dtype values
    fn = {"lse": lambda: torch.logsumexp(t, dim=0),
          "softmax": lambda: torch.softmax(t, dim=0),
          "log_softmax": lambda: torch.log_softmax(t, dim=0),
          "sigmoid": lambda: torch.sigmoid(t),
          "softplus": lambda: torch.nn.functional.softplus(t),
          "log_sigmoid": lambda: torch.nn.functional.logsigmoid(t)}[kind]
    try:
        r = fn()
    except (NotImplementedError, RuntimeError, TypeError) as e:  # no CPU kernel for the dtype
        raise PeerError(f"torch {torch.__version__} refuses {what} on {fmt.name} (CPU): "
                        f"{' '.join(str(e).split())[:120]}") from e
    name = str(r.dtype).removeprefix("torch.")
    return r.to(torch.float64).numpy(), name, what, f"torch {torch.__version__}"


def _torch_grad(kind: str, x: Any, fmt: FloatFormat, aux: Any):
    """torch.autograd.grad of torch's own function, on a tensor of the dtype (the gradient
    comes back in that dtype, as a training step would hold it)."""
    import numpy as np
    import torch

    what = FUNCTIONS["torch", kind]
    tdt = getattr(torch, fmt.name, None)
    if not isinstance(tdt, torch.dtype):
        raise PeerError(f"torch {torch.__version__} has no {fmt.name} dtype")
    with np.errstate(invalid="ignore"):
        x64 = np.asarray(x, dtype=np.float64)
    t = torch.tensor(x64).to(tdt).requires_grad_(True)
    F = torch.nn.functional
    try:
        if kind in ("sigmoid_grad", "softplus_grad", "log_sigmoid_grad"):
            f = {"sigmoid_grad": torch.sigmoid, "softplus_grad": F.softplus,
                 "log_sigmoid_grad": F.logsigmoid}[kind]
            out = f(t).sum()  # elementwise: the gradient of the sum is each derivative
        elif kind == "lse_grad":
            out = torch.logsumexp(t, dim=0)
        elif kind == "cross_entropy_grad":
            out = F.cross_entropy(t[None, :], torch.tensor([int(aux)]))
        else:
            f = torch.softmax if kind == "softmax_vjp" else torch.log_softmax
            g = torch.tensor(np.asarray(aux, dtype=np.float64)).to(tdt)
            out = (f(t, dim=0) * g).sum()  # gᵀJ: the gradient of g·f(x)
        (grad,) = torch.autograd.grad(out, t)
    except (NotImplementedError, RuntimeError, TypeError) as e:
        raise PeerError(f"torch {torch.__version__} refuses {what} on {fmt.name} (CPU): "
                        f"{' '.join(str(e).split())[:120]}") from e
    name = str(grad.dtype).removeprefix("torch.")
    return grad.to(torch.float64).numpy(), name, what, f"torch {torch.__version__}"


def _jax_grad(kind: str, x: Any, fmt: FloatFormat, aux: Any):
    """jax.grad (jax.vjp for the softmax products) of jax's own function, in the dtype."""
    import numpy as np

    jax = _jax_modules()
    import jax.numpy as jnp

    what = FUNCTIONS["jax", kind]
    arr = np.asarray(x)
    if arr.dtype.name != fmt.name:
        arr = np.asarray(arr, dtype=np.float64).astype(fmt.np)
    x64 = getattr(jax, "enable_x64", None)
    if x64 is None:  # older jax
        from jax.experimental import enable_x64 as x64
    try:
        with x64(True), jax.default_device(jax.devices("cpu")[0]):
            j = jnp.asarray(arr)
            nn = jax.nn
            if kind in ("sigmoid_grad", "softplus_grad", "log_sigmoid_grad"):
                f = {"sigmoid_grad": nn.sigmoid, "softplus_grad": nn.softplus,
                     "log_sigmoid_grad": nn.log_sigmoid}[kind]
                r = jax.grad(lambda v: f(v).sum())(j)
            elif kind == "lse_grad":
                r = jax.grad(nn.logsumexp)(j)
            elif kind == "cross_entropy_grad":
                r = jax.grad(lambda v: -nn.log_softmax(v)[int(aux)])(j)
            else:
                f = nn.softmax if kind == "softmax_vjp" else nn.log_softmax
                _, back = jax.vjp(f, j)
                (r,) = back(jnp.asarray(np.asarray(aux).astype(arr.dtype)))
            r = np.asarray(r)
    except Exception as e:
        raise PeerError(f"jax {jax.__version__} refuses {what} on {fmt.name}: "
                        f"{' '.join(str(e).split())[:120]}") from e
    return r.astype(np.float64), r.dtype.name, what, f"jax {jax.__version__}"


def _jax_modules():
    """jax, imported on first use, on the CPU backend only if nothing imported jax before
    (so no accelerator is probed for a one-vector computation)."""
    import sys

    fresh = "jax" not in sys.modules
    import jax

    if fresh:
        try:
            jax.config.update("jax_platforms", "cpu")
        except Exception:  # a backend already chosen: the computation still goes to the CPU
            pass
    return jax


def _jax(kind: str, x: Any, fmt: FloatFormat):
    import numpy as np

    jax = _jax_modules()
    import jax.numpy as jnp

    what = FUNCTIONS["jax", kind]
    fn = {"lse": jax.nn.logsumexp, "softmax": jax.nn.softmax,
          "log_softmax": jax.nn.log_softmax, "sigmoid": jax.nn.sigmoid,
          "softplus": jax.nn.softplus, "log_sigmoid": jax.nn.log_sigmoid}[kind]
    arr = np.asarray(x)
    if arr.dtype.name != fmt.name:  # the engine passes the dtype's own array; anything else
        arr = np.asarray(arr, dtype=np.float64).astype(fmt.np)  # holds the dtype's values
    # x64 for this call only: without it jax turns a float64 array into float32
    x64 = getattr(jax, "enable_x64", None)
    if x64 is None:  # older jax
        from jax.experimental import enable_x64 as x64
    try:
        with x64(True), jax.default_device(jax.devices("cpu")[0]):
            j = jnp.asarray(arr)  # ml_dtypes arrays convert as they are: exact
            if j.dtype != arr.dtype:
                raise PeerError(f"jax {jax.__version__} turned a {fmt.name} array into "
                                f"{j.dtype}")
            r = np.asarray(fn(j))
    except PeerError:
        raise
    except Exception as e:
        raise PeerError(f"jax {jax.__version__} refuses {what} on {fmt.name}: "
                        f"{' '.join(str(e).split())[:120]}") from e
    return r.astype(np.float64), r.dtype.name, what, f"jax {jax.__version__}"


# ---------------------------------------------------------------------------------------------
# What each library computes internally, where it matters.  Every sentence was checked by
# experiment on torch 2.13.0 (CPU), jax/jaxlib 0.10.2 (CPU) and scipy 1.17.1 with numpy 2.4,
# against float32 (or float64) results rounded once and against step-by-step models, on every
# value of the 16- and 8-bit formats (elementwise kinds) or thousands of random vectors; the
# claims that hold exactly are asserted in tests/test_peers.py.  No sentence: nothing checked
# worth saying (float32/float64 inputs are computed in their own dtype by all three).

_HALF = ("float16", "bfloat16")
_F8 = ("float8_e4m3fn", "float8_e5m2")
_ML = ("bfloat16", "float8_e4m3fn", "float8_e5m2")


def describe(peer: str, kind: str, dtype: str) -> str | None:
    """One short sentence on what ``peer`` computes internally for ``kind`` on a ``dtype``
    array, where it matters (verified by experiment); None where there is nothing to say."""
    d = dtype
    if peer == "torch":
        if d in _F8:
            return f"torch has no CPU kernel for {d}: no result"
        if d in _HALF:
            if kind in ("softmax", "sigmoid", "softplus", "log_sigmoid"):
                return (f"torch computes in float32 and rounds the result once to {d} "
                        f"(equal to the float32 result rounded to {d})")
            if kind == "lse":
                return (f"torch rounds each step to {d}: exp(x - max), the float32 sum of "
                        f"those, its log and the final + max")
            if kind == "log_softmax":
                return f"torch's result is not the float32 log_softmax rounded once to {d}"
        return None
    if peer == "jax":
        if d in (*_HALF, *_F8):
            if kind == "lse":
                if d in _HALF:
                    return (f"jax rounds each step to {d}: exp(x - max), the float32 sum of "
                            f"those, its log and the final + max")
            if kind == "softmax" and d == "float16":
                return ("jax rounds exp(x - max) and its float32 sum to float16, then "
                        "multiplies by the float16 reciprocal of the sum (XLA's rewrite of "
                        "the division)")
            if kind == "log_softmax" and d == "float16":
                return ("jax rounds each step to float16: x - max, exp, the float32 sum, "
                        "its log and the final subtraction")
            return f"jax's result is not the float32 result rounded once to {d}"
        return None
    if peer == "scipy":
        if kind == "lse":
            if d in ("bfloat16", "float8_e4m3fn"):
                return f"scipy converts the {d} array to float64 and returns float64"
            if d == "float8_e5m2":
                return "scipy converts the float8_e5m2 array to float32 and returns float32"
            if d == "float16":
                return "scipy computes in float16; not the float32 result rounded once"
        if kind in ("softmax", "log_softmax") and d in ("float16", *_ML):
            return f"scipy runs numpy operations on the {d} array, each rounded to {d}"
        if kind in ("sigmoid", "log_sigmoid") and d in ("float16", *_ML):
            return f"scipy computes in float64 and returns float64 for a {d} array"
        if kind == "softplus" and d in ("float16", *_ML):
            return (f"scipy.special.softplus is np.logaddexp(0, x): computed in float32 and "
                    f"rounded once to {d}")
        return None
    return None
