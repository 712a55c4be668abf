"""CLI conventions: the default summation model, help texts, aliases, pasted inputs, messages.

Every expectation is written here or computed here with numpy / mpmath (and ml_dtypes' own
np.sum): exact one-line messages, exit statuses, and the numbers a user's numpy code gets.
Most cases run the installed ``smooth`` script in a subprocess (pipes, shell completion, the
examples of the help texts are shell command lines).
"""

from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import mpmath
import numpy as np
import pytest

BIN = Path(sys.executable).parent
SMOOTH = str(BIN / "smooth")
COMMANDS = ["lse", "softmax", "exp-range", "bounds", "underflow", "sweep", "sigmoid", "abs",
            "metrics"]


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SMOOTH_DEBUG", "PYTHONIOENCODING")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(*args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run([SMOOTH, *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=300, env=env or _env())


def error_line(p: subprocess.CompletedProcess) -> str:
    """The one line on stderr of a usage error (exit 2, nothing on stdout)."""
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def doc(*args: str, stdin: str | None = None) -> dict:
    import json

    p = run(*args, "--json", stdin=stdin)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def table_cell(text: str, method: str, column: str) -> str:
    """The ``column`` cell of the summary line of ``method`` in a table (columns are separated
    by two or more spaces; the header names them)."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if column in line and "method" in line)
    names = re.split(r"\s{2,}", lines[header].strip())
    for line in lines[header + 1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == len(names) and cells[names.index("method")] == method:
            return cells[names.index(column)]
    raise AssertionError(f"no {method} line under {lines[header]!r}")


# --- the default --sum is what numpy code computes ----------------------------------------------

def _softmax_worst_ulp(row32: np.ndarray, total) -> float:
    """The worst ULP error (float32 ULPs at the exact value) of the shifted softmax of one
    float32 row when Σ exp is ``total(terms)``; the exact values in float64 (error ~1e-15
    relative, far below the 2**-24 of a float32 ULP)."""
    m = row32.max()
    t = np.exp(row32 - m)
    y = t / total(t)
    assert y.dtype == np.float32
    d = row32.astype(np.float64) - float(m)
    e = np.exp(d)
    ref = e / math.fsum(e)
    exponent = np.frexp(ref)[1] - 1
    ulp = np.ldexp(1.0, np.maximum(exponent, -126) - 23)
    return float(np.max(np.abs(y.astype(np.float64) - ref) / ulp))


def _sequential(t: np.ndarray):
    s = np.float32(0)
    for v in t:  # strictly left to right, every partial sum a float32
        s = np.float32(s + v)
    return s


def test_default_sum_is_numpy_and_far_more_accurate_than_sequential(tmp_path):
    """64 × 32768 float32 logits: shifted softmax's worst ULP with the default sum (numpy's
    pairwise np.sum) is well below the strict left-to-right sum's, and both agree with a
    recomputation in numpy."""
    rng = np.random.default_rng(20240)
    x = (rng.standard_normal((64, 32768)) * 4).astype(np.float32)
    path = tmp_path / "logits.npy"
    np.save(path, x)
    base = ["softmax", "--file", str(path), "--dtype", "float32", "--method", "shifted"]
    default = run(*base)
    strict = run(*base, "--sum", "sequential")
    assert default.returncode == 0 and strict.returncode == 0, (default.stderr, strict.stderr)
    got_pw = float(table_cell(default.stdout, "shifted", "worst ULP"))
    got_seq = float(table_cell(strict.stdout, "shifted", "worst ULP"))

    pairwise = [_softmax_worst_ulp(r, np.sum) for r in x]
    sequential = [_softmax_worst_ulp(r, lambda t: np.add.accumulate(t)[-1]) for r in x]
    # one row recomputed with a plain Python loop: np.add.accumulate is that loop
    worst_row = int(np.argmax(sequential))
    assert _softmax_worst_ulp(x[worst_row], _sequential) == sequential[worst_row]
    assert got_pw == pytest.approx(max(pairwise), rel=5e-3)
    assert got_seq == pytest.approx(max(sequential), rel=5e-3)
    assert int(table_cell(default.stdout, "shifted", "worst row")) == int(np.argmax(pairwise))
    assert int(table_cell(strict.stdout, "shifted", "worst row")) == worst_row
    assert got_pw * 10 < got_seq  # "well below": 32.9 against 1250 for this seed


def test_default_sum_reproduces_np_sum_for_float16_and_bfloat16():
    import ml_dtypes

    zeros = ["0"] * 5000  # shifted terms exp(0) = 1: Σ is what np.sum of 5000 ones gives
    want16 = float(np.sum(np.ones(5000, np.float16)))  # pairwise, float32 partial sums
    wantbf = float(np.sum(np.ones(5000, ml_dtypes.bfloat16)))  # left to right in bfloat16
    assert (want16, wantbf) == (5000.0, 256.0)
    d = doc("lse", *zeros, "--dtype", "float16,bfloat16", "--method", "shifted")
    assert d["settings"]["sum"] == "pairwise"
    assert {r["dtype"]: r["sumexp"] for r in d["rows"]} == {"float16": want16,
                                                           "bfloat16": wantbf}
    strict = doc("lse", *zeros, "--dtype", "float16", "--method", "stable", "--sum",
                 "sequential")
    assert strict["rows"][0]["sumexp"] == 2048.0  # 2048 + 1 rounds back to 2048 in float16
    wide = doc("lse", *zeros, "--dtype", "bfloat16", "--method", "shifted", "--acc", "float32")
    assert wide["rows"][0]["sumexp"] == 5000.0


# --- help texts ---------------------------------------------------------------------------------

def _help(*command: str) -> str:
    p = run(*command, "--help")
    assert p.returncode == 0, p.stderr
    return p.stdout


def _examples(text: str) -> list[str]:
    after = text.split("Examples:", 1)[1]
    return [line.strip() for line in after.splitlines() if "smooth" in line]


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS], ids=lambda c: c[0] if c
                         else "smooth")
def test_every_help_has_examples_that_run(command):
    text = _help(*command)
    assert "Examples:" in text
    examples = _examples(text)
    assert len(examples) >= 1
    for line in examples:
        p = subprocess.run(["bash", "-c", "set -o pipefail; " + line], capture_output=True,
                           text=True, timeout=300, env=_env(MPLBACKEND="Agg"),
                           stdin=subprocess.DEVNULL)
        assert p.returncode in (0, 1), (line, p.returncode, p.stderr)
        assert "Traceback" not in p.stderr


def _own_options(text: str) -> set[str]:
    section = text.split("Options:", 1)[1].split("Examples:", 1)[0]
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", section, re.MULTILINE))


@pytest.mark.parametrize("command", COMMANDS)
def test_help_mentions_only_options_the_command_has(command):
    text = _help(command)
    own = _own_options(text)
    assert "--help" in own
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    assert mentioned <= own, (command, sorted(mentioned - own))


def test_exp_range_help_does_not_mention_max_ulp():
    assert "--max-ulp" not in _help("exp-range")


ALIASES = ["half", "fp16", "f16", "single", "fp32", "f32", "double", "fp64", "f64", "bf16",
           "e4m3", "e4m3fn", "fp8_e4m3", "e5m2", "fp8_e5m2"]
DTYPES = ["float16", "float32", "float64", "bfloat16", "float8_e4m3fn", "float8_e5m2", "all"]


def _option_help(text: str, option: str) -> str:
    """The help of ``option``: its line and the indented lines that continue it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if re.match(rf"\s+(?:-\w, )?{re.escape(option)}\b", line))
    text = lines[start].strip()
    for line in lines[start + 1:]:
        if re.match(r"\s+-", line) or not line.startswith("      "):
            break
        # click wraps after a hyphen too ("log1p-exp-" / "lse"): join those without a space
        text += ("" if text.endswith("-") else " ") + line.strip()
    return " ".join(text.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_dtype_help_lists_names_and_aliases(command):
    text = _option_help(_help(command), "--dtype")
    for name in DTYPES + ALIASES:
        assert re.search(rf"(?<![\w-]){name}(?![\w-])", text), (command, name)


@pytest.mark.parametrize("alias, name", [("bf16", "bfloat16"), ("half", "float16"),
                                         ("fp16", "float16"), ("e4m3", "float8_e4m3fn"),
                                         ("e4m3fn", "float8_e4m3fn"), ("e5m2", "float8_e5m2"),
                                         ("f64", "float64")])
def test_dtype_aliases_are_read(alias, name):
    assert doc("lse", "1", "2", "--dtype", alias)["settings"]["dtypes"] == [name]


@pytest.mark.parametrize("command, option, choices", [
    ("lse", "--sum", ["pairwise", "sequential"]),
    ("metrics", "--sum", ["pairwise", "sequential"]),
    ("lse", "--method", ["naive", "shifted", "stable", "log1p", "online", "all"]),
    ("softmax", "--method", ["naive", "shifted", "stable", "log1p", "online", "exp-lse",
                             "shifted-exp-lse", "log1p-exp-lse", "online-exp-lse", "all"]),
    ("sigmoid", "--method", ["naive", "stable"]),
    ("abs", "--method", ["naive", "cosh", "stable"]),
    ("metrics", "--method", ["stable", "naive"]),
    ("metrics", "--task", ["auto", "binary", "multiclass"]),
    ("sweep", "--unit", ["bits", "ulp"]),
    ("lse", "--peer", ["scipy", "torch"]),
])
def test_choices_are_listed_in_the_help(command, option, choices):
    text = _option_help(_help(command), option)
    for c in choices:
        assert re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text), (command, option, c)


