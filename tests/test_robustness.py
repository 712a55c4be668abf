"""Input and output robustness: pipes and FIFOs read whole, .npy files checked against their
header, empty CSV fields, outputs that cannot be written, encodings that cannot hold smooth's
symbols, file names that are not UTF-8, Ctrl-C during start-up, and one-line messages that show
no internals (README, "Exit codes and errors").

Most cases run the installed ``smooth`` script in a subprocess: real file descriptors, pipes,
FIFOs, /dev/full, signals and locale encodings are what is being tested, and typer's CliRunner
replaces all of them.  Expected values are computed here with mpmath / numpy, never with smoothcli.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import mpmath
import numpy as np
import pytest

SMOOTH = str(Path(sys.executable).parent / "smooth")
EX_IOERR = 74  # sysexits.h, the documented status for output that cannot be written

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux devices and /proc")


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SMOOTH_DEBUG", "NO_COLOR", "PYTHONIOENCODING", "MPLCONFIGDIR")}
    env.update(extra)
    return env


def run(*args, stdin=subprocess.DEVNULL, env=None, **kw) -> subprocess.CompletedProcess:
    """The installed script, bytes in and out."""
    return subprocess.run([SMOOTH, *args], stdin=stdin, capture_output=True, timeout=120,
                          env=env or _env(), **kw)


def shell(command: str, *args: str, env=None) -> subprocess.CompletedProcess:
    """``command`` in bash with "$0" = smooth and "$@" = ``args`` (for redirections: >&-)."""
    return subprocess.run(["bash", "-c", command, SMOOTH, *args], capture_output=True,
                          timeout=120, env=env or _env(), stdin=subprocess.DEVNULL)


def one_error_line(p: subprocess.CompletedProcess, status: int, *words: str) -> str:
    """Exit ``status``, nothing on stdout, exactly one line ``smooth: error: ...`` holding every
    one of ``words``; no traceback."""
    err = p.stderr.decode("utf-8")
    assert p.returncode == status, (p.returncode, err)
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def lse_exact(values) -> float:
    """log Σ exp(x), correctly rounded to float64 (mpmath at 200 bits)."""
    with mpmath.workprec(200):
        return float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in values)))


def sigmoid_exact(s) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-mpmath.mpf(s)))


def _slow_writer(target, data: bytes, pieces: int = 20, pause: float = 0.01):
    """Write ``data`` to ``target`` (a path, a file descriptor, both then opened and closed here,
    or an open binary file, closed at the end) in pieces with pauses: a reader that stops at the
    first read, or sizes the input with stat(), sees only part of it."""

    def go():
        f = open(target, "wb", buffering=0) if isinstance(target, (str, int)) else target
        try:
            step = max(1, len(data) // pieces)
            for i in range(0, len(data), step):
                f.write(data[i:i + step])
                f.flush()
                time.sleep(pause)
        finally:
            f.close()

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


# --- pipes, FIFOs, devices and /dev/fd/N are read to the end -------------------------------------

NUMBERS = list(range(1, 1001))
TEXT = "".join(f"{v}\n" for v in NUMBERS).encode()


def _lse_doc(p: subprocess.CompletedProcess) -> dict:
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def _check_all_1000(doc: dict) -> None:
    assert len(doc["inputs"]) == 1000  # every number, not part of them
    (row,) = doc["rows"]
    assert row["reference"] == lse_exact(NUMBERS)


@linux
def test_dev_stdin_pipe_is_read_to_the_end():
    """``cat numbers.txt | smooth lse --file /dev/stdin``: a pipe opened by path."""
    proc = subprocess.Popen([SMOOTH, "lse", "--file", "/dev/stdin", "--dtype", "float64",
                             "--method", "shifted", "--json"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    _slow_writer(proc.stdin, TEXT).join()
    proc.stdin = None  # closed by the writer
    out, err = proc.communicate(timeout=120)
    _check_all_1000(_lse_doc(subprocess.CompletedProcess([], proc.returncode, out, err)))


@linux
def test_dev_fd_of_a_pipe_is_read_to_the_end():
    """``smooth lse --file <(seq 1 1000)``: the shell passes /dev/fd/63, a pipe."""
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([SMOOTH, "lse", "--file", f"/dev/fd/{r}", "--dtype", "float64",
                                 "--method", "shifted", "--json"], pass_fds=(r,),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env())
    finally:
        os.close(r)
    _slow_writer(w, TEXT).join()
    out, err = proc.communicate(timeout=120)
    _check_all_1000(_lse_doc(subprocess.CompletedProcess([], proc.returncode, out, err)))


def test_process_substitution_in_bash():
    p = shell('"$0" lse --file <(seq 1 5) --dtype float64 --method shifted --json')
    doc = _lse_doc(p)
    assert [i["text"] for i in doc["inputs"]] == ["1", "2", "3", "4", "5"]
    assert doc["rows"][0]["reference"] == lse_exact(range(1, 6))


def test_fifo_text_and_npy(tmp_path):
    fifo = tmp_path / "numbers.fifo"
    os.mkfifo(fifo)
    _slow_writer(str(fifo), TEXT)
    _check_all_1000(_lse_doc(run("lse", "--file", str(fifo), "--dtype", "float64",
                                 "--method", "shifted", "--json")))
    # binary .npy data through a FIFO: recognised by its magic bytes, read whole
    arr = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 8.0]])
    np.save(tmp_path / "a.npy", arr)
    _slow_writer(str(fifo), (tmp_path / "a.npy").read_bytes(), pieces=5)
    p = run("lse", "--file", str(fifo), "--dtype", "float64", "--method", "shifted", "--json",
            "--rows")
    doc = _lse_doc(p)
    assert doc["input"]["shape"] == [2, 3]
    assert [r["reference"] for r in doc["rows"]] == [lse_exact(r) for r in arr]


def test_metrics_reads_pipes_as_files():
    """``--logits <(...) --labels <(...)`` used to be refused as "not a number: '/dev/fd/63'"."""
    p = shell('"$0" metrics --logits <(printf "1\\n-2\\n0.5\\n") --labels <(printf "1\\n0\\n1\\n")'
              ' --dtype float64 --json')
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert doc["n"] == 3
    acc = next(r for r in doc["rows"] if r["function"] == "accuracy")
    with mpmath.workprec(200):
        exact = (sigmoid_exact(1) + (1 - sigmoid_exact(-2)) + sigmoid_exact(0.5)) / 3
    assert acc["reference"] == float(exact)


@linux
def test_character_device_is_read_not_sized():
    one_error_line(run("lse", "--file", "/dev/null"), 2, "/dev/null", "no numbers")


# --- CSV: an empty field is an error naming its line and column ---------------------------------

@pytest.mark.parametrize("text, line, column", [
    ("1,2,3\n4,,6\n", 2, 2),
    ("1,2,3\n,5,6\n", 2, 1),
    ("1,2,3,\n4,5,6\n", 1, 4),
    ("7, 8 ,  ,9\n", 1, 3),
])
def test_empty_csv_field_is_refused(tmp_path, text, line, column):
    (tmp_path / "e.csv").write_text(text)
    one_error_line(run("lse", "--file", str(tmp_path / "e.csv")), 2, "e.csv",
                   f"line {line}, column {column}", "empty field")


@pytest.mark.parametrize("logits, words", [("1,,2", "value 2"), ("1,2;3,,4", "row 1, value 2"),
                                            (",1,2", "value 1")])
def test_empty_field_in_metrics_values_is_refused(logits, words):
    one_error_line(run("metrics", "--logits", logits, "--labels", "1,0"), 2, "--logits",
                   "empty field", words)


def test_csv_without_empty_fields_still_reads(tmp_path):
    (tmp_path / "ok.csv").write_text("1, 2 ,3\n4,5,6\n")
    p = run("lse", "--file", str(tmp_path / "ok.csv"), "--dtype", "float64", "--method",
            "shifted", "--json", "--rows")
    assert [r["reference"] for r in _lse_doc(p)["rows"]] == [lse_exact([1, 2, 3]),
                                                             lse_exact([4, 5, 6])]


# --- .npy: truncated files, absurd headers ------------------------------------------------------

def _npy_header(descr: str, shape: str) -> bytes:
    """A version-1.0 .npy header, padded as numpy pads it."""
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin-1")


def test_big_npy_shorter_than_its_header_is_refused_before_reading(tmp_path):
    """A file above the in-memory limit is memory-mapped; if it were shorter than its header
    says, touching the missing pages would kill the process with SIGBUS."""
    path = tmp_path / "cut.npy"
    path.write_bytes(_npy_header("<f8", "(100, 100000)") + b"\0" * 4096)  # 80 MB promised
    line = one_error_line(run("lse", "--file", str(path)), 2, "cut.npy", "truncated")
    assert "80,000,000" in line


@pytest.mark.parametrize("shape", ["(4611686018427387904, 4611686018427387904)",
                                   "(4611686018427387904,)", "(9223372036854775807, 2)"])
def test_absurd_shape_is_one_line_without_warnings(tmp_path, shape):
    path = tmp_path / "huge.npy"
    path.write_bytes(_npy_header("<f8", shape) + b"\0" * 16)
    one_error_line(run("lse", "--file", str(path)), 2, "huge.npy", "truncated or corrupt")


def test_small_npy_is_copied_not_mapped(tmp_path):
    """A small file truncated after it was loaded does not take the process down (SIGBUS)."""
    arr = np.arange(1, 300_001, dtype=np.float64).reshape(3, -1)
    np.save(tmp_path / "a.npy", arr)
    code = (
        "import os, sys\n"
        "from smoothcli.engine.inputs import load\n"
        "b = load(sys.argv[1])\n"
        "os.truncate(sys.argv[1], 0)\n"
        "print(repr(float(sum(float(b.exact_row(i).sum()) for i in range(b.rows)))))\n")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.npy")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert float(p.stdout) == float(arr.sum())


def test_header_that_is_not_a_literal_shows_no_internals(tmp_path):
    path = tmp_path / "call.npy"
    path.write_bytes(_npy_header("<f8", "f()") + b"\0" * 16)
    line = one_error_line(run("lse", "--file", str(path)), 2, "call.npy", "truncated or corrupt")
    assert "object at 0x" not in line and "<ast." not in line


# --- output that cannot be written ------------------------------------------------------------

@pytest.mark.parametrize("args", [["lse", "1", "2"], ["lse", "1", "2", "--json"],
                                  ["--help"], ["--version"]])
def test_closed_stdout_is_one_line_exit_74(args):
    one_error_line(shell('"$0" "$@" >&-', *args), EX_IOERR, "cannot write output")


@linux
@pytest.mark.parametrize("args", [["lse", "1", "2"], ["lse", "1", "2", "--json"],
                                  ["--help"], ["--version"], ["sigmoid", "--chart"]])
def test_full_disk_on_stdout_is_one_line_exit_74(args):
    one_error_line(shell('"$0" "$@" > /dev/full', *args), EX_IOERR, "cannot write output",
                   "No space left on device")


@linux
@pytest.mark.parametrize("command, status", [
    ('"$0" lse zz 2>/dev/full', 2),  # bad input: still 2, not 1 ("--check failed")
    ('"$0" lse zz 2>&-', 2),
    ('"$0" lse 1 2 >&- 2>&-', EX_IOERR),
    ('"$0" lse 1 2 >/dev/full 2>/dev/full', EX_IOERR),
    ('"$0" lse 1 2 --check 2>/dev/full >/dev/null', 0),
    ('"$0" 2>/dev/full', 2),  # no arguments: the help on stderr, which is full
])
def test_unwritable_stderr_keeps_the_status(command, status):
    p = shell(command)
    assert p.returncode == status, (p.returncode, p.stderr)
    assert p.stdout == b""


def test_closed_pipe_stays_quiet():
    p = subprocess.run(["bash", "-o", "pipefail", "-c",
                        '"$0" softmax $(seq 1 3000) --json | head -c 10 >/dev/null', SMOOTH],
                       capture_output=True, timeout=120, env=_env())
    assert p.returncode == 0 and p.stderr == b""


# --- encodings: ASCII and latin-1 outputs ------------------------------------------------------

def test_ascii_output_falls_back_to_ascii_symbols():
    p = run("lse", "1", "2", "--dtype", "float64", "--full", env=_env(PYTHONIOENCODING="ascii"))
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode("ascii")  # strict: every byte is ASCII
    assert "sum exp" in out and "Σ" not in out
    assert "2.3132616875182228" in out  # the exact LSE, still shown in full
    assert repr(lse_exact([1, 2])) in out


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("args", [["lse", "1", "2"], ["softmax", "1", "2", "-T", "2"],
                                  ["sigmoid", "--chart"], ["exp-range", "--chart"],
                                  ["metrics", "--logits", "1,2,-1", "--labels", "1,0,1"],
                                  ["underflow"], ["--help"], ["lse", "--help"]])
def test_every_output_fits_the_encoding(encoding, args):
    p = run(*args, env=_env(PYTHONIOENCODING=encoding))
    assert p.returncode == 0, p.stderr.decode(encoding)
    p.stdout.decode(encoding)
    assert p.stderr == b""


def test_json_is_ascii_whatever_the_encoding():
    p = run("lse", "1", "2", "--dtype", "float64", "--method", "shifted", "--json",
            env=_env(PYTHONIOENCODING="latin-1"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.isascii()
    doc = json.loads(p.stdout)
    assert doc["rows"][0]["reference"] == lse_exact([1, 2])
    assert "Σ" in " ".join(doc["notes"])  # escaped (\u03a3), not lost


def test_error_line_on_an_ascii_stderr():
    p = run("lse", "1e400", env=_env(PYTHONIOENCODING="ascii"))
    line = one_error_line(p, 2, "1e400", "beyond the float64 range")
    assert line.isascii()


# --- file names that are not UTF-8 --------------------------------------------------------------

def test_non_utf8_path_gives_valid_json_and_messages(tmp_path):
    name = os.path.join(os.fsencode(tmp_path), b"bad\xffname.txt")
    with open(name, "wb") as f:
        f.write(b"1 2\n3 4\n")
    for env in (_env(), _env(LC_ALL="C.UTF-8")):
        p = subprocess.run([SMOOTH.encode(), b"lse", b"--file", name, b"--json", b"--dtype",
                            b"float64"], capture_output=True, timeout=120, env=env)
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout.decode("utf-8"))  # strict UTF-8, strict JSON
        assert doc["input"]["source"].endswith("bad\\xffname.txt")
        table = subprocess.run([SMOOTH.encode(), b"lse", b"--file", name], capture_output=True,
                               timeout=120, env=env)
        assert table.returncode == 0
        table.stdout.decode("utf-8")
    missing = os.path.join(os.fsencode(tmp_path), b"no\xfename.txt")
    p = subprocess.run([SMOOTH.encode(), b"lse", b"--file", missing], capture_output=True,
                       timeout=120, env=_env())
    one_error_line(p, 2, "no such file", "no\\xfename.txt")


# --- Ctrl-C during start-up ---------------------------------------------------------------------

def _interpreter_startup() -> float:
    """How long the interpreter takes before the console script's own code can run (its site
    imports, the script's ``import re``): no project code can answer a SIGINT before that."""
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import re, sys"], check=True, env=_env())
        times.append(time.perf_counter() - t)
    return min(times)


