"""Stage 1 for files and pipes: numbers from ``--file PATH``, ``--file -`` or standard input.

Two kinds of input are read:

* ``.npy`` (recognised by its magic bytes, whatever the file is called): the header is parsed
  with numpy's literal-only header reader and the data read with plain reads of exactly the
  bytes the header promises — ``np.load`` is never called, so nothing a user gives is unpickled.
  The file is checked to hold those bytes before anything is read, and every read is checked
  again: a file that another program truncates meanwhile is one error line (exit 2), never a
  partial result.  Nothing is memory-mapped (a mapped file that is cut kills the process with
  SIGBUS, which no program can turn into a message).  Data up to
  :data:`smoothcli.core.limits.MAX_COPY_BYTES` is copied into memory; a larger regular file whose
  rows lie contiguously (C order along the last axis, Fortran order along the first) is read a
  row at a time as it is evaluated (:class:`NpyRows`), so memory holds a row, not the file;
  other large layouts are copied whole.
  Only float16/float32/float64 data is accepted: an integer, boolean, complex, string, structured or
  object array is refused with one line naming the dtype, as are 0-D and 3-D+ arrays, empty arrays
  and truncated or corrupt files.  A 2-D array is a batch of rows; ``--axis`` says which axis the
  logits run along (default the last, as in ``softmax(x, axis=-1)``).
* text (``.txt``, ``.csv`` or a pipe): numbers separated by whitespace and/or commas, the ASCII
  decimal grammar of :mod:`smoothcli.core.numbers` (``inf``/``nan`` included); ``#`` starts a comment.
  One number per line (``seq 1 5``) or all numbers on one line is a single vector; several lines of
  equal length are a batch of rows (ragged lines are refused, naming the line).  An empty field
  between commas (``1,,3``) is refused, naming its line and column: dropping it would shift every
  later column.
  A Python / JSON list (``[0.5, 1.5, -2.0]``, or ``[[1, 2], [3, 4]]`` for rows) is read as the
  same numbers (:func:`list_rows`).
  A first line of words (a CSV header such as ``a,b,c``) is refused with one line saying how to
  skip it (remove it, or start it with ``#``): skipping it silently would also skip a first data
  line mistyped as words, and ``#`` is already the comment character (docs/cli.md).

Pipes, FIFOs, character devices and ``/dev/fd/N`` (``--file /dev/stdin``, ``--file <(seq 1 5)``)
are opened once and read to the end, whatever they hold; ``os.fstat`` + ``stat.S_ISREG`` decides,
because their size says nothing about how much will arrive, and peeking at their first bytes
would consume them.

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
is a :class:`Batch`, evaluated by :mod:`smoothcli.engine.evaluate` a row or a block of rows at
a time.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Sequence

from smoothcli.core.errors import InputError
from smoothcli.core.limits import (MAX_COPY_BYTES, check_row_length, check_text_size,
                                   read_limited)
from smoothcli.core.numbers import Number, parse_number
from smoothcli.core.rounding import round_to_odd_float32

#: 1-D inputs up to this many numbers are shown element by element (as typed values are); larger
#: inputs and every 2-D input are summarised as a batch.
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

    ``data`` may be a non-contiguous view, or the rows of a large file read when asked for
    (:class:`NpyRows`): rows are copied one at a time into reusable buffers by :meth:`rounded`,
    so memory stays a small multiple of one row.
    """

    source: str  # the path, or "<stdin>"
    kind: str  # "npy" | "text"
    stored: str  # float16 | float32 | float64 | "decimal text"
    shape: tuple  # the shape as stored
    axis: int
    data: Any  # 2-D numpy array: float for npy, float64 (nearest to each decimal) for text
    exact_fixes: dict = field(default_factory=dict)  # flat (row, col) -> Fraction, see module doc
    numbers: list | None = None  # one decimal row kept exactly (smoothcli.engine.sources)
    # --saturate: a finite value beyond the dtype's range rounds to ±max_finite (ONNX's Cast
    # with saturate=1) instead of ±inf, or NaN in float8_e4m3fn (ml_dtypes, IEEE 754)
    saturate: bool = False

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

    def rounded(self, i: int | slice, fmt, out=None, given=None):
        """Row ``i`` rounded once, correctly, to ``fmt`` (into ``out`` when given); a slice
        ``i``: those rows (a block, 2-D).  ``given``: the rows as already read from ``data``."""
        import numpy as np

        row = self.data[i] if given is None else given
        target = fmt.np
        if out is None:
            out = np.empty(row.shape, dtype=target)
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

            first, stop = (i.start, i.stop) if isinstance(i, slice) else (i, i + 1)
            for (r, j), q in self.exact_fixes.items():
                if first <= r < stop:
                    at = (r - first, j) if isinstance(i, slice) else j
                    out[at] = round_fraction(q, fmt, saturate=self.saturate)
        if self.saturate:
            with np.errstate(invalid="ignore"):
                over = np.isfinite(row) & ~np.isfinite(out.astype(np.float64))
            if over.any():  # rounding to nearest saturates at the largest finite value
                big = fmt.np.type(float(fmt.max_finite))
                out[over] = np.where(np.asarray(row)[over] > 0, big, -big)
        return out

    def exact_row(self, i: int):
        """Row ``i`` as float64 (exact for every float file; nearest double for text)."""
        import numpy as np

        return np.asarray(self.data[i], dtype=np.float64)


