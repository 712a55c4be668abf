"""One registry of the LSE and softmax methods, by name: the kernels of :mod:`smoothcli.methods.lse`
(naive, shifted) and :mod:`smoothcli.methods.bhh` (log1p, online, the division-free forms), and the forms of published failures and fixes
(``upcast``: float32 then one rounding; ``safe``: zeros for a fully masked softmax row;
``shifted-unguarded`` / ``online-unguarded``: LSE forms that turn an all -inf stretch into NaN).

:func:`resolve_methods` parses every command's ``--method``; it also accepts ``stable`` as the name
of the stable method of whatever function is asked for (:data:`STABLE_NAMES`): ``shifted`` for
LogSumExp and softmax, ``stable`` itself for the sigmoid family, smooth |x| and the metrics."""

from __future__ import annotations

from typing import Callable

from smoothcli.methods.bhh import (exp_lse, lse_log1p, lse_online, lse_online_unguarded,
                                   softmax_log1p, softmax_online)
from smoothcli.methods.lse import (Trace, lse_naive, lse_shifted, lse_shifted_unguarded,
                                   lse_upcast, softmax_naive, softmax_safe, softmax_shifted,
                                   softmax_upcast)

LSE_METHODS: dict[str, Callable[..., Trace]] = {
    "naive": lse_naive,
    "shifted": lse_shifted,
    "log1p": lse_log1p,
    "online": lse_online,
    "upcast": lse_upcast,
    "shifted-unguarded": lse_shifted_unguarded,
    "online-unguarded": lse_online_unguarded,
}
SOFTMAX_METHODS: dict[str, Callable[..., Trace]] = {
    "naive": softmax_naive,
    "shifted": softmax_shifted,
    "log1p": softmax_log1p,
    "online": softmax_online,
    "exp-lse": exp_lse(lse_naive),
    "shifted-exp-lse": exp_lse(lse_shifted),
    "log1p-exp-lse": exp_lse(lse_log1p),
    "online-exp-lse": exp_lse(lse_online),
    "upcast": softmax_upcast,
    "safe": softmax_safe,
}


#: Methods selected by name only, never by ``all``: the framework conventions and the faulty
#: forms that the casebook (``smooth cases``) needs to reproduce a published failure or its fix.
BY_NAME_ONLY = frozenset({"upcast", "safe", "shifted-unguarded", "online-unguarded"})

#: The methods evaluated when ``--method`` is not given (``all`` selects every method).
DEFAULT_METHODS = ("naive", "shifted")

#: ``--method stable`` means the first of these that the command has: one word for "the stable
#: method" whatever the function (LSE / softmax: shifted; sigmoid, softplus, log σ, |x|: stable).
STABLE_NAMES = ("stable", "shifted")


def _alias(key: str, available: dict) -> str:
    """``key`` itself when it is a method of ``available``, else what its alias names there."""
    if key in available or key != "stable":
        return key
    return next((k for k in STABLE_NAMES if k in available), key)


def resolve_methods(names, available: dict) -> list[str]:
    """Parse repeatable / comma-separated ``--method`` values against the available methods."""
    from smoothcli.core.errors import InputError

    if not names:
        default = [k for k in DEFAULT_METHODS if k in available]
        return default or list(available)
    out: list[str] = []
    for item in names:
        for part in item.split(","):
            key = _alias(part.strip().lower(), available)
            if key == "all":
                out.extend(k for k in available if k not in out and k not in BY_NAME_ONLY)
                continue
            if key not in available:
                names = ", ".join(k for k in available if k not in BY_NAME_ONLY)
                if "stable" not in available and any(k in available for k in STABLE_NAMES):
                    names += " (stable = " + _alias("stable", available) + ")"
                raise InputError(f"unknown method {part.strip()!r} (choose from {names})")
            if key not in out:
                out.append(key)
    return out
