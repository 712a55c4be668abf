"""Stage 1 for files and pipes: numbers from ``--file PATH``, ``--file -`` or standard input.

Two kinds of input are read:

* ``.npy`` (recognised by its magic bytes, whatever the file is called), loaded with
  ``allow_pickle=False`` — nothing a user gives is unpickled — and memory-mapped when it is a file.
  Only float16/float32/float64 data is accepted: an integer, boolean, complex, string, structured or
  object array is refused with one line naming the dtype, as are 0-D and 3-D+ arrays, empty arrays
  and truncated or corrupt files.  A 2-D array is a batch of rows; ``--axis`` says which axis the
  logits run along (default the last, as in ``softmax(x, axis=-1)``).
* text (``.txt``, ``.csv`` or a pipe): numbers separated by whitespace and/or commas, the ASCII
  decimal grammar of :mod:`smoothcli.core.numbers` (``inf``/``nan`` included); ``#`` starts a comment.
  One number per line (``seq 1 5``) or all numbers on one line is a single vector; several lines of
  equal length are a batch of rows (ragged lines are refused, naming the line).

Values keep their exact value.  A float file holds binary floats: a float16 file evaluated in
float16 has no rounding step, a float32 file evaluated in float16 is rounded once (numpy's casts
between float16/32/64 round to nearest even directly from the source format, which tests check
against exact rational rounding; ml_dtypes' casts from float64 go through float32, so those are
rounded to odd first, :func:`round_to_odd_float32`).  Decimal text is parsed to the nearest float64
(correctly rounded, Python's ``float``) and then rounded to the target dtype; that is a double
rounding, which can only go wrong when the float64 lands *exactly* on a midpoint of the target
format (rounding is monotonic, and every midpoint of a narrower format is a float64), so exactly
those tokens are re-rounded from their exact decimal value (:meth:`Batch.rounded`).

Short vectors (at most :data:`ELEMENTWISE_LIMIT` numbers, one row) go through the same exact
per-element pipeline as numbers typed on the command line, with the same output.  Anything larger
is a :class:`Batch`, evaluated by :mod:`smoothcli.engine.batch` with the fast reference.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Sequence

from smoothcli.core.errors import InputError
from smoothcli.core.limits import check_row_length, check_text_size, read_limited
from smoothcli.core.numbers import Number, parse_number
from smoothcli.core.rounding import round_to_odd_float32

#: 1-D inputs up to this many numbers are shown element by element (issue-2 output); larger inputs
#: and every 2-D input are summarised as a batch.
ELEMENTWISE_LIMIT = 1000

NPY_MAGIC = b"\x93NUMPY"
STDIN = "-"
_TOKEN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)",
                    re.ASCII | re.IGNORECASE)
_SPLIT = re.compile(r"[\s,]+")
_FLOAT_KINDS = {2: "float16", 4: "float32", 8: "float64"}


@dataclass
class Batch:
    """A batch of rows read from a file: ``data`` is 2-D (rows × n), rows along the last axis.

    ``data`` may be a memory-mapped, non-contiguous view: rows are copied one at a time into
    reusable buffers by :meth:`rounded`, so memory stays a small multiple of one row.
    """

    source: str  # the path, or "<stdin>"
    kind: str  # "npy" | "text"
    stored: str  # float16 | float32 | float64 | "decimal text"
    shape: tuple  # the shape as stored
    axis: int
    data: Any  # 2-D numpy array: float for npy, float64 (nearest to each decimal) for text
    exact_fixes: dict = field(default_factory=dict)  # flat (row, col) -> Fraction, see module doc
    numbers: list | None = None  # one decimal row kept exactly (smoothcli.engine.sources)

    @property
    def rows(self) -> int:
        return int(self.data.shape[0])

    @property
    def n(self) -> int:
        return int(self.data.shape[1])

    def describe(self) -> str:
        shape = "×".join(str(s) for s in self.shape)
        axis = f", axis {self.axis}" if len(self.shape) == 2 else ""
        return f"{self.source}: {self.stored} {shape}{axis}"

    def rounded(self, i: int, fmt, out=None):
        """Row ``i`` rounded once, correctly, to ``fmt`` (into ``out`` when given)."""
        import numpy as np

        row = self.data[i]
        target = fmt.np
        if out is None:
            out = np.empty(self.n, dtype=target)
        with np.errstate(over="ignore", invalid="ignore"):  # beyond the range: ±inf (or NaN)
            if fmt.name not in _NUMPY_FLOATS and row.dtype.itemsize == 8:
                # ml_dtypes casts float64 through float32, a double rounding; rounding to odd
                # first makes it exact (Boldo & Melquiond: RN_p(RO_24(x)) = RN_p(x), p + 2 <= 24)
                np.copyto(out, round_to_odd_float32(row), casting="unsafe")
            else:
                # numpy's float16/32/64 casts round to nearest even straight from the source
                # format (tests/test_files.py checks them against exact rational rounding)
                np.copyto(out, row, casting="unsafe")
        if self.exact_fixes and fmt.precision < 53:
            from smoothcli.core.rounding import round_fraction

            for (r, j), q in self.exact_fixes.items():
                if r == i:
                    out[j] = round_fraction(q, fmt)
        return out

    def exact_row(self, i: int):
        """Row ``i`` as float64 (exact for every float file; nearest double for text)."""
        import numpy as np

        return np.asarray(self.data[i], dtype=np.float64)


_NUMPY_FLOATS = ("float16", "float32", "float64")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def read_bytes(path: str, stdin: BinaryIO | None) -> bytes:
    """All bytes of ``path`` (or of standard input for ``-``), with one-line errors."""
    if path == STDIN:
        if stdin is None:
            raise InputError("--file -: there is no standard input to read")
        try:
            data = read_limited(getattr(stdin, "buffer", stdin), "<stdin>")  # issue 6: bounded
        except InputError:
            raise
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read standard input: {_one_line(e)}") from None
        return data.encode("utf-8") if isinstance(data, str) else data
    _check_path(path)
    try:
        with open(path, "rb") as f:
            return read_limited(f, path)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or _one_line(e)}") from None


def _check_path(path: str) -> None:
    if not path:
        raise InputError("--file needs a path (or '-' for standard input)")
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a file")
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")


def _is_npy_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC)) == NPY_MAGIC
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or _one_line(e)}") from None


def load(path: str, axis: int = -1, stdin: BinaryIO | None = None) -> list[Number] | Batch:
    """Read ``path`` (``-`` for stdin): a short vector as exact Numbers, anything else a Batch."""
    source = "<stdin>" if path == STDIN else path
    if path != STDIN:
        _check_path(path)
        if _is_npy_file(path):
            return _from_array(_load_npy(path, None, source), source, axis)
        if path.lower().endswith(".npy"):
            raise InputError(f"{path} is not a .npy file (it does not start with the .npy magic "
                             "bytes)")
    data = read_bytes(path, stdin)
    if data.startswith(NPY_MAGIC):
        return _from_array(_load_npy(None, data, source), source, axis)
    return from_text(data, source, axis)


def _load_npy(path: str | None, data: bytes | None, source: str):
    import io

    import numpy as np

    try:
        if path is not None:
            # mmap_mode: the file's pages are read as rows are evaluated, not all up front.
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            arr = np.load(io.BytesIO(data or b""), allow_pickle=False)
    except ValueError as e:
        msg = _one_line(e)
        if "Python objects" in msg or "allow_pickle" in msg or "Object arrays" in msg:
            raise InputError(f"{source}: an object array (pickled Python objects) is never "
                             "loaded; save a float array") from None
        raise InputError(f"{source}: truncated or corrupt .npy file ({msg})") from None
    except (EOFError, OSError, SyntaxError, TypeError, OverflowError, MemoryError) as e:
        raise InputError(f"{source}: truncated or corrupt .npy file ({_one_line(e)})") from None
    dt = arr.dtype
    if dt.kind != "f" or dt.itemsize not in _FLOAT_KINDS:
        kind = {"i": "integer", "u": "unsigned integer", "b": "boolean", "c": "complex",
                "O": "object", "U": "string", "S": "bytes", "V": "structured",
                "M": "datetime", "m": "timedelta"}.get(dt.kind, dt.kind)
        if dt.kind == "f":
            kind = f"{dt.itemsize * 8}-bit float"
        raise InputError(f"{source}: {kind} data ({dt}) is not accepted; store the logits as "
                         "float16, float32 or float64 (e.g. arr.astype(np.float32))")
    return arr


def _from_array(arr, source: str, axis: int) -> list[Number] | Batch:
    import numpy as np

    stored = _FLOAT_KINDS[arr.dtype.itemsize]
    shape = tuple(int(s) for s in arr.shape)
    if arr.ndim == 0:
        raise InputError(f"{source}: a 0-D array (one scalar); give a vector or a 2-D batch")
    if arr.ndim > 2:
        raise InputError(f"{source}: a {arr.ndim}-D array {shape}; give a vector or a 2-D batch "
                         "(reshape to rows × logits)")
    if arr.size == 0:
        raise InputError(f"{source}: the array is empty {shape}: no values")
    if arr.ndim == 1:
        _check_axis(axis, 1, source)
        check_row_length(arr.size, source)  # issue 6: memory grows with the row
        data = arr.reshape(1, -1)
        return Batch(source, "npy", stored, shape, -1, data)
    ax = _check_axis(axis, 2, source)
    check_row_length(int(arr.shape[ax]), source)  # issue 6: memory grows with the row
    data = arr if ax == 1 else arr.T
    return Batch(source, "npy", stored, shape, ax - 2, data)


def _check_axis(axis: int, ndim: int, source: str) -> int:
    if not -ndim <= axis < ndim:
        raise InputError(f"--axis {axis} is out of range for the {ndim}-D data in {source} "
                         f"(valid: {-ndim} … {ndim - 1})")
    return axis % ndim


def from_text(data: bytes, source: str, axis: int = -1) -> list[Number] | Batch:
    """Numbers from text: one vector (short: exact Numbers) or equal-length lines (a Batch)."""
    import numpy as np

    if b"\x00" in data:
        raise InputError(f"{source}: binary data, not numbers (nor a .npy file)")
    check_text_size(data, source)  # issue 6: refuse what would exhaust memory
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text (nor a .npy file)") from None
    lines: list[tuple[int, list[str]]] = []
    for k, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip().strip(",")
        if not line:
            continue
        tokens = [t for t in _SPLIT.split(line) if t]
        for t in tokens:
            if not _TOKEN.fullmatch(t):
                try:  # the standard message and hint of the command-line grammar
                    parse_number(t)
                    why = f"not a number: {t!r}"
                except InputError as e:
                    why = str(e)
                raise InputError(f"{source}, line {k}: {why}") from None
        lines.append((k, tokens))
    if not lines:
        raise InputError(f"no values given: {source} holds no numbers")
    counts = {len(t) for _, t in lines}
    if len(lines) == 1 or counts == {1}:
        tokens = [t for _, ts in lines for t in ts]
        _check_axis(axis, 1, source)
        if len(tokens) <= ELEMENTWISE_LIMIT:  # kept exactly: "changed" compares with decimals
            from smoothcli.engine.sources import arguments

            return arguments([parse_number(t) for t in tokens], source)
        grid = [tokens]
    else:
        if len(counts) > 1:
            first = len(lines[0][1])
            bad = next((k, len(t)) for k, t in lines if len(t) != first)
            raise InputError(f"{source}: ragged rows: line {bad[0]} has {bad[1]} values, line "
                             f"{lines[0][0]} has {first}")
        grid = [t for _, t in lines]
    values = np.array([[_to_float(t, source) for t in row] for row in grid], dtype=np.float64)
    fixes = _midpoint_fixes(values, grid)
    shape = tuple(int(s) for s in values.shape) if len(grid) > 1 else (values.shape[1],)
    if values.shape[0] == 1:
        return Batch(source, "text", "decimal text", shape, -1, values, fixes)
    ax = _check_axis(axis, 2, source)
    data = values if ax == 1 else values.T
    fixes = fixes if ax == 1 else {(j, i): q for (i, j), q in fixes.items()}
    return Batch(source, "text", "decimal text", shape, ax - 2, data, fixes)


def _to_float(token: str, source: str) -> float:
    v = float(token)  # correctly rounded (David Gay's algorithm in CPython)
    if v in (float("inf"), float("-inf")) and "inf" not in token.lower():
        raise InputError(f"{source}: {token!r} is beyond the float64 range "
                         "(max ≈ 1.7976931348623157e308)")
    return v


def _midpoint_fixes(values, grid: Sequence[Sequence[str]]) -> dict:
    """Tokens whose nearest double is exactly a midpoint of a narrower format (float16,
    float32, bfloat16, float8) but whose decimal value is not: rounding the double would round a
    second time (ties to even) and may go the wrong way, so these few tokens are rounded from
    their exact value instead.

    d is a midpoint of a p-bit format iff d * 2**(p - E) is an odd integer, E = floor(log2|d|)
    clamped below at the format's emin (the subnormal spacing): its values there are the
    integers times 2**(E - p + 1).  That covers the overflow midpoint too (65520 in float16)."""
    import numpy as np

    from smoothcli.core.formats import FORMATS

    fixes: dict = {}
    finite = np.isfinite(values) & (values != 0)
    safe = np.where(finite, values, 1.0)
    _, e = np.frexp(safe)
    cand = np.zeros(values.shape, dtype=bool)
    for fmt in FORMATS.values():
        if fmt.precision >= 53:
            continue
        scaled = np.ldexp(safe, fmt.precision - np.maximum(e - 1, fmt.emin))
        whole = np.floor(scaled)
        cand |= finite & (scaled == whole) & (np.mod(whole, 2) == 1)
    for i, j in zip(*np.nonzero(cand)):
        q = Fraction(grid[i][j])
        if q != Fraction(float(values[i, j])):
            fixes[(int(i), int(j))] = q
    return fixes


def read_values(tokens: Sequence[str] | None, file: str | None, axis: int, stdin: Any,
                parse, none_ok: bool = False) -> list[Number] | Batch | None:
    """Where a command's numbers come from: the values typed (``parse`` them), ``--file``
    (``-`` = stdin), or numbers piped on stdin when nothing was typed and stdin is not a
    terminal.  Nothing at all: ``parse([])`` raises the standard "no values" error, unless
    ``none_ok`` (``smooth underflow`` then shows its demonstration)."""
    if file is not None:
        if tokens:
            raise InputError("give numbers on the command line or --file, not both")
        return load(file, axis, stdin)
    if tokens:
        return parse(tokens)
    data = stdin_numbers(stdin, axis)
    if data is None:
        return None if none_ok else parse([])
    return data


def stdin_numbers(stdin: Any, axis: int = -1) -> list[Number] | Batch | None:
    """Numbers piped on standard input (``seq 1 5 | smooth lse``), or None when there is no
    stdin, it is a terminal, or it is empty."""
    if stdin is None:
        return None
    try:
        if stdin.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    raw = getattr(stdin, "buffer", stdin)
    try:
        data = read_limited(raw, "<stdin>")  # issue 6: bounded memory, see smoothcli/core/limits.py
    except InputError:  # (a ValueError too)
        raise
    except (OSError, ValueError):
        return None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        return None
    if data.startswith(NPY_MAGIC):
        return _from_array(_load_npy(None, data, "<stdin>"), "<stdin>", axis)
    return from_text(data, "<stdin>", axis)


load_file = load  # the name exported by smoothcli/__init__.py (``smoothcli.engine.inputs`` is this module)

__all__ = ["Batch", "load", "load_file", "from_text", "read_values", "stdin_numbers",
           "ELEMENTWISE_LIMIT"]
