""".npy files cut short by another program while smooth reads them: one line ``smooth: error:
...`` and exit 2, never SIGBUS (status -7) and never a partial result.

Files above the in-memory limit (64 MiB) used to be memory-mapped, and touching a page the file
no longer has killed the process with SIGBUS.  They are now read with positioned reads of exactly
each row's bytes, every read checked.  The cases run in subprocesses, since SIGBUS is the failure
being guarded against; the arrays are made with numpy here, never with smoothcli.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SMOOTH = str(Path(sys.executable).parent / "smooth")
ROWS, N = 40, 600_000  # float32: 96,000,000 bytes of data, above the 64 MiB in-memory limit


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("SMOOTH_DEBUG", "NO_COLOR")}


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, int]:
    """A 40 × 600,000 float32 .npy file and the offset of its data."""
    path = tmp_path_factory.mktemp("npy") / "big.npy"
    rng = np.random.default_rng(7)
    np.save(path, (rng.standard_normal((ROWS, N)) * 3).astype(np.float32))
    offset = path.stat().st_size - ROWS * N * 4
    return path, offset


def _copy(src: Path, dst: Path) -> Path:
    with open(src, "rb") as a, open(dst, "wb") as b:
        while chunk := a.read(1 << 24):
            b.write(chunk)
    return dst


def _one_error_line(code: int, out: bytes, err: bytes, *words: str) -> str:
    text = err.decode("utf-8")
    assert code == 2, (code, text[-2000:])  # -7 would be SIGBUS
    assert out == b"", out[:200]
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error: "), text[-2000:]
    assert "Traceback" not in text
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("layout, axis", [("C", "-1"), ("F", "0")])
def test_file_cut_after_its_header_was_checked(tmp_path, big, layout, axis):
    """Deterministic: the file is loaded (header read, size checked against it: nothing wrong
    yet), then cut to its header and one row before a later row is read.  That read must raise
    the one-line error; with a memory map the process died of SIGBUS here."""
    src, offset = big
    path = tmp_path / "cut.npy"
    if layout == "C":
        _copy(src, path)
    else:  # Fortran order, rows along axis 0: also contiguous rows in the file
        np.save(path, np.asfortranarray(np.load(src).T))
    code = (
        "import os, sys\n"
        "from smoothcli.core.errors import InputError\n"
        "from smoothcli.engine.inputs import load\n"
        "b = load(sys.argv[1], int(sys.argv[3]))\n"
        "os.truncate(sys.argv[1], int(sys.argv[2]))\n"
        "first = b.exact_row(0)\n"
        "try:\n"
        "    b.exact_row(b.rows - 1)\n"
        "except InputError as e:\n"
        "    print(repr(float(first[0])))\n"
        "    print(e)\n"
        "else:\n"
        "    print('read a row the file no longer has')\n")
    p = subprocess.run([sys.executable, "-c", code, str(path), str(offset + N * 4), axis],
                       capture_output=True, text=True, timeout=300, env=_env())
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    first, message = p.stdout.splitlines()
    expected_first = np.load(src, mmap_mode="r")[0, 0]
    assert float(first) == float(expected_first)
    assert message.startswith("cut.npy") or "cut.npy" in message
    assert "truncated" in message and f"holds {N * 4:,} of the {ROWS * N * 4:,} bytes" in message


def test_smooth_lse_on_a_file_cut_while_it_runs(tmp_path, big):
    """End to end: ``smooth lse --file big.npy`` while another process cuts the file once smooth
    has read some of its rows (seen in /proc/PID/io): one error line and exit 2, nothing on
    stdout -- not a summary of the rows that were read before."""
    io = Path("/proc/self/io")
    if not io.exists():
        pytest.skip("needs Linux /proc/PID/io to see smooth reading")
    src, offset = big
    path = _copy(src, tmp_path / "live.npy")
    proc = subprocess.Popen([SMOOTH, "lse", "--file", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env())
    deadline = time.monotonic() + 120
    read = 0
    while proc.poll() is None and read < 40 * 2**20 and time.monotonic() < deadline:
        try:
            fields = dict(line.split(": ") for line in
                          Path(f"/proc/{proc.pid}/io").read_text().splitlines())
            read = int(fields["rchar"])
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    finished_first = proc.poll() is not None
    os.truncate(path, offset + 4096)
    out, err = proc.communicate(timeout=300)
    if finished_first:
        pytest.skip("smooth finished before the file could be cut")
    _one_error_line(proc.returncode, out, err, "live.npy", "truncated")


def test_uncut_big_file_reads_every_row(tmp_path, big):
    """The row reader returns the file's numbers: the exact LSE of the first and last rows, from
    the JSON, against numpy's float64 logsumexp of the same float32 values (well within the
    float64 rounding of the exact value)."""
    src, _ = big
    p = subprocess.run([SMOOTH, "lse", "--file", str(src), "--dtype", "float64", "--method",
                        "shifted", "--rows", "--json"], capture_output=True, timeout=600,
                       env=_env())
    assert p.returncode in (0, 1), p.stderr[-2000:]
    rows = json.loads(p.stdout)["rows"]
    data = np.load(src, mmap_mode="r")
    for i in (0, ROWS - 1):
        x = np.asarray(data[i], dtype=np.float64)
        m = x.max()
        expected = m + np.log(np.sum(np.exp(x - m)))
        assert abs(rows[i]["reference"] - expected) <= 1e-12 * abs(expected), (i, rows[i])