_NUMPY_FLOATS = ("float16", "float32", "float64")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else type(e).__name__
    # numpy's header parser reports a non-literal header with the repr of an ast node
    # ("<ast.Call object at 0x7f...>"): an address means nothing to a user.
    return re.sub(r"<[\w.]+ object at 0x[0-9a-fA-F]+>", "an expression", line)


def show_path(path: str) -> str:
    """``path`` as text that can always be printed and put in JSON: bytes of the name that are not
    UTF-8 (which Python keeps as lone surrogates, PEP 383) are shown as ``\\xff`` escapes."""
    try:
        raw = os.fsencode(path)
    except UnicodeError:  # a surrogate that did not come from the file system
        return path.encode("utf-8", "backslashreplace").decode("ascii")
    return raw.decode("utf-8", "backslashreplace")


def _os_error(source: str, e: OSError) -> InputError:
    """One line for an OSError met while opening or reading ``source``."""
    if e.errno == errno.ENOENT:
        return InputError(f"no such file: {source}")
    if e.errno == errno.ELOOP:
        return InputError(f"{source}: too many levels of symbolic links")
    if e.errno == errno.EISDIR:
        return InputError(f"{source} is a directory, not a file")
    if e.errno == errno.ENOTDIR:
        return InputError(f"no such file: {source} (a part of the path is not a directory)")
    return InputError(f"cannot read {source}: {e.strerror or _one_line(e)}")


def read_bytes(path: str, stdin: BinaryIO | None) -> bytes:
    """All bytes of ``path`` (or of standard input for ``-``), with one-line errors."""
    if path == STDIN:
        if stdin is None:
            raise InputError("--file -: there is no standard input to read")
        try:
            data = read_limited(getattr(stdin, "buffer", stdin), "<stdin>")  # bounded
        except InputError:
            raise
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read standard input: {_one_line(e)}") from None
        return data.encode("utf-8") if isinstance(data, str) else data
    source = show_path(path)
    with _open(path, source) as f:
        try:
            return read_limited(f, source)
        except OSError as e:
            raise _os_error(source, e) from None


def _open(path: str, source: str):
    """``path`` opened for reading (binary), refusing directories; one-line errors."""
    if not path:
        raise InputError("--file needs a path (or '-' for standard input)")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise _os_error(source, e) from None
    try:
        mode = os.fstat(f.fileno()).st_mode
    except OSError as e:
        f.close()
        raise _os_error(source, e) from None
    if stat.S_ISDIR(mode):
        f.close()
        raise InputError(f"{source} is a directory, not a file")
    return f