def test_sum_help_shows_the_new_default():
    assert "[default: pairwise]" in _option_help(_help("softmax"), "--sum")


def test_short_version_option():
    want = f"smooth {version('smoothcli')}\n"
    for flag in ("-V", "--version"):
        p = run(flag)
        assert (p.returncode, p.stdout, p.stderr) == (0, want, "")


# --- shell completion ---------------------------------------------------------------------------

def test_completion_options_and_script():
    """The script for the shell that runs smooth (Typer finds it among the parent processes,
    so smooth runs from a bash here, as from a user's prompt; ``; exit`` keeps bash from
    replacing itself by smooth)."""
    text = _help()
    assert "--install-completion" in text and "--show-completion" in text
    p = subprocess.run(["bash", "-c", f"'{SMOOTH}' --show-completion; exit $?"],
                       capture_output=True, text=True, timeout=60, env=_env())
    assert p.returncode == 0 and "_SMOOTH_COMPLETE" in p.stdout, p.stderr
    assert "complete " in p.stdout  # bash's builtin that registers it


@pytest.mark.parametrize("words, cword, want", [("smooth ls", "1", "lse"),
                                                ("smooth lse --dt", "2", "--dtype")])
def test_completion_answers(words, cword, want):
    p = subprocess.run([SMOOTH], capture_output=True, text=True, timeout=60,
                       env=_env(_SMOOTH_COMPLETE="complete_bash", COMP_WORDS=words,
                                COMP_CWORD=cword))
    assert p.returncode == 0 and want in p.stdout.split(), (p.stdout, p.stderr)


