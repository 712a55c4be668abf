"""smooth: is this formula stable in this dtype?  LSE, softmax and friends, measured exactly.

The numerical core is usable as a library::

    from smoothcli import lse_report, parse_numbers, Settings, resolve_dtypes
    report = lse_report(parse_numbers(["710", "12"]), Settings(resolve_dtypes(["float16"]),
                                                               ["naive", "shifted"]))
    next(iter(report.rows))["overflow"]  # True: the naive row (docs/json.md lists the keys)

Names are imported lazily (PEP 562) so that ``smooth --help`` does not pay for numpy or mpmath.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "lse_report": "smoothcli.commands.lse",
    "softmax_report": "smoothcli.commands.softmax",
    "exp_range_report": "smoothcli.commands.exp_range",
    "bounds_report": "smoothcli.commands.bounds",
    "underflow_report": "smoothcli.commands.underflow",
    "sigmoid_report": "smoothcli.commands.sigmoid",
    "abs_report": "smoothcli.commands.smooth_abs",
    "metrics_report": "smoothcli.commands.metrics",
    "sigmoid_reference": "smoothcli.methods.sigmoid",
    "SIGMOID_METHODS": "smoothcli.methods.sigmoid",
    "Settings": "smoothcli.commands._common",
    "parse_numbers": "smoothcli.core.numbers",
    "parse_number": "smoothcli.core.numbers",
    "Number": "smoothcli.core.numbers",
    "resolve_dtypes": "smoothcli.core.formats",
    "get_float_format": "smoothcli.core.formats",
    "FloatFormat": "smoothcli.core.formats",
    "round_fraction": "smoothcli.core.rounding",
    "lse_reference": "smoothcli.reference.exact",
    "softmax_reference": "smoothcli.reference.exact",
    "Accumulation": "smoothcli.core.accumulation",
    "Report": "smoothcli.report.model",
    "InputError": "smoothcli.core.errors",
    # files and batches, the fast reference
    "load_file": "smoothcli.engine.inputs",
    "Batch": "smoothcli.engine.inputs",
    "evaluate": "smoothcli.engine.evaluate",
    "Plan": "smoothcli.engine.evaluate",
    "row_reference": "smoothcli.reference.fast",
    # sweeps (numerics) and the sweep report (rows, chart, boundaries)
    "run_sweep": "smoothcli.engine.sweep",
    "parse_sweep": "smoothcli.engine.sweep",
    "sweep_report": "smoothcli.commands.sweep",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'smoothcli' has no attribute {name!r}")