def load(path: str, axis: int = -1, stdin: BinaryIO | None = None,
         int_labels: bool = False) -> list[Number] | Batch | Any:
    """Read ``path`` (``-`` for stdin): a short vector as exact Numbers, anything else a Batch.

    ``int_labels``: an integer or boolean .npy array is returned as is (a numpy array), for
    ``smooth metrics --labels``; otherwise it is refused like every non-float array."""
    if path == STDIN:
        return load_bytes(read_bytes(path, stdin), "<stdin>", axis, int_labels)
    source = show_path(path)
    with _open(path, source) as f:
        try:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                # A pipe, FIFO, character device or /dev/fd/N: its size says nothing and what is
                # read is gone, so read it once, to the end, and decide from the bytes.
                return load_bytes(read_limited(f, source), source, axis, int_labels)
            head = f.read(len(NPY_MAGIC))
            if head == NPY_MAGIC:
                f.seek(0)
                arr = _read_npy(f, st.st_size, source, mappable=True, axis=axis)
                if isinstance(arr, NpyRows):
                    return _rows_result(arr, source, axis)
                return _array_result(arr, source, axis, int_labels)
            if path.lower().endswith(".npy"):
                raise InputError(f"{source} is not a .npy file (it does not start with the .npy "
                                 "magic bytes)")
            f.seek(0)
            data = read_limited(f, source)
        except OSError as e:
            raise _os_error(source, e) from None
    return from_text(data, source, axis)


def load_bytes(data: bytes, source: str, axis: int = -1,
               int_labels: bool = False) -> list[Number] | Batch | Any:
    """Numbers from bytes already read whole (stdin, a pipe): .npy data or text."""
    import io

    if data.startswith(NPY_MAGIC):
        arr = _read_npy(io.BytesIO(data), len(data), source, mappable=False)
        return _array_result(arr, source, axis, int_labels)
    return from_text(data, source, axis)


def _array_result(arr, source: str, axis: int, int_labels: bool):
    if int_labels and arr.dtype.kind in "iub":
        return arr
    _check_float(arr.dtype, source)
    return _from_array(arr, source, axis)


def _read_npy(f, size: int, source: str, mappable: bool, axis: int = -1):
    """The array stored in the .npy file ``f`` (positioned at its start; ``size`` bytes long).

    The header is read with numpy's parser (Python literals only, ast.literal_eval); pickled
    object arrays are refused from the header alone.  The data is checked against the file size
    before anything is read, and every read is checked again (the file may shrink meanwhile).
    Data up to MAX_COPY_BYTES, or that is not ``mappable`` (bytes already in memory), is copied
    whole.  A larger float file whose rows along ``axis`` lie contiguously in it (C order and
    the last axis, Fortran order and the first) is returned as :class:`NpyRows`, read a row at a
    time when asked for; any other larger file is copied whole.  Nothing is memory-mapped: a
    mapped file that another program truncates kills the reader with SIGBUS."""
    import math
    import warnings

    import numpy as np
    from numpy.lib import format as npformat

    corrupt = f"{source}: truncated or corrupt .npy file"
    # numpy warns (RuntimeWarning: overflow) on absurd shapes before failing: the refusal below is
    # the whole message, so nothing else may reach stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dt = npformat.read_array_header_1_0(f)
            else:  # 2.0 and 3.0 differ only in the header's length field / text encoding
                shape, fortran, dt = npformat.read_array_header_2_0(f)
            offset = f.tell()
        except (ValueError, EOFError, OSError, SyntaxError, TypeError, OverflowError,
                MemoryError, RecursionError) as e:
            raise InputError(f"{corrupt} ({_one_line(e)})") from None
        if dt.hasobject:
            raise InputError(f"{source}: an object array (pickled Python objects) is never "
                             "loaded; save a float array")
        if dt.kind not in "iub":  # integers may still be labels (smooth metrics): decided later
            _check_float(dt, source)
        count = math.prod(int(s) for s in shape)  # Python ints: no overflow
        nbytes = count * dt.itemsize
        have = max(size - offset, 0)
        if have < nbytes:
            raise InputError(f"{corrupt} (its header announces {_shape_text(shape)} {dt}: "
                             f"{nbytes:,} bytes of data; the file holds {have:,})")
        order = "F" if fortran else "C"
        try:
            if (mappable and nbytes > MAX_COPY_BYTES and len(shape) == 2 and dt.kind == "f"
                    and count > 0 and axis in (-2, -1, 0, 1)):
                along_last = axis % 2 == 1
                if along_last != bool(fortran):  # the rows are contiguous in the file
                    rows, n = (shape[0], shape[1]) if along_last else (shape[1], shape[0])
                    return NpyRows(f, source, offset, int(rows), int(n), dt)
            buf = np.empty(count, dtype=dt)
            got = _read_exactly(f, memoryview(buf).cast("B"))
            if got < nbytes:  # the file shrank while it was being read
                raise _truncated(source, got, nbytes)
            return buf.reshape(shape, order=order)
        except (ValueError, OSError, OverflowError, MemoryError) as e:
            raise InputError(f"{corrupt} ({_one_line(e)})") from None


