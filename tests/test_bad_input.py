"""The bad-input corpus: every case exits 2 with one line ``smooth: error: ...`` on
stderr that names the offending thing, prints nothing on stdout and never a traceback.

Each case runs twice: through typer's CliRunner (``smoothcli.cli.app``) and through the console
entry point ``smoothcli.cli.main`` in-process (the code path of the installed ``smooth``); one
case also runs the installed script in a subprocess.  The ``--file`` cases turn
themselves on when the option exists (checked at run time) and are skipped, saying so, until then.

Decisions this corpus pins down (docs/errors.md):

* numbers are ASCII decimals (``inf``/``nan`` too); hex floats, underscores, Unicode digits
  (``١٢``, which Python's ``float`` accepts), ``1,5``, more than 4000 digits and exponents beyond
  ±9999 are refused, and so is anything beyond the float64 range (``1e400``);
* ``.npy`` data must be float16/float32/float64: an integer, boolean, complex, object (pickled)
  or other array is refused with a hint to cast it (``arr.astype(np.float32)``), as decided with
  the loader (smoothcli/engine/inputs.py): integer arrays are usually labels or token ids, and an
  int64 beyond 2**53 would have no exact float64 value to show.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from typer.testing import CliRunner

from smoothcli.cli import app


def _has_option(command: str, option: str) -> bool:
    import click
    import typer.main

    cmd = typer.main.get_command(app).commands.get(command)
    return cmd is not None and any(
        isinstance(p, click.Option) and option in p.opts for p in cmd.params)


HAS_FILE = _has_option("lse", "--file")
needs_file = pytest.mark.skipif(not HAS_FILE, reason="--file is not "
                                "wired into the CLI yet; these cases turn on when it is")


@dataclass
class Case:
    id: str
    args: list[str]  # "{tmp}" is replaced by the case's temporary directory
    expect: list[str]  # substrings of the one error line (case-sensitive)
    setup: Callable[[Path], None] | None = None
    stdin: bytes = b""
    marks: list = field(default_factory=list)

    def param(self):
        return pytest.param(self, id=self.id, marks=self.marks)


# --------------------------------------------------------------------------------------------
# file builders (each writes into the case's tmp directory)

def _write(name: str, data: bytes | str):
    def setup(tmp: Path):
        (tmp / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def _npy(name: str, arr_factory: Callable[[], np.ndarray], allow_pickle: bool = False):
    def setup(tmp: Path):
        np.save(tmp / name, arr_factory(), allow_pickle=allow_pickle)
    return setup


def _truncated(tmp: Path):
    np.save(tmp / "cut.npy", np.arange(100, dtype=np.float64))
    data = (tmp / "cut.npy").read_bytes()
    (tmp / "cut.npy").write_bytes(data[:len(data) - 300])  # header intact, data cut short


def _header_only(tmp: Path):
    np.save(tmp / "head.npy", np.arange(4, dtype=np.float32))
    (tmp / "head.npy").write_bytes((tmp / "head.npy").read_bytes()[:20])  # inside the header


class Payload:
    """Unpickling this would call open(marker, "w"), creating the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickled(tmp: Path):
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = Payload(str(tmp / "PWNED")), 1.0
    np.save(tmp / "evil.npy", arr, allow_pickle=True)
    assert not (tmp / "PWNED").exists()


