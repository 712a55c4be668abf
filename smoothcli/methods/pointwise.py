"""Pointwise functions: each point of the input is evaluated on its own.

Two shapes of point, one interface for the engine (:mod:`smoothcli.engine.evaluate`):

* elementwise (``arity`` 1): every element of every input row is a point — σ(x), softplus(x),
  log σ(x), the smooth |x| f_k(x);
* a row of ``arity`` values is a point — the smooth max of two values (x, y).

A :class:`Pointwise` names the function's methods (kernels that take the dtype columns and return a
:class:`PointTrace` with the intermediates the flags are read from), its exact reference, and the
hard function it smooths.  The methods and references live with their derivations in
:mod:`smoothcli.methods.sigmoid` and :mod:`smoothcli.methods.smooth_abs`; this module only
gathers them (:func:`pointwise`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class PointTrace:
    """One pointwise method's results in the target dtype, with its intermediates.

    ``value``, ``exp`` and every array of ``steps`` have one entry per point."""

    value: Any  # numpy array of the dtype: the results
    exp: Any  # the exponential each point computed (e^(−x), e^x, e^(−|x|), cosh(kx/2), ...)
    steps: dict[str, Any] = field(default_factory=dict)  # other intermediates, e.g. {"1 + e": ...}


@dataclass(frozen=True)
class Pointwise:
    """One pointwise function: its methods, exact reference and hard counterpart."""

    name: str  # the JSON name: sigmoid | softplus | log_sigmoid | smooth_abs | smooth_max2
    title: str  # the formula, for table titles
    hard_name: str  # the hard function it smooths: H(x), max(x, 0), |x|, max(x, y)
    methods: dict[str, Callable[..., PointTrace]]  # (*columns[, param]) -> PointTrace
    reference: Callable[..., Any]  # (*values[, param]) -> mpf, or [mpf, extra mpf...]
    hard: Callable[..., float]  # (*values) -> the hard function's value
    forms: dict[str, str]  # method -> the formula it evaluates
    exp_forms: dict[str, str]  # method -> what PointTrace.exp holds ("e^(−x)")
    arity: int = 1  # values per point
    param: str | None = None  # "k" when the function has a sharpness
    advice_order: tuple[str, ...] = ("stable",)  # methods tried first as fixes

    def run(self, method: str, columns: tuple, param: Any = None) -> PointTrace:
        fn = self.methods[method]
        return fn(*columns) if self.param is None else fn(*columns, param)

    def exact(self, values: tuple, param: Any = None) -> tuple[Any, list]:
        """(the exact value, [extra exact values]) at one point (floats or Fractions)."""
        r = self.reference(*values) if self.param is None else self.reference(*values, param)
        if isinstance(r, (list, tuple)):
            return r[0], list(r[1:])
        return r, []


def pointwise(name: str) -> Pointwise:
    """The pointwise function called ``name`` (sigmoid, softplus, log_sigmoid, smooth_abs,
    smooth_max2); KeyError for any other name."""
    return _registry()[name]


def is_pointwise(name: str) -> bool:
    return name in _registry()


_REGISTRY: dict[str, Pointwise] = {}


def _registry() -> dict[str, Pointwise]:
    if not _REGISTRY:
        from smoothcli.methods.gradients import GRADIENTS
        from smoothcli.methods.sigmoid import FUNCTIONS
        from smoothcli.methods.smooth_abs import SMOOTH_ABS, SMOOTH_MAX2
        from smoothcli.methods.torch_forms import FUNCTIONS as TORCH_FORMS

        _REGISTRY.update(FUNCTIONS)
        _REGISTRY[SMOOTH_ABS.name] = SMOOTH_ABS
        _REGISTRY[SMOOTH_MAX2.name] = SMOOTH_MAX2
        _REGISTRY.update(GRADIENTS)
        _REGISTRY.update(TORCH_FORMS)
    return _REGISTRY