def _truncated(source: str, have: int, want: int) -> InputError:
    return InputError(f"{source}: truncated while it was being read (it now holds {have:,} of "
                      f"the {want:,} bytes of data its header announces; was it being written "
                      "or cut by another program?)")


def _read_exactly(f, view: memoryview, at: int | None = None) -> int:
    """Fill ``view`` with the bytes of ``f`` from its position (``at`` None) or from offset
    ``at`` (a positioned read, which moves no shared position); the number of bytes read, less
    than ``len(view)`` only when the file ended first."""
    want = len(view)
    got = 0
    preadv = getattr(os, "preadv", None)
    while got < want:
        part = view[got:]
        if at is None:
            k = f.readinto(part)
        elif preadv is not None:
            k = preadv(f.fileno(), [part], at + got)
        else:  # pragma: no cover - systems without preadv
            chunk = os.pread(f.fileno(), len(part), at + got)
            part[:len(chunk)] = chunk
            k = len(chunk)
        if not k:
            break
        got += k
    return got


class NpyRows:
    """The rows of a large .npy file, read when asked for: ``rows[i]`` is row ``i`` (a numpy
    array of ``n`` values), ``rows[i:j]`` a 2-D array, ``np.asarray(rows)`` all of them.

    Each row is one positioned read of exactly its bytes from a duplicate of the file's
    descriptor, so memory holds a row at a time whatever the number of rows, as a memory map
    did; unlike a memory map, a file that another program shortens meanwhile is one error line
    (:class:`InputError`), not SIGBUS."""

    ndim = 2

    def __init__(self, f, source: str, offset: int, rows: int, n: int, dtype):
        self._file = os.fdopen(os.dup(f.fileno()), "rb", buffering=0)
        self._source = source
        self._offset = offset
        self.shape = (rows, n)
        self.dtype = dtype
        self._row_bytes = n * dtype.itemsize

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int):
        import numpy as np

        out = np.empty((count, self.shape[1]), dtype=self.dtype)
        if count:
            try:
                got = _read_exactly(self._file, memoryview(out).cast("B"),
                                    self._offset + start * self._row_bytes)
                if got < out.nbytes:  # the file shrank since its size was checked
                    have = max(os.fstat(self._file.fileno()).st_size - self._offset, 0)
                    raise _truncated(self._source, min(have, self.size * self.dtype.itemsize),
                                     self.size * self.dtype.itemsize)
            except OSError as e:
                raise _os_error(self._source, e) from None
        return out

    def __getitem__(self, key):
        rows = self.shape[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(rows)
            if step != 1:
                raise IndexError("rows of a .npy file are read in order (step 1)")
            return self._read(start, max(stop - start, 0))
        i = int(key)
        if i < 0:
            i += rows
        if not 0 <= i < rows:
            raise IndexError(f"row {key} of {rows}")
        return self._read(i, 1)[0]

    def __array__(self, dtype=None, copy=None):
        data = self._read(0, self.shape[0])
        return data if dtype is None else data.astype(dtype)


def _rows_result(rows: NpyRows, source: str, axis: int) -> Batch:
    """A Batch of the rows of a large .npy file, read when evaluated (see :class:`NpyRows`)."""
    _check_float(rows.dtype, source)
    shape = rows.shape if axis % 2 == 1 else rows.shape[::-1]
    check_row_length(rows.shape[1], source)  # memory grows with the row
    return Batch(source, "npy", _FLOAT_KINDS[rows.dtype.itemsize], tuple(shape), axis % 2 - 2,
                 rows)


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_float(dt, source: str) -> None:
    """Refuse every dtype but float16/float32/float64, naming it, with a hint to cast."""
    if dt.kind != "f" or dt.itemsize not in _FLOAT_KINDS:
        kind = {"i": "integer", "u": "unsigned integer", "b": "boolean", "c": "complex",
                "O": "object", "U": "string", "S": "bytes", "V": "structured",
                "M": "datetime", "m": "timedelta"}.get(dt.kind, dt.kind)
        if dt.kind == "f":
            kind = f"{dt.itemsize * 8}-bit float"
        raise InputError(f"{source}: {kind} data ({dt}) is not accepted; store the logits as "
                         "float16, float32 or float64 (e.g. arr.astype(np.float32))")


def _from_array(arr, source: str, axis: int) -> list[Number] | Batch:
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
        check_row_length(arr.size, source)  # memory grows with the row
        data = arr.reshape(1, -1)
        return Batch(source, "npy", stored, shape, -1, data)
    ax = _check_axis(axis, 2, source)
    check_row_length(int(arr.shape[ax]), source)  # memory grows with the row
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
    check_text_size(data, source)  # refuse what would exhaust memory
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text (nor a .npy file)") from None
    where = "line"
    if text.lstrip().startswith("["):
        text, where = list_rows(text, source), "row"
    lines: list[tuple[int, list[str]]] = []
    for k, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not lines and where == "line" and _is_header(line, text):
            raise InputError(f"{source}, line {k} looks like a header ({_clip(line)}): "
                             "remove it or start it with #")
        if "," in line:
            # Commas separate fields: an empty one (1,,3 — or a leading or trailing comma) is a
            # missing value, and dropping it would shift every later column.
            for col, fld in enumerate(line.split(","), start=1):
                if not fld.strip():
                    raise InputError(f"{source}, {where} {k}, column {col}: empty field; write "
                                     "every value (nan for a missing one)")
        tokens = [t for t in _SPLIT.split(line) if t]
        for t in tokens:
            if not _TOKEN.fullmatch(t):
                try:  # the standard message and hint of the command-line grammar
                    parse_number(t)
                    why = f"not a number: {t!r}"
                except InputError as e:
                    why = str(e)
                raise InputError(f"{source}, {where} {k}: {why}") from None
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
            raise InputError(f"{source}: ragged rows: {where} {bad[0]} has {bad[1]} values, "
                             f"{where} {lines[0][0]} has {first}")
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


def list_rows(text: str, source: str) -> str:
    """A Python / JSON list of numbers as lines of text: ``[1, 2]`` is one line ``1, 2``,
    ``[[1, 2], [3, 4]]`` two (one per inner list); a trailing comma (Python) is allowed."""
    body = text.strip()
    inner = re.compile(r"\[([^\[\]]*)\]")
    rows = inner.findall(body)
    rest = inner.sub(" ", body)
    if not body.endswith("]") or body.count("[") != body.count("]") or rest.strip("[], \t\r\n"):
        raise InputError(f"{source}: starts with '[' but is not a list of numbers or a list of "
                         "rows ([1, 2, 3] or [[1, 2], [3, 4]])")
    return "\n".join(r.strip().rstrip(",") for r in rows)


def _is_header(line: str, text: str) -> bool:
    """A first line of names (``a,b,c``, ``logit_0 logit_1``) followed by more lines."""
    tokens = [t for t in _SPLIT.split(line) if t]
    more = text.count("\n") > 0 and len(text.strip().splitlines()) > 1
    return more and bool(tokens) and all(not _TOKEN.fullmatch(t) and any(c.isalpha() for c in t)
                                         for t in tokens)


def _clip(line: str, keep: int = 40) -> str:
    return repr(line) if len(line) <= keep else repr(line[:keep]) + "…"


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
        data = read_limited(raw, "<stdin>")  # bounded memory: smoothcli/core/limits.py
    except InputError:  # (a ValueError too)
        raise
    except (OSError, ValueError):
        return None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        return None
    return load_bytes(data, "<stdin>", axis)


load_file = load  # the name exported by smoothcli/__init__.py (``smoothcli.engine.inputs`` is this module)

__all__ = ["Batch", "load", "load_file", "from_text", "read_values", "stdin_numbers",
           "ELEMENTWISE_LIMIT"]