def _socket_file(tmp: Path):
    """A path that exists but cannot be opened for reading (open() of a UNIX socket: ENXIO),
    whoever runs the tests -- root included, for whom chmod 000 does not stop a read."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp / "sock"))
    s.close()


def _chmod000(tmp: Path):
    (tmp / "secret.txt").write_text("1 2 3\n")
    (tmp / "secret.txt").chmod(0)


# --------------------------------------------------------------------------------------------
# the corpus

VALUES = [
    Case("word", ["lse", "abc"], ["not a number", "'abc'"]),
    Case("decimal-comma", ["lse", "1,5"], ["'1,5'", "decimal point"]),
    Case("hex-float", ["lse", "0x1p3"], ["'0x1p3'", "hex"]),
    Case("beyond-float64", ["lse", "1e400"], ["'1e400'", "float64 range"]),
    Case("negative-beyond-float64", ["lse", "1", "-2e308"], ["'-2e308'", "float64 range"]),
    Case("empty-string", ["lse", ""], ["empty value"]),
    Case("blank-string", ["lse", "  "], ["empty value"]),
    Case("arabic-indic-digits", ["lse", "١٢"], ["'١٢'", "ASCII"]),
    Case("fullwidth-digits", ["lse", "１２"], ["'１２'", "ASCII"]),
    Case("unicode-minus", ["lse", "\u22121"], ["ASCII"]),
    Case("underscore", ["lse", "1_000"], ["'1_000'"]),
    Case("exponent-only", ["lse", "1e"], ["'1e'"]),
    Case("lone-dot", ["lse", "."], ["'.'"]),
    Case("double-sign", ["lse", "+-1"], ["'+-1'"]),
    Case("two-numbers-one-token", ["lse", "1 2"], ["'1 2'"]),
    Case("nul-byte", ["lse", "1\x00"], ["not a number"]),
    Case("nan-payload", ["lse", "nan(0x1)"], ["'nan(0x1)'"]),
    Case("huge-exponent", ["lse", "1e99999"], ["exponent", "9999"]),
    Case("huge-exponent-digits", ["lse", "1e-" + "9" * 40], ["exponent"]),
    Case("too-many-digits", ["lse", "1" * 5000], ["too many digits", "4000"]),
    Case("softmax-word", ["softmax", "1", "x"], ["'x'"]),
    Case("bounds-word", ["bounds", "1", "two"], ["'two'"]),
    Case("underflow-word", ["underflow", "oops"], ["'oops'"]),
    Case("no-values-lse", ["lse"], ["no values"]),
    Case("no-values-softmax", ["softmax"], ["no values"]),
    Case("no-values-bounds", ["bounds"], ["no values"]),
    Case("no-values-only-options", ["lse", "--dtype", "float16"], ["no values"]),
]

OPTIONS = [
    Case("unknown-dtype", ["lse", "1", "--dtype", "float12"], ["'float12'", "dtype"]),
    Case("empty-dtype", ["lse", "1", "--dtype", ""], ["dtype"]),
    Case("empty-dtype-in-list", ["lse", "1", "--dtype", "float16,,float32"], ["dtype"]),
    Case("unknown-method", ["lse", "1", "--method", "fancy"], ["'fancy'", "method"]),
    Case("softmax-only-method-on-lse", ["lse", "1", "--method", "exp-lse"], ["'exp-lse'"]),
    Case("unknown-sum", ["lse", "1", "--sum", "kahan"], ["'kahan'", "--sum"]),
    Case("max-ulp-negative", ["lse", "1", "--check", "--max-ulp", "-1"], ["--max-ulp", "'-1'"]),
    Case("max-ulp-word", ["lse", "1", "--max-ulp", "abc"], ["--max-ulp", "'abc'"]),
    Case("max-ulp-nan", ["lse", "1", "--max-ulp", "nan"], ["--max-ulp", "'nan'"]),
    Case("max-ulp-inf", ["lse", "1", "--max-ulp", "inf"], ["--max-ulp", "'inf'"]),
    Case("max-ulp-empty", ["lse", "1", "--max-ulp", ""], ["--max-ulp"]),
    Case("max-ulp-unicode-digit", ["lse", "1", "--max-ulp", "١"], ["--max-ulp"]),
    Case("max-ulp-missing-value", ["lse", "1", "--max-ulp"], ["--max-ulp", "requires"]),
    Case("dtype-missing-value", ["lse", "1", "--dtype"], ["--dtype", "requires"]),
    Case("mistyped-option", ["lse", "1", "--dtyp", "float16"], ["--dtyp", "Did you mean"]),
    Case("unknown-option", ["lse", "1", "--frobnicate"], ["--frobnicate"]),
    Case("unknown-command", ["lsee", "1"], ["'lsee'", "Did you mean"]),
    Case("unknown-root-option", ["--bogus"], ["--bogus"]),
    Case("k-zero", ["bounds", "1", "2", "--k", "0"], ["--k", "'0'"]),
    Case("k-negative", ["bounds", "1", "2", "--k", "-1"], ["--k", "'-1'"]),
    Case("k-word", ["bounds", "1", "2", "--k", "abc"], ["'abc'"]),
    Case("k-zero-in-dtype", ["bounds", "1", "2", "--k", "1e-9999"], ["--k 1e-9999", "0.0"]),
    Case("k-inf-in-dtype", ["bounds", "1", "2", "--k", "1e30", "--dtype", "float16"],
         ["--k 1e30", "inf", "float16"]),
    Case("bounds-of-inf", ["bounds", "1", "inf"], ["finite"]),
]

F = [needs_file]
FILES = [
    Case("empty-file", ["lse", "--file", "{tmp}/empty.txt"], ["empty.txt", "no"],
         _write("empty.txt", b""), marks=F),
    Case("only-comments", ["lse", "--file", "{tmp}/c.txt"], ["c.txt", "no"],
         _write("c.txt", "# logits\n\n# none\n"), marks=F),
    Case("text-in-file", ["lse", "--file", "{tmp}/words.txt"], ["words.txt", "'abc'"],
         _write("words.txt", "1 2 abc\n"), marks=F),
    Case("hex-in-file", ["softmax", "--file", "{tmp}/hex.txt"], ["hex.txt", "'0x1p3'"],
         _write("hex.txt", "1\n0x1p3\n"), marks=F),
    Case("unicode-digits-in-file", ["lse", "--file", "{tmp}/u.txt"], ["u.txt", "ASCII"],
         _write("u.txt", "1 ١٢\n"), marks=F),
    Case("beyond-float64-in-file", ["lse", "--file", "{tmp}/big.txt"], ["'1e400'", "range"],
         _write("big.txt", "1 1e400\n"), marks=F),
    Case("ragged-csv", ["lse", "--file", "{tmp}/r.csv"], ["r.csv", "ragged", "line 2"],
         _write("r.csv", "1,2,3\n4,5\n6,7,8\n"), marks=F),
    Case("latin1-text", ["lse", "--file", "{tmp}/l1.txt"], ["l1.txt", "UTF-8"],
         _write("l1.txt", b"1 2 \xe9\n"), marks=F),
    Case("npy-object", ["lse", "--file", "{tmp}/obj.npy"], ["obj.npy", "object"],
         _npy("obj.npy", lambda: np.array([1.0, "x"], dtype=object), True), marks=F),
    Case("npy-int", ["lse", "--file", "{tmp}/i.npy"], ["i.npy", "integer", "int64"],
         _npy("i.npy", lambda: np.arange(5, dtype=np.int64)), marks=F),
    Case("npy-uint8", ["lse", "--file", "{tmp}/u8.npy"], ["u8.npy", "integer"],
         _npy("u8.npy", lambda: np.arange(5, dtype=np.uint8)), marks=F),
    Case("npy-bool", ["lse", "--file", "{tmp}/b.npy"], ["b.npy", "boolean"],
         _npy("b.npy", lambda: np.array([True, False])), marks=F),
    Case("npy-complex", ["lse", "--file", "{tmp}/c.npy"], ["c.npy", "complex"],
         _npy("c.npy", lambda: np.array([1 + 2j, 3j])), marks=F),
    Case("npy-string", ["lse", "--file", "{tmp}/s.npy"], ["s.npy", "string"],
         _npy("s.npy", lambda: np.array(["1.0", "2.0"])), marks=F),
    Case("npy-structured", ["lse", "--file", "{tmp}/st.npy"], ["st.npy", "structured"],
         _npy("st.npy", lambda: np.zeros(3, dtype=[("a", "f8"), ("b", "f8")])), marks=F),
    Case("npy-longdouble", ["lse", "--file", "{tmp}/ld.npy"], ["ld.npy", "float"],
         _npy("ld.npy", lambda: np.ones(3, dtype=np.longdouble)),
         marks=F + [pytest.mark.skipif(np.dtype(np.longdouble).itemsize == 8,
                                       reason="long double is float64 on this platform")]),
    Case("npy-0d", ["lse", "--file", "{tmp}/z.npy"], ["z.npy", "0-D"],
         _npy("z.npy", lambda: np.array(1.5)), marks=F),
    Case("npy-empty", ["lse", "--file", "{tmp}/e.npy"], ["e.npy", "empty"],
         _npy("e.npy", lambda: np.zeros(0)), marks=F),
    Case("npy-3d", ["lse", "--file", "{tmp}/t.npy"], ["t.npy", "3-D"],
         _npy("t.npy", lambda: np.zeros((2, 3, 4))), marks=F),
    Case("npy-truncated", ["lse", "--file", "{tmp}/cut.npy"], ["cut.npy", "truncated"],
         _truncated, marks=F),
    Case("npy-header-cut", ["lse", "--file", "{tmp}/head.npy"], ["head.npy"],
         _header_only, marks=F),
    Case("npy-name-but-text", ["lse", "--file", "{tmp}/fake.npy"], ["fake.npy", ".npy"],
         _write("fake.npy", "1 2 3\n"), marks=F),
    Case("axis-out-of-range-2d", ["lse", "--file", "{tmp}/m.npy", "--axis", "2"],
         ["--axis 2", "out of range"], _npy("m.npy", lambda: np.zeros((2, 3))), marks=F),
    Case("axis-out-of-range-1d", ["lse", "--file", "{tmp}/v.npy", "--axis", "1"],
         ["--axis 1", "out of range"], _npy("v.npy", lambda: np.zeros(3)), marks=F),
    Case("axis-not-a-number", ["lse", "--file", "{tmp}/v2.npy", "--axis", "x"], ["--axis"],
         _npy("v2.npy", lambda: np.zeros(3)), marks=F),
    Case("directory", ["lse", "--file", "{tmp}"], ["directory"], marks=F),
    Case("missing-file", ["lse", "--file", "{tmp}/nope.npy"], ["nope.npy", "no such file"],
         marks=F),
    Case("unreadable-socket", ["lse", "--file", "{tmp}/sock"], ["sock", "cannot read"],
         _socket_file, marks=F),
    Case("unreadable-chmod-000", ["lse", "--file", "{tmp}/secret.txt"], ["secret.txt"],
         _chmod000, marks=F + [pytest.mark.skipif(
             os.geteuid() == 0, reason="running as root: chmod 000 does not stop root reading; "
             "the unreadable-socket case covers an unreadable path")]),
    Case("file-and-values", ["lse", "1", "--file", "{tmp}/ok.txt"], ["not both"],
         _write("ok.txt", "1 2\n"), marks=F),
    Case("binary-garbage-stdin", ["lse", "--file", "-"], ["<stdin>", "binary"],
         stdin=bytes(range(256)) * 4, marks=F),
    Case("binary-garbage-piped", ["lse"], ["<stdin>", "binary"],
         stdin=b"\x00\x01\x02\xff" * 100, marks=F),
    Case("empty-stdin-with-dash", ["lse", "--file", "-"], ["no values"], marks=F),
    Case("text-on-stdin", ["softmax", "--file", "-"], ["<stdin>", "'two'"],
         stdin=b"1\ntwo\n", marks=F),
    Case("pickled-npy-never-unpickled", ["lse", "--file", "{tmp}/evil.npy"],
         ["evil.npy", "object"], _pickled, marks=F),
]

CORPUS = VALUES + OPTIONS + FILES


# --------------------------------------------------------------------------------------------
# running a case

def _args(case: Case, tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in case.args]


def run_runner(args: list[str], stdin: bytes):
    result = CliRunner().invoke(app, args, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))
    return result.exit_code, result.stdout, result.stderr


def run_main(args: list[str], stdin: bytes):
    """``smoothcli.cli.main`` in-process, as the installed console script runs it."""
    from smoothcli.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.argv, sys.stdin
    sys.argv, sys.stdin = ["smooth", *args], io.TextIOWrapper(io.BytesIO(stdin))
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as e:
                code = 0 if e.code is None else e.code
    finally:
        sys.argv, sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def check_refusal(code: int, out: str, err: str, expect: list[str], where: str) -> None:
    assert code == 2, (where, code, err)
    assert out == "", (where, out[:300])
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, (where, err)
    line = lines[0]
    assert line.startswith("smooth: error: "), (where, line)
    for word in expect:
        assert word in line, (where, word, line)


@pytest.mark.parametrize("case", [c.param() for c in CORPUS])
def test_bad_input_exits_2_with_one_line_naming_the_problem(case: Case, tmp_path: Path):
    if case.setup:
        case.setup(tmp_path)
    args = _args(case, tmp_path)
    expect = [e.replace("{tmp}", str(tmp_path)) for e in case.expect]
    check_refusal(*run_runner(args, case.stdin), expect, "CliRunner")
    check_refusal(*run_main(args, case.stdin), expect, "main()")


@needs_file
def test_crafted_pickle_npy_never_runs_its_payload(tmp_path: Path):
    """The payload would create ``PWNED`` if unpickled: loading must refuse the file and the
    marker must not exist afterwards (np.load(..., allow_pickle=False) everywhere)."""
    _pickled(tmp_path)
    # sanity: the payload is live -- unpickling it really creates the marker
    probe = tmp_path / "probe"
    arr = np.empty(1, dtype=object)
    arr[0] = Payload(str(probe))
    np.save(tmp_path / "probe.npy", arr, allow_pickle=True)
    np.load(tmp_path / "probe.npy", allow_pickle=True)
    assert probe.exists(), "the test payload does not work: it proves nothing"
    for command in ("lse", "softmax", "bounds", "underflow"):
        code, out, err = run_runner([command, "--file", str(tmp_path / "evil.npy")], b"")
        check_refusal(code, out, err, ["object"], command)
        code, out, err = run_runner([command, "--file", "-"],
                                    (tmp_path / "evil.npy").read_bytes())
        check_refusal(code, out, err, ["object"], command + " (stdin)")
        assert not (tmp_path / "PWNED").exists()


def test_installed_script_refuses_the_same_way(tmp_path: Path):
    """The console script itself (a real process): one line, exit 2, nothing on stdout."""
    script = Path(sys.executable).with_name("smooth")
    if not script.exists():
        pytest.skip("the smooth console script is not installed next to this python")
    for args, expect in ((["lse", "0x1p3"], ["hex"]), (["lse", "1", "--dtyp", "x"], ["--dtyp"]),
                         (["lse", "--max-ulp"], ["--max-ulp"])):
        p = subprocess.run([str(script), *args], capture_output=True, text=True, cwd=tmp_path,
                           stdin=subprocess.DEVNULL, timeout=60)
        check_refusal(p.returncode, p.stdout, p.stderr, expect, "subprocess")


def test_bare_smooth_prints_help_and_exits_2():
    """`smooth` alone asks for a command: the help, on stderr, exit 2 (click's no_args_is_help);
    the one exception to the one-line rule, documented in README."""
    code, out, err = run_main([], b"")
    assert code == 2 and out == ""
    assert "Usage: smooth" in err and "Commands:" in err and "Traceback" not in err


def test_help_and_version_exit_0():
    for args in (["--help"], ["lse", "--help"], ["--version"]):
        code, out, err = run_main(args, b"")
        assert code == 0 and err == "" and out, args


# --------------------------------------------------------------------------------------------
# ... and what the grammar accepts (docs/errors.md)

ACCEPTED = [  # (token, exact value or special); the float64 rounding of the value is checked
    ("-0", "-0"), ("+.5", "1/2"), ("5.", "5"), ("1E3", "1000"), ("  7  ", "7"),
    ("-1.25e-2", "-1/80"), ("INF", "inf"), ("-Infinity", "-inf"), ("NaN", "nan"),
    ("+inf", "inf"), ("1e-9999", "0"), ("0." + "0" * 3000 + "1", "0"),
    ("1" * 4000, None),  # 4000 digits: the most accepted (beyond the float64 range: refused)
    ("1e" + "0" * 300 + "2", "100"),  # a long but small exponent
]


@pytest.mark.parametrize("token,value", ACCEPTED, ids=[a[:12] for a, _ in ACCEPTED])
def test_the_number_grammar_accepts(token, value):
    import json
    import math
    from fractions import Fraction

    code, out, err = run_runner(["lse", token, "--dtype", "float64", "--method", "shifted",
                                 "--json"], b"")
    if value is None:  # 4000 ones: a number, but beyond float64: the range message
        check_refusal(code, out, err, ["float64 range"], "4000 digits")
        return
    assert code == 0, err
    got = json.loads(out)["inputs"][0]["rounded"]["float64"]
    if value in ("inf", "-inf", "nan"):
        assert got == value
    elif value == "-0":
        assert got == 0 and math.copysign(1, got) < 0
    else:  # int / int true division is correctly rounded in CPython
        assert got == float(Fraction(value))