def _interrupted_at(delay: float) -> tuple[int, bytes, str]:
    proc = subprocess.Popen([SMOOTH, "lse", "1", "2", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env())
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err.decode()


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery")
def test_sigint_during_startup_is_one_line_exit_130():
    """A Ctrl-C at any moment after the interpreter itself has started ends with one line and
    exit 130.  The interpreter's own start-up (site imports, the console script's first lines)
    runs before any project code can install a handler; on a loaded machine the measured
    start-up is only an estimate, so a sample that still lands there (a KeyboardInterrupt raised
    outside smoothcli's code) is drawn again, up to three times, a little later."""
    base = _interpreter_startup()
    seen = set()
    for delay in (0.010, 0.030, 0.060, 0.100):
        for attempt in range(3):
            code, out, err = _interrupted_at(base + delay + 0.02 * attempt)
            # before smoothcli installed its handler: no frame of smoothcli/ in the traceback
            last = err.split("Traceback")[-1]
            too_early = "Traceback" in err and "smoothcli/" not in last
            if not too_early:
                break
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, (delay, err)
        if code == 130:
            assert err == "smooth: interrupted\n" and out == b""
        else:  # it finished before the signal arrived
            assert code == 0 and err == "", (delay, code, err)
        seen.add(code)
    assert 130 in seen


# --- smooth metrics: one-column logits, messages -----------------------------------------------

def _binary_accuracy(logits, labels) -> float:
    with mpmath.workprec(200):
        total = mpmath.fsum(sigmoid_exact(s) if t else 1 - sigmoid_exact(s)
                            for s, t in zip(logits, labels))
        return float(total / len(logits))


@pytest.mark.parametrize("logits, labels", [("1;2", "0;1"), ("1;2", "0,1"), ("1;2;", "0;1")])
def test_metrics_one_column_logits_are_binary(logits, labels):
    p = run("metrics", "--logits", logits, "--labels", labels, "--dtype", "float64", "--json")
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert doc["task"] == "binary" and doc["n"] == 2
    acc = next(r for r in doc["rows"] if r["function"] == "accuracy")
    assert acc["reference"] == _binary_accuracy([1, 2], [0, 1])


def test_metrics_n_by_1_npy_logits(tmp_path):
    x = np.array([[1.5], [-2.0], [0.25], [3.0]])
    np.save(tmp_path / "col.npy", x)
    np.save(tmp_path / "y.npy", np.array([1, 0, 0, 1], dtype=np.int64))
    p = run("metrics", "--logits", str(tmp_path / "col.npy"), "--labels",
            str(tmp_path / "y.npy"), "--dtype", "float64", "--json")
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    acc = next(r for r in doc["rows"] if r["function"] == "accuracy")
    assert acc["reference"] == _binary_accuracy(x[:, 0], [1, 0, 0, 1])
    one_error_line(run("metrics", "--logits", str(tmp_path / "col.npy"), "--labels",
                       "1,0,0,1", "--task", "multiclass"), 2, "at least 2 logits")


def test_non_finite_logit_is_shown_as_inf():
    line = one_error_line(run("metrics", "--logits", "inf,1", "--labels", "1,0"), 2,
                          "value 0 is inf in float16")
    assert "np." not in line


# --- messages that showed internals -------------------------------------------------------------

def test_option_name_after_double_dash_is_a_value():
    one_error_line(run("lse", "1", "--", "--json"), 2, "not a number: '--json'")
    one_error_line(run("lse", "1", "--", "2", "--dtyp"), 2, "not a number: '--dtyp'")
    # before '--' a mistyped option is still reported as one, with click's suggestion
    one_error_line(run("lse", "1", "--dtyp", "float16"), 2, "No such option '--dtyp'",
                   "Did you mean '--dtype'?")


def test_symlink_loop_is_named(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    line = one_error_line(run("lse", "--file", str(tmp_path / "a")), 2,
                          "too many levels of symbolic links")
    assert "no such file" not in line
    one_error_line(run("metrics", "--logits", str(tmp_path / "a"), "--labels", "1"), 2,
                   "--logits", "too many levels of symbolic links")


# --- --max-ulp uses the number grammar -----------------------------------------------------------

@pytest.mark.parametrize("value", ["1_0", "0x10", "１０", "1e400", "inf", "nan", "-1", ""])
def test_max_ulp_refusals(value):
    one_error_line(run("lse", "1", "2", "--check", "--max-ulp", value), 2, "--max-ulp")


def test_max_ulp_accepts_decimals():
    # float16 LSE(1, 2) is 2.3125 against 2.31326...: about 0.39 ULP (float16's ULP there is
    # 2**-9), computed here from the exact value
    exact = mpmath.log(mpmath.e + mpmath.e ** 2)
    ulps = float(abs(mpmath.mpf(2.3125) - exact) / mpmath.mpf(2) ** -9)
    assert 0.3 < ulps < 0.5
    args = ["lse", "1", "2", "--dtype", "float16", "--method", "naive", "--check"]
    assert run(*args, "--max-ulp", "0.5").returncode == 0
    assert run(*args, "--max-ulp", " 1e-1").returncode == 1


# --- --png / --svg: complete files, no side effects ----------------------------------------------

def _limit_file_size(limit: int):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@linux
def test_figure_on_a_full_disk_leaves_no_partial_file(tmp_path):
    """RLIMIT_FSIZE makes writes beyond 20 kB fail (EFBIG; Python ignores SIGXFSZ), as a full
    file system would: the old file stays as it was, no temporary file is left."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "fig.png"
    target.write_bytes(b"old contents")
    p = subprocess.run([SMOOTH, "sigmoid", "--chart", "--png", str(target)], capture_output=True,
                       timeout=120, env=_env(TMPDIR=str(tmp_path)),
                       preexec_fn=_limit_file_size(20_000))
    one_error_line(p, EX_IOERR, "cannot write output", "fig.png")
    assert target.read_bytes() == b"old contents"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fig.png"]


def test_figure_writes_nothing_else_and_runs_no_fc_list(tmp_path):
    pytest.importorskip("matplotlib")
    home, tmp, fake = tmp_path / "home", tmp_path / "tmp", tmp_path / "bin"
    for d in (home, tmp, fake):
        d.mkdir()
    marker = tmp_path / "fc-list-ran"
    (fake / "fc-list").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (fake / "fc-list").chmod(0o755)
    env = _env(HOME=str(home), TMPDIR=str(tmp), PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env.pop(var, None)
    out = tmp_path / "s.svg"
    p = subprocess.run([SMOOTH, "sigmoid", "--chart", "--svg", str(out)], capture_output=True,
                       timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes().startswith(b"<?xml")
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []
    assert not marker.exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_user_mplconfigdir_is_used(tmp_path):
    pytest.importorskip("matplotlib")
    conf = tmp_path / "mpl"
    conf.mkdir()
    env = _env(MPLCONFIGDIR=str(conf))
    p = subprocess.run([SMOOTH, "exp-range", "--svg", str(tmp_path / "r.svg")],
                       capture_output=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert any(f.name.startswith("fontlist") for f in conf.iterdir())  # matplotlib's cache
    assert (tmp_path / "r.svg").read_bytes().startswith(b"<?xml")