def test_help_stays_fast_and_light():
    """``smooth --help`` imports none of the numerical libraries, and takes well under a
    second (a generous bound: measured about 0.07 s)."""
    code = ("import sys\nfrom smoothcli.cli import main\nsys.argv = ['smooth', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'mpmath', 'rich', 'ml_dtypes', 'scipy') "
            "if m in sys.modules]\nprint('HEAVY', heavy, file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env=_env())
    assert "HEAVY []" in p.stderr, p.stderr
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([SMOOTH, "--help"], capture_output=True, timeout=60, env=_env())
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 1.0, times


# --- 'stable' names each function's stable method -----------------------------------------------

@pytest.mark.parametrize("command, args, want", [
    ("lse", ["1", "2", "710"], "shifted"),
    ("softmax", ["1", "2", "710"], "shifted"),
    ("bounds", ["1", "2", "3"], "shifted"),
    ("underflow", ["-120", "0"], "shifted"),
])
def test_stable_is_shifted_for_the_lse_family(command, args, want):
    a = doc(command, *args, "--method", "stable")
    b = doc(command, *args, "--method", want)
    assert a["settings"]["methods"] == [want]
    assert a["rows"] == b["rows"]


@pytest.mark.parametrize("command, args", [("sigmoid", ["-20", "0", "20"]),
                                           ("abs", ["-1", "--k", "10"]),
                                           ("metrics", ["--logits", "2.5,-1", "--labels", "1,0"])])
def test_stable_is_stable_elsewhere(command, args):
    d = doc(command, *args, "--method", "stable")
    assert {r["method"] for r in d["rows"]} == {"stable"}


def test_stable_in_sweep():
    d = doc("sweep", "lse", "1", "2", "--shift", "0:10", "--steps", "3", "--method", "stable")
    assert {r["method"] for r in d["rows"]} == {"shifted"}


def test_unknown_method_names_the_alias():
    assert error_line(run("lse", "1", "--method", "kahan")) == (
        "smooth: error: unknown method 'kahan' (choose from naive, shifted, log1p, online "
        "(stable = shifted))")


# --- inputs as users paste them -----------------------------------------------------------------

def _values(d: dict) -> list:
    return [(r["dtype"], r["method"], r["value"]) for r in d["rows"]]


def test_comma_separated_argument():
    assert _values(doc("lse", "1,2,3")) == _values(doc("lse", "1", "2", "3"))


@pytest.mark.parametrize("args", [["[0.5, 1.5, -2.0]"], ["[0.5,", "1.5,", "-2.0]"],
                                  ["[0.5,1.5,-2.0]"], ["0.5,", "1.5", "-2.0"]])
def test_python_list_argument(args):
    want = _values(doc("softmax", "0.5", "1.5", "-2.0"))
    assert _values(doc("softmax", *args)) == want


@pytest.mark.parametrize("text", ["[0.5, 1.5, -2.0]\n", "[0.5, 1.5, -2.0,]", "0.5,1.5,-2.0\n"])
def test_python_list_on_stdin(text):
    want = _values(doc("softmax", "0.5", "1.5", "-2.0"))
    assert _values(doc("softmax", stdin=text)) == want


def test_list_of_rows_on_stdin():
    d = doc("softmax", "--dtype", "float64", "--method", "shifted",
            stdin="[[1, 2, 3], [4, 5, 7]]")
    assert d["input"]["shape"] == [2, 3]
    for r, row in zip(d["rows"], ([1, 2, 3], [4, 5, 7])):
        with mpmath.workdps(40):
            s = mpmath.fsum(mpmath.exp(v) for v in row)
            want = [float(mpmath.exp(v) / s) for v in row]
        assert r["value"] == pytest.approx(want, rel=4e-16)


def test_decimal_comma_stays_refused():
    assert error_line(run("lse", "1,5")) == (
        "smooth: error: not a number: '1,5' (use '.' as the decimal point: 1.5; for two values "
        "write '1 5')")


def test_empty_value_between_commas():
    assert error_line(run("lse", "1,,2")) == (
        "smooth: error: empty value between commas in '1,,2': write every value (nan for a "
        "missing one)")


def test_csv_header_is_a_clear_error(tmp_path):
    assert error_line(run("lse", stdin="a,b,c\n1,2,3\n")) == (
        "smooth: error: <stdin>, line 1 looks like a header ('a,b,c'): remove it or start it "
        "with #")
    path = tmp_path / "logits.csv"
    path.write_text("logit_0, logit_1\n1, 2\n3, 4\n")
    assert error_line(run("lse", "--file", str(path))) == (
        f"smooth: error: {path}, line 1 looks like a header ('logit_0, logit_1'): remove it or "
        "start it with #")
    # the way out the message gives works
    d = doc("lse", "--dtype", "float64", "--method", "shifted", stdin="# a,b,c\n1,2,3\n4,5,6\n")
    with mpmath.workdps(40):
        want = [float(mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row)))
                for row in ([1, 2, 3], [4, 5, 6])]
    assert [r["value"] for r in d["rows"]] == pytest.approx(want, rel=2.3e-16)


