"""``--json``: one strict RFC 8259 document (no NaN / Infinity literals).

Non-finite floats become the strings "inf", "-inf" and "nan"; everything else keeps its JSON type.
The document is ASCII (``ensure_ascii``: Σ is written ``\\u03a3``), so it can be written whatever
the output's encoding; text that is not valid Unicode (a file name holding bytes that are not
UTF-8, kept by Python as lone surrogates) is shown with ``\\xff``-style escapes, so the document
stays valid UTF-8 and valid JSON for every parser.
The layout is documented in README ("JSON schema") and only ever changes by adding keys.
"""

from __future__ import annotations

import json
import math
from dataclasses import is_dataclass
from typing import Any

from smoothcli.report.model import SCHEMA_VERSION, Report, row_dict


def _text(s: str) -> str:
    """``s``, with lone surrogates (undecodable bytes of a file name) as backslash escapes."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that does not stand for a byte
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def jsonable(obj: Any) -> Any:
    """``obj`` with dataclasses, numpy scalars and non-finite floats made strict-JSON-safe."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(row_dict(obj))
    if isinstance(obj, dict):
        return {_text(str(k)): jsonable(v) for k, v in obj.items()
                if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, str):
        return _text(obj)
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return jsonable(obj.item())
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    return _text(str(obj))


class JsonFormat:
    def render(self, report: Report, problems: list[str]) -> str:
        from smoothcli import __version__

        doc = {"schema_version": SCHEMA_VERSION, "smooth_version": __version__,
               "command": report.command}
        doc.update(jsonable(report.extra))
        doc["rows"] = [jsonable(r) for r in report.rows]
        if report.summary is not None:
            doc["summary"] = jsonable(report.summary)
        doc["notes"] = [_text(n) for n in report.notes]
        doc["problems"] = [_text(p) for p in problems]
        return json.dumps(doc, allow_nan=False, ensure_ascii=True) + "\n"
