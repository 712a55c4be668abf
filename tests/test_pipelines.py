"""smooth in shell pipelines: a closed pipe, Ctrl-C, huge inputs, terminal width.

These run the real program (``python -m smoothcli``, the console script's code path) in
subprocesses with real pipes, signals and pseudo-terminals; Linux-specific probes (/proc) skip
themselves elsewhere.  No timing assertions: the waits below only make sure the process is
*inside* the computation before it is interrupted.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smoothcli.cli import app

SMOOTH = [sys.executable, "-m", "smoothcli"]
#: A softmax big enough that its JSON (~1.7 MB) is far larger than a pipe buffer (64 KiB).
MANY = [str(i) for i in range(1, 3001)]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SMOOTH_DEBUG", "NO_COLOR")}
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# A reader that goes away: `smooth ... | head -c 10`, `| head -1`, `| true`

def _pipeline(shell: str) -> subprocess.CompletedProcess:
    """Run ``shell`` under bash with pipefail: the status is smooth's unless head/true fail."""
    return subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                          text=True, timeout=300, env=_env())


def _smooth_cmd(*args: str) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in [*SMOOTH, *args])


@pytest.mark.parametrize("reader", ["head -c 10", "head -1", "true"])
def test_closed_pipe_is_a_quiet_success(reader):
    """The reader takes what it wants and exits; smooth neither prints a BrokenPipeError
    traceback nor reports a failure: with pipefail the pipeline's status is 0."""
    for args in (["softmax", *MANY, "--dtype", "float32", "--json"],
                 ["softmax", *MANY, "--dtype", "float32"]):
        p = _pipeline(f"{_smooth_cmd(*args)} | {reader}")
        assert p.returncode == 0, (reader, p.returncode, p.stderr[-500:])
        assert p.stderr == "", p.stderr[-500:]
        if reader == "head -c 10":
            assert len(p.stdout) == 10
        if reader == "head -1":
            assert p.stdout.count("\n") == 1


def test_closed_pipe_keeps_the_check_status():
    """--check's verdict survives the reader going away: 1 (a problem: float16 naive overflows)
    or 0, never 1 for "broken pipe" (it would read as a failed check)."""
    bad = _pipeline(f"{_smooth_cmd('lse', '710', '12', '--check', '--json')} | true")
    assert bad.returncode == 1 and bad.stderr == "", bad.stderr
    good = _pipeline(f"{_smooth_cmd('lse', '1', '2', '--dtype', 'float64', '--method', 'shifted', '--check')} | true")
    assert good.returncode == 0 and good.stderr == "", good.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["exp-range"], ["lse", "--help"]])
def test_closed_pipe_after_help_or_version_is_quiet(args):
    p = _pipeline(f"{_smooth_cmd(*args)} | true")
    assert p.returncode == 0 and p.stderr == "", (p.returncode, p.stderr)


def test_head_sees_the_start_of_the_real_output():
    """What head receives is the start of the very document smooth prints unpiped."""
    full = subprocess.run([*SMOOTH, "lse", "710", "12", "--json"], capture_output=True,
                          text=True, timeout=120, env=_env())
    head = _pipeline(f"{_smooth_cmd('lse', '710', '12', '--json')} | head -c 40")
    assert json.loads(full.stdout)["command"] == "lse"
    assert head.stdout == full.stdout[:40]


# --------------------------------------------------------------------------------------------
# Ctrl-C

