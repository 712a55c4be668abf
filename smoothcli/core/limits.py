"""How much input smooth accepts: refuse, in bounded memory, what would exhaust the machine.

Measured on the reference machine (docs/errors.md):

* decimal text (``--file x.txt``, ``--file -``, numbers piped on stdin) is read whole and split
  into Python strings: about 300 bytes of memory per number at the peak (10**6 numbers: ~365 MB).
  Text is therefore refused beyond :data:`MAX_TEXT_BYTES` (checked while reading, so a 10 GB pipe
  costs no more than the limit) and beyond :data:`MAX_TEXT_NUMBERS` numbers (counted without
  building the list): at most ~1.3 GB;
* ``.npy`` files larger than :data:`MAX_COPY_BYTES` are read a row at a time and a 2-D batch is
  evaluated row by row, so memory does not grow with the number of rows; it grows with the row.
  Measured with ``/usr/bin/time -v`` in the three default dtypes, both methods, table view: about
  130 bytes per element for ``lse`` and 270 for ``softmax`` (a 10**7-element float32 row: 1.3 GB
  and 2.7 GB; 2**25 elements, softmax: 8.9 GB in 54 s).  Rows are refused beyond
  :data:`MAX_ROW_LENGTH` elements.  ``--json`` keeps every element's numbers as well (about 56
  more bytes per element per dtype and method) and writes ~150 bytes of text for each.

Numbers typed on the command line are bounded by the operating system (ARG_MAX, 2 MiB on Linux:
a few hundred thousand numbers).
"""

from __future__ import annotations

import re
from typing import Any

from smoothcli.core.errors import InputError

#: Bytes of decimal text read at most (from a file or standard input).
MAX_TEXT_BYTES = 256 * 2**20
#: Numbers read from decimal text at most.
MAX_TEXT_NUMBERS = 2**22  # 4,194,304
#: .npy data up to this size is copied into memory; larger regular files are read a row at a
#: time (smoothcli.engine.inputs), every read checked.  Nothing is memory-mapped: a mapped file
#: that another process truncates kills the reader with SIGBUS, which no exception can catch.
MAX_COPY_BYTES = 64 * 2**20

#: Elements in one row (one vector to evaluate) at most, whatever the source.
MAX_ROW_LENGTH = 2**25  # 33,554,432

_CHUNK = 2**20
_TOKEN = re.compile(rb"[^\s,]+")


def read_limited(stream: Any, source: str) -> bytes:
    """All bytes of ``stream`` (binary or text), refusing more than MAX_TEXT_BYTES without
    holding more than that in memory."""
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        parts.append(chunk)
        total += len(chunk)
        if total > MAX_TEXT_BYTES:
            raise InputError(f"{source}: more than {MAX_TEXT_BYTES // 2**20} MiB, the most smooth "
                             "reads from a pipe or a text file; pass large data as a .npy file "
                             "(--file PATH), which is read a row at a time")
    return b"".join(parts)


def check_text_size(data: bytes, source: str) -> None:
    """Refuse text holding more than MAX_TEXT_NUMBERS numbers (counted in constant memory)."""
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(f"{source}: more than {MAX_TEXT_BYTES // 2**20} MiB of text; pass large "
                         "data as a .npy file (--file PATH), which is read a row at a time")
    if len(data) <= 2 * MAX_TEXT_NUMBERS:  # fewer bytes than two per number: cannot exceed
        return
    count = 0
    for _ in _TOKEN.finditer(data):
        count += 1
        if count > MAX_TEXT_NUMBERS:
            raise InputError(f"{source}: more than {MAX_TEXT_NUMBERS:,} numbers of text (about "
                             "300 bytes of memory each while parsing); pass large data as a "
                             ".npy file (--file PATH), which is read a row at a time")


def check_row_length(n: int, source: str) -> None:
    """Refuse rows longer than MAX_ROW_LENGTH elements (memory grows with the row)."""
    if n > MAX_ROW_LENGTH:
        raise InputError(f"{source}: a row of {n:,} values is more than the {MAX_ROW_LENGTH:,} "
                         "smooth evaluates at once (about 270 bytes of memory per value)")
