"""The command line itself: negative numbers, option placement, errors, exit codes, JSON.

Most cases run in-process (typer's CliRunner); the real installed ``smooth`` script and
``python -m smoothcli`` run as subprocesses, since their error handling goes through
smoothcli.cli.main rather than click's standalone mode.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import oracle
from conftest import loads_strict, num

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def inputs_of(doc, dtype):
    return [i["rounded"][dtype] for i in doc["inputs"]]


# --------------------------------------------------------------------------------------------
# negative numbers are values

@pytest.mark.parametrize("args, texts", [
    (["lse", "-800", "-900"], ["-800", "-900"]),
    (["lse", "710", "-12", "--dtype", "float16"], ["710", "-12"]),
    (["lse", "-1e5", "-.5", "-inf", "--dtype", "float64"], ["-1e5", "-.5", "-inf"]),
    (["softmax", "-0.5", "-1E-3", "--dtype", "float32"], ["-0.5", "-1E-3"]),
    (["bounds", "-3", "-2", "--k", "2"], ["-3", "-2"]),
    (["underflow", "-745", "-746"], ["-745", "-746"]),
])
def test_negative_numbers_need_no_double_dash(smooth_json, args, texts):
    doc = smooth_json(*args)
    assert [i["text"] for i in doc["inputs"]] == texts
    for dt in doc["settings"]["dtypes"]:
        want = [oracle.round_to(Fraction(t), NP[dt]) if "inf" not in t else -float("inf")
                for t in texts]
        assert [num(v) for v in inputs_of(doc, dt)] == want


def test_710_minus_12_float16_values(smooth_json):
    doc = smooth_json("lse", "710", "-12", "--dtype", "float16")
    rows = {r["method"]: r for r in doc["rows"]}
    assert rows["naive"]["overflow"] is True
    assert rows["shifted"]["value"] == 710.0  # 710 + log1p(exp(-722))


def test_double_dash_still_works(smooth):
    r = smooth("lse", "--dtype", "float64", "--json", "--", "-1", "-2")
    assert r.exit_code == 0
    assert inputs_of(r.json, "float64") == [-1.0, -2.0]


def test_options_anywhere_on_the_line(smooth):
    a = smooth("lse", "--json", "1", "--dtype", "float16", "2", "--method", "naive", "3")
    b = smooth("lse", "1", "2", "3", "--method=naive", "--dtype=float16", "--json")
    assert a.exit_code == b.exit_code == 0
    assert a.json["rows"] == b.json["rows"]
    assert [i["text"] for i in a.json["inputs"]] == ["1", "2", "3"]
    assert a.json["settings"]["dtypes"] == ["float16"]


def test_dtype_comma_separated_and_repeated(smooth_json):
    doc = smooth_json("lse", "1", "--dtype", "float16,float64", "--dtype", "float32",
                      "--dtype", "float16")
    assert doc["settings"]["dtypes"] == ["float16", "float64", "float32"]
    assert [r["dtype"] for r in doc["rows"]] == ["float16"] * 2 + ["float64"] * 2 + [
        "float32"] * 2


def test_default_is_all_dtypes_and_both_methods(smooth_json):
    doc = smooth_json("lse", "1")
    assert [(r["dtype"], r["method"]) for r in doc["rows"]] == [
        (d, m) for d in ("float16", "float32", "float64") for m in ("naive", "shifted")]


# --------------------------------------------------------------------------------------------
# errors: exit 2, one line on stderr naming the culprit, no traceback

@pytest.mark.parametrize("args, culprit", [
    (["lse", "abc"], "'abc'"),
    (["lse", "1", "abc", "2"], "'abc'"),
    (["lse", "1e400"], "'1e400'"),
    (["lse", "-1e400"], "'-1e400'"),
    (["lse", ""], "empty"),
    (["lse", "1", "--dtype", "float8"], "'float8'"),
    (["lse", "1", "--dtype", "float16,"], "--dtype"),
    (["lse", "1", "--method", "fast"], "'fast'"),
    (["lse"], "no values"),
    (["softmax"], "no values"),
    (["bounds"], "no values"),
    (["lse", "1", "--check", "--max-ulp", "abc"], "'abc'"),
    (["lse", "1", "--check", "--max-ulp", "-1"], "'-1'"),
    (["lse", "1", "--check", "--max-ulp", "nan"], "'nan'"),
    (["lse", "1", "--check", "--max-ulp", "inf"], "'inf'"),
    (["lse", "1", "--sum", "random"], "'random'"),
    (["lse", "0x10"], "'0x10'"),
    (["lse", "1,5"], "'1,5'"),
    (["softmax", "1", "--dtype", "bfloat17"], "'bfloat17'"),
    (["exp-range", "--dtype", "float8"], "'float8'"),
])
def test_bad_input_is_one_line_exit_2(smooth, args, culprit):
    r = smooth(*args)
    assert r.exception is None, repr(r.exception)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error: ")
    assert culprit in lines[0]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, wrong, right", [
    (["lse", "1", "--dtyp", "float16"], "--dtyp", "--dtype"),
    (["lse", "--jsn", "1"], "--jsn", "--json"),
    (["softmax", "1", "2", "--chek"], "--chek", "--check"),
    (["bounds", "1", "--max-ul", "2"], "--max-ul", "--max-ulp"),
])
def test_mistyped_option_suggests_the_real_one(smooth, args, wrong, right):
    r = smooth(*args)
    assert r.exit_code == 2
    assert f"No such option: {wrong}" in r.stderr or f"No such option '{wrong}'" in r.stderr
    assert "Did you mean" in r.stderr and right in r.stderr
    assert "Traceback" not in r.stderr


# --------------------------------------------------------------------------------------------
# --check and exit codes

def test_check_exit_codes(smooth):
    assert smooth("lse", "1", "2", "--check").exit_code == 0
    assert smooth("lse", "710", "12", "--dtype", "float16", "--check").exit_code == 1
    assert smooth("lse", "710", "12", "--dtype", "float16").exit_code == 0  # no --check
    assert smooth("lse", "710", "12", "--dtype", "float16", "--check",
                  "--method", "shifted").exit_code == 0


def test_check_max_ulp_on_a_hand_derived_5_ulp_error(smooth):
    # naive LSE(0.1) in float16: x = 0.0999755859375 (= 1638·2**-14), exp(x) -> 1.10546875
    # (float16 spacing 2**-10 at 1.1: exp(x) = 1.105141...), log(1.10546875) = 0.100282... ->
    # 0.10028076171875 = 1643·2**-14.  The reference is x itself; the spacing at x is 2**-14:
    # exactly 5 ULP.
    value, _ = oracle.simulate([0.0999755859375], np.float16, "naive")
    assert value == 1643 * 2.0**-14
    r = smooth("lse", "0.1", "--dtype", "float16", "--method", "naive", "--json")
    assert r.json["rows"][0]["ulp_error"] == 5.0
    for limit, code in (("4", 1), ("4.99", 1), ("5", 0), ("6", 0)):
        r = smooth("lse", "0.1", "--dtype", "float16", "--method", "naive", "--check",
                   "--max-ulp", limit)
        assert r.exit_code == code, limit
    # --max-ulp without --check (or --json) would do nothing: refused, not ignored
    r = smooth("lse", "0.1", "--dtype", "float16", "--max-ulp", "0")
    assert r.exit_code == 2 and "--max-ulp applies with --check" in r.stderr


def test_version(smooth):
    r = smooth("--version")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"smooth {version('smoothcli')}"


# --------------------------------------------------------------------------------------------
# strict JSON

@pytest.mark.parametrize("args", [
    ["lse", "nan", "inf", "-inf", "1"],
    ["lse", "710", "12"],
    ["softmax", "1000", "0", "nan"],
    ["softmax", "inf", "1"],
    ["exp-range"],
    ["bounds", "1", "2", "--k", "10"],
    ["underflow"],
    ["underflow", "-inf", "nan", "5"],
])
def test_json_is_strict_rfc_8259(smooth, args):
    r = smooth(*args, "--json")
    assert r.exit_code == 0
    doc = loads_strict(r.stdout)  # rejects NaN / Infinity literals
    assert doc["schema_version"] == 2
    assert doc["command"] == args[0]
    assert isinstance(doc["rows"], list) and doc["rows"]
    assert r.stdout.count("\n") == 1 and r.stdout.endswith("\n")  # one document, one line


def test_non_finite_numbers_are_strings(smooth_json):
    doc = smooth_json("lse", "nan", "1", "--dtype", "float64")
    for r in doc["rows"]:
        assert r["value"] == "nan" and r["reference"] == "nan" and r["ulp_error"] == "nan"
    doc = smooth_json("lse", "710", "12", "--dtype", "float64", "--method", "naive")
    assert doc["rows"][0]["value"] == "inf"


# --------------------------------------------------------------------------------------------
# real processes

def _smooth_exe(venv_bin: Path) -> Path:
    exe = venv_bin / ("smooth.exe" if sys.platform == "win32" else "smooth")
    assert exe.exists(), f"the console script is not installed next to {sys.executable}"
    return exe


def test_installed_smooth_executable(venv_bin, env_with_smooth):
    exe = str(_smooth_exe(venv_bin))
    run = subprocess.run([exe, "lse", "-800", "-900", "--dtype", "float64", "--json",
                          "--check"], capture_output=True, text=True, env=env_with_smooth,
                         timeout=60)
    assert run.returncode == 1, run.stderr
    doc = loads_strict(run.stdout)
    rows = {r["method"]: r for r in doc["rows"]}
    assert rows["naive"]["underflow"] is True and rows["shifted"]["value"] == -800.0
    assert [p.split(" — ")[0] for p in doc["problems"]] == ["float64 naive: underflow"]

    bad = subprocess.run([exe, "lse", "1", "abc"], capture_output=True, text=True,
                         env=env_with_smooth, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == ["smooth: error: not a number: 'abc'"]

    typo = subprocess.run([exe, "lse", "1", "--dtyp", "float16"], capture_output=True,
                          text=True, env=env_with_smooth, timeout=60)
    assert typo.returncode == 2 and "Did you mean" in typo.stderr and "--dtype" in typo.stderr
    assert "Traceback" not in typo.stderr

    table = subprocess.run([exe, "lse", "710", "12", "--dtype", "float16"],
                           capture_output=True, text=True, env=env_with_smooth, timeout=60)
    assert table.returncode == 0
    assert "\x1b[" not in table.stdout  # piped: no ANSI escapes
    assert "overflow" in table.stdout and "710.0" in table.stdout

    ver = subprocess.run([exe, "--version"], capture_output=True, text=True,
                         env=env_with_smooth, timeout=60)
    assert ver.returncode == 0 and ver.stdout.strip() == f"smooth {version('smoothcli')}"


def test_python_dash_m_matches_the_cli(smooth_json, env_with_smooth):
    run = subprocess.run([sys.executable, "-m", "smoothcli", "lse", "710", "-12", "--dtype",
                          "float16", "--json"], capture_output=True, text=True,
                         env=env_with_smooth, timeout=60)
    assert run.returncode == 0, run.stderr
    assert loads_strict(run.stdout)["rows"] == smooth_json(
        "lse", "710", "-12", "--dtype", "float16")["rows"]
    bad = subprocess.run([sys.executable, "-m", "smoothcli", "lse", "1e400"],
                         capture_output=True, text=True, env=env_with_smooth, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert "'1e400'" in bad.stderr