def _proc_ok() -> bool:
    return sys.platform.startswith("linux") and Path("/proc/self/stat").exists()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_until(cond, proc: subprocess.Popen, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert proc.poll() is None, "smooth finished before it could be interrupted"
        assert time.monotonic() < deadline, "smooth never reached the point to interrupt"
        time.sleep(0.05)


def _interrupt(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return out, err


@pytest.mark.skipif(not _proc_ok(), reason="needs Linux /proc to see the process computing")
def test_ctrl_c_during_a_long_run_exits_130_with_one_line():
    """SIGINT in the middle of a long evaluation (20,000 values, every dtype and method): exit
    status 130 (128 + SIGINT), exactly one line on stderr, nothing half-written on stdout."""
    args = [*SMOOTH, "softmax", *[str(i % 977 - 400) for i in range(20000)], "--dtype", "all",
            "--method", "all", "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    # numpy is imported inside the command, after main()'s handlers are in place; 1.5 s of CPU
    # is well past start-up (~0.3 s) and far short of the run (tens of seconds)
    _wait_until(lambda: "_multiarray_umath" in Path(f"/proc/{proc.pid}/maps").read_text()
                and _cpu_seconds(proc.pid) > 1.5, proc)
    out, err = _interrupt(proc)
    assert proc.returncode == 130, (proc.returncode, err[-500:])
    assert err == "smooth: interrupted\n", err[-500:]
    assert out == ""


@pytest.mark.skipif(not _proc_ok(), reason="needs Linux /proc to see the process waiting")
def test_ctrl_c_while_waiting_for_stdin_exits_130_with_one_line():
    proc = subprocess.Popen([*SMOOTH, "lse", "--file", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    wchan = Path(f"/proc/{proc.pid}/wchan")
    start = time.monotonic()

    def waiting() -> bool:  # blocked reading the pipe (or, without wchan, surely by now)
        text = wchan.read_text() if wchan.exists() else ""
        return "pipe" in text or (text in ("", "0") and time.monotonic() - start > 3)

    _wait_until(waiting, proc)
    out, err = _interrupt(proc)
    proc.stdin.close()
    assert proc.returncode == 130, (proc.returncode, err)
    assert err == "smooth: interrupted\n" and out == ""


# --------------------------------------------------------------------------------------------
# Huge inputs: refused in bounded memory (limits in smoothcli/core/limits.py, README)

def _peak_rss_kib(args: list[str], stdin: bytes) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in KiB) of one run, measured by a fresh parent whose only
    child it is (RUSAGE_CHILDREN is then that child's peak)."""
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], stdin=sys.stdin, stdout=subprocess.DEVNULL,"
             " stderr=subprocess.PIPE)\n"
             "sys.stdout.write('%d %d\\n' % (p.returncode,"
             " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
             "sys.stdout.write(p.stderr.decode())\n")
    p = subprocess.run([sys.executable, "-c", probe, *args], input=stdin, capture_output=True,
                       timeout=300, env=_env())
    first, _, rest = p.stdout.decode().partition("\n")
    code, rss = map(int, first.split())
    return code, rest, rss


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_too_many_numbers_on_stdin_are_refused_in_bounded_memory():
    """4,194,305 numbers (one more than smooth reads from text): refused with one line before
    parsing, while the accepted maximum costs ~1.3 GB; the refusal costs the bytes read plus
    the interpreter (well under 200 MiB here)."""
    from smoothcli.core.limits import MAX_TEXT_NUMBERS

    data = b"1\n" * (MAX_TEXT_NUMBERS + 1)
    code, err, rss = _peak_rss_kib([*SMOOTH, "lse"], data)
    assert code == 2, err
    assert err.startswith("smooth: error: <stdin>: more than 4,194,304 numbers") and \
        err.count("\n") == 1, err
    assert rss < 200 * 1024, rss


def test_reading_stops_at_the_byte_limit(monkeypatch):
    """An endless stream is read only up to the limit (plus one chunk), then refused."""
    import smoothcli.core.limits as limits

    class Endless(io.RawIOBase):
        read_total = 0

        def readable(self):
            return True

        def read(self, n=-1):
            n = 1 << 16 if n is None or n < 0 else n
            Endless.read_total += n
            return b"1 " * (n // 2)

    monkeypatch.setattr(limits, "MAX_TEXT_BYTES", 3 * 2**20)
    result = CliRunner().invoke(app, ["lse", "--file", "-"], input=Endless())
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("smooth: error: <stdin>: more than 3 MiB")
    assert Endless.read_total <= 3 * 2**20 + 2 * limits._CHUNK


def test_row_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    import numpy as np

    import smoothcli.core.limits as limits

    monkeypatch.setattr(limits, "MAX_ROW_LENGTH", 4096)
    np.save(tmp_path / "row.npy", np.zeros(4097, dtype=np.float32))
    np.save(tmp_path / "batch.npy", np.zeros((2, 4097), dtype=np.float32))
    for name in ("row.npy", "batch.npy"):
        result = CliRunner().invoke(app, ["lse", "--file", str(tmp_path / name)])
        assert result.exit_code == 2
        assert "a row of 4,097 values is more than the 4,096" in result.stderr
    # along the other axis the rows are 2 long: accepted
    ok = CliRunner().invoke(app, ["lse", "--file", str(tmp_path / "batch.npy"), "--axis", "0",
                                  "--dtype", "float32", "--json"])
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["command"] == "lse"


# --------------------------------------------------------------------------------------------
# Output never depends on the terminal width

WIDE_ARGS = ["softmax", "0.1", "-1e-5", "710", "12", "3.14159", "-800", "--dtype", "all",
             "--method", "all"]


def test_table_is_the_same_at_40_and_200_columns_and_numbers_are_whole():
    runs = [CliRunner().invoke(app, [*WIDE_ARGS, "--full"],
                               env={"COLUMNS": str(c), "LINES": "10"})
            for c in (40, 200)]
    assert all(r.exit_code == 0 for r in runs), [r.stderr for r in runs]
    assert runs[0].stdout == runs[1].stdout
    table = runs[0].stdout
    assert "…" not in table and "..." not in table
    assert max(len(line) for line in table.splitlines()) > 40  # laid out at its natural width
    # every reference printed is whole: the 17-digit decimals of the JSON appear verbatim
    doc = json.loads(CliRunner().invoke(app, [*WIDE_ARGS, "--json"]).stdout)
    shown = [d for row in doc["rows"] for d in row["reference_decimal"]][:6]
    for text in shown:
        assert text in table, text


def _pty_run(args: list[str], columns: int, extra_env: dict | None = None) -> bytes:
    """Run smooth on a pseudo-terminal of the given width; return everything it printed."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = _env(TERM="xterm-256color", **(extra_env or {}))
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    proc = subprocess.Popen([*SMOOTH, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty window sizes: Linux")
def test_on_a_real_terminal_the_width_changes_nothing():
    """On a terminal (colours on) the table is byte-for-byte the same in a 40-column and a
    200-column window; with NO_COLOR it carries no escape sequence at all."""
    args = ["lse", "710", "12", "-3.5", "--dtype", "float16,float64"]
    narrow, wide = _pty_run(args, 40), _pty_run(args, 200)
    assert narrow == wide
    assert b"\x1b[" in narrow  # a terminal gets colour (rich's rules)
    assert b"\xe2\x80\xa6" not in narrow  # no '…'
    plain = _pty_run(args, 40, {"NO_COLOR": "1"})
    assert b"\x1b[" not in plain
    text = plain.decode()
    assert re.search(r"float16\s+naive\s+inf", text) and "710.0" in text