def test_a_single_word_is_not_a_header():
    assert error_line(run("lse", stdin="abc\n")) == (
        "smooth: error: <stdin>, line 1: not a number: 'abc'")


# --- messages -----------------------------------------------------------------------------------

def test_option_after_double_dash_says_where_options_go():
    line = error_line(run("lse", "--", "-800", "-900", "--dtype", "float64"))
    assert line == ("smooth: error: not a number: '--dtype' (every word after '--' is a value: "
                    "put options before '--', or drop it, as negative numbers need no '--': "
                    "smooth lse -800 -900 --dtype float64)")
    assert "Did you mean" not in line
    # the command it suggests works: LSE(-800, -900) = -800 + log1p(e^-100) = -800 in float64
    d = doc("lse", "-800", "-900", "--dtype", "float64", "--method", "shifted")
    with mpmath.workdps(60):
        want = float(-800 + mpmath.log1p(mpmath.exp(-100)))
    assert want == -800.0 and d["rows"][0]["value"] == want


def test_unknown_command_suggests_once():
    line = error_line(run("lsee", "1", "2"))
    assert line == ("smooth: error: No such command 'lsee'. Did you mean 'lse', 'sweep'? "
                    "(see 'smooth --help')")
    assert line.count("Did you mean") == 1


def test_mistyped_option_never_suggests_itself():
    line = error_line(run("lse", "1", "--dtyp", "float16"))
    assert line.count("Did you mean") == 1 and "'--dtype'" in line and "'--dtyp'?" not in line


@pytest.mark.parametrize("command, example", [
    ("lse", "smooth lse 710 12"), ("softmax", "smooth softmax 2.0 1.0 0.1"),
    ("bounds", "smooth bounds 1 2 3 --k 10"), ("sigmoid", "smooth sigmoid -20 0 20"),
    ("abs", "smooth abs -1 0.5 --k 10")])
def test_no_values_suggests_this_commands_example(command, example):
    assert error_line(run(command)) == (
        f"smooth: error: no values given: pass numbers, e.g. '{example}'")
    assert run(*example.split()[1:]).returncode in (0, 1)


def test_softmax_with_nan_says_undefined_not_none():
    p = run("softmax", "1", "nan", "2", "--dtype", "float32")
    assert "None" not in p.stdout and "an input is NaN" in p.stdout
    full = run("softmax", "1", "nan", "2", "--dtype", "float32", "--full")
    assert "None" not in full.stdout and "undefined (NaN input)" in full.stdout
