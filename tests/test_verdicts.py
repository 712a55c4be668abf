"""Statuses, reasons, verified advice, --check and the compact view (docs/verdicts.md).

Every expectation is computed here, independently of smoothcli: exact values with mpmath at high
precision, rounding and ULP counts from numpy / ml_dtypes' own formats.
"""

from __future__ import annotations

import re

import mpmath
import numpy as np
import pytest

import oracle


@pytest.fixture(autouse=True)
def _precision():
    """The expectations here at 300 bits (the tool itself runs at mpmath's default, as for a
    user: conftest's runner sets it)."""
    with mpmath.workprec(300):
        yield


STATUS_KEYS = {"status", "reason", "advice"}


def options(advice: str) -> list[str]:
    """The command-line options an advice names ("use --method log1p: ...")."""
    m = re.match(r"use ((?:--[a-z]+ [\w.]+ ?)+):", advice)
    assert m, advice
    return m.group(1).split()


def with_options(args: list[str], opts: list[str]) -> list[str]:
    """``args`` with each option of ``opts`` replacing the same option."""
    out, skip = [], False
    names = set(opts[0::2])
    for a in args:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        out.append(a)
    return out + opts


def lines_of(text: str) -> list[str]:
    return text.splitlines()


# --- the examples of the brief -------------------------------------------------------------

def test_shifted_lse_loses_everything_in_float16_and_log1p_is_verified(smooth):
    args = ["lse", "0", "-10", "--dtype", "float16", "--method", "shifted"]
    exact = oracle.lse_exact([0, -10])  # log(1 + e^-10) ≈ 4.5398899e-5
    r = smooth(*args, "--check")
    assert r.exit_code == 1
    assert "inaccurate" in r.stdout
    doc = smooth(*args, "--json").json
    (row,) = doc["rows"]
    assert STATUS_KEYS <= row.keys()
    assert row["value"] == 0.0
    assert row["status"] == "inaccurate"
    # independently: more than half the bits lost
    assert oracle.herbie_bits(0.0, exact, "float16") > 11 / 2
    assert "rounds to 1" in row["reason"] and "4.5e-05" in row["reason"]
    assert row["advice"].startswith("use --method log1p")
    assert doc["summary"][0]["status_rows"] == {"inaccurate": 1}
    assert any(p.startswith("float16 shifted: inaccurate — ") for p in doc["problems"])
    # the fix named is ok when run
    fixed = with_options(args, options(row["advice"]))
    r2 = smooth(*fixed, "--check")
    assert r2.exit_code == 0, r2.stdout
    (row2,) = smooth(*fixed, "--json").json["rows"]
    assert row2["status"] == "ok"
    assert oracle.ordinal_distance(row2["value"], oracle.round_to(exact, "float16"), "float16") <= 1


def test_softmax_of_a_fully_masked_row_is_undefined(smooth):
    args = ["softmax", "-inf", "-inf", "--dtype", "float32"]
    r = smooth(*args, "--check")
    assert r.exit_code == 1
    assert "undefined" in r.stdout and "pytorch#25110" in r.stdout
    doc = smooth(*args, "--json").json
    for row in doc["rows"]:
        assert row["status"] == "undefined"
        assert "NaN" in row["reason"] and "zeros" in row["reason"]
        assert row["advice"]
        # the flags stay facts: nothing "went wrong" in the arithmetic
        assert row["overflow"] is False and row["nan"] is False


def test_subnormal_sum_alone_does_not_fail_a_row(smooth):
    args = ["lse", "-12", "-11", "--dtype", "float16"]
    r = smooth(*args, "--check")
    assert r.exit_code == 0, r.stdout
    exact = oracle.lse_exact([-12, -11])
    want = oracle.round_to(exact, "float16")
    assert want == -10.6875
    doc = smooth(*args, "--json").json
    naive = next(row for row in doc["rows"] if row["method"] == "naive")
    # exp(-11) + exp(-12) ≈ 2.3e-5 is below float16's smallest normal 2^-14: a fact of the row
    assert float(mpmath.exp(-11) + mpmath.exp(-12)) < 2.0 ** -14
    assert naive["underflow"] is True
    for row in doc["rows"]:
        assert row["value"] == want
        assert row["status"] == "ok" and row["reason"] is None and row["advice"] is None
    assert doc["problems"] == []


def test_naive_overflow_names_the_threshold_and_shifted_is_verified(smooth):
    args = ["lse", "710", "12", "--dtype", "float64", "--method", "naive"]
    # the largest float64 x with exp(x) finite: below ln(max + ulp(max)/2)
    top = mpmath.mpf(np.finfo(np.float64).max) + mpmath.mpf(2) ** (1023 - 52) / 2
    limit = float(mpmath.log(top))
    limit = float(np.nextafter(limit, -np.inf)) if mpmath.mpf(limit) > mpmath.log(top) else limit
    doc = smooth(*args, "--json").json
    (row,) = doc["rows"]
    assert row["status"] == "overflow"
    assert f"exp(710.0) = inf" in row["reason"]
    assert repr(limit)[:12] in row["reason"]
    assert options(row["advice"]) == ["--method", "shifted"]
    fixed = smooth(*with_options(args, options(row["advice"])), "--json").json
    assert fixed["rows"][0]["status"] == "ok"
    assert fixed["rows"][0]["value"] == float(oracle.lse_exact([710, 12]))


def test_input_beyond_the_range_is_an_overflow_and_a_wider_dtype_is_verified(smooth):
    args = ["lse", "66246.39", "1", "--dtype", "float16", "--method", "shifted"]
    assert float(np.float16(66246.39)) == np.inf  # independently: beyond float16's 65504
    r = smooth(*args, "--check")
    assert r.exit_code == 1
    (row,) = smooth(*args, "--json").json["rows"]
    assert row["status"] == "overflow"
    assert "66246.39" in row["reason"] and "65504" in row["reason"]
    opts = options(row["advice"])
    assert "--dtype" in opts
    fixed = with_options(args, opts)
    assert smooth(*fixed, "--check").exit_code == 0


def test_naive_softmax_underflow_names_the_cause(smooth):
    doc = smooth("softmax", "-800", "-900", "--dtype", "float32", "--json").json
    naive, shifted = doc["rows"]
    assert naive["status"] == "underflow" and "0/0" in naive["reason"]
    assert shifted["status"] == "ok"
    assert naive["advice"].startswith("use --method shifted")


def test_max_ulp_makes_rows_inaccurate(smooth):
    args = ["softmax", "2.0", "1.0", "0.1", "--dtype", "float16", "--method", "naive"]
    assert smooth(*args, "--check").exit_code == 0
    r = smooth(*args, "--check", "--max-ulp", "0.5")
    assert r.exit_code == 1
    assert "inaccurate" in r.stdout  # the table is judged again before it is drawn
    doc = smooth(*args, "--json", "--max-ulp", "0.5").json
    (row,) = doc["rows"]
    assert row["ulp_error"] > 0.5
    assert row["status"] == "inaccurate" and "--max-ulp 0.5" in row["reason"]
    assert doc["summary"][0]["status_rows"] == {"inaccurate": 1}


def test_every_family_row_has_the_verdict_keys(smooth):
    for args in (["lse", "1", "2"], ["softmax", "1", "2"], ["bounds", "1", "2", "--k", "10"],
                 ["underflow", "-800", "-900"]):
        doc = smooth(*args, "--json").json
        for row in doc["rows"]:
            assert STATUS_KEYS <= row.keys()
            assert row["status"] in ("ok", "overflow", "underflow", "nan", "inaccurate",
                                     "undefined")
            assert (row["reason"] is None) == (row["status"] == "ok")
        for entry in doc["summary"]:
            assert sum(entry["status_rows"].values()) == entry["rows"]


def test_batch_rows_get_statuses_and_one_advice_per_series(smooth, tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.array([[0, -10], [-12, -11], [0, -10]], dtype=np.float16))
    args = ["lse", "--file", str(path), "--dtype", "float16", "--method", "shifted"]
    doc = smooth(*args, "--json").json
    assert [r["status"] for r in doc["rows"]] == ["inaccurate", "ok", "inaccurate"]
    assert doc["summary"][0]["status_rows"] == {"ok": 1, "inaccurate": 2}
    assert doc["rows"][0]["advice"] == doc["rows"][2]["advice"]
    assert smooth(*args, "--check").exit_code == 1
    assert any("inaccurate in 2 of 3 rows" in p for p in doc["problems"])


# --- the compact view ----------------------------------------------------------------------

SHORT_INPUTS = [
    ["lse", "0", "-10"], ["lse", "710", "12"], ["lse", "1", "2", "3", "4", "5", "6", "7", "8"],
    ["lse", "0.1", "0.2", "0.3", "-1e5", "66246.39", "1e-3", "7", "-7"],
    ["softmax", "2.0", "1.0", "0.1"], ["softmax", "-inf", "-inf"],
    ["softmax", "1000", "0.1", "-3.3", "2", "5", "6", "7", "8"],
    ["softmax", "-800", "-900", "--method", "all"], ["lse", "0", "-10", "--method", "all"],
    ["bounds", "1", "2", "3", "--k", "10", "--k", "1000"], ["underflow", "-800", "-900"],
    ["lse", "0", "-10", "--dtype", "all"], ["softmax", "2.0", "1.0", "0.1", "--dtype", "all"],
    ["softmax", "1.1", "3.4", "2.5", "-T", "0.5", "-T", "0.1"],
]


@pytest.mark.parametrize("args", SHORT_INPUTS, ids=lambda a: " ".join(a))
def test_compact_lines_fit_in_100_columns(smooth, args):
    r = smooth(*args, "--check")
    assert r.exit_code in (0, 1), r.stderr
    widest = max(lines_of(r.stdout), key=len)
    assert len(widest) <= 100, widest


def test_softmax_default_fits_in_30_lines(smooth):
    r = smooth("softmax", "2.0", "1.0", "0.1")
    assert r.exit_code == 0
    assert len(lines_of(r.stdout)) <= 30, r.stdout
    # the inputs changed by rounding to each dtype's own precision, not 55 digits
    assert "0.099976" in r.stdout and "0.100000001" in r.stdout
    assert "0.1000000000000000055511151231257827021181583404541015625" not in r.stdout


def test_exact_value_shown_once_and_full_tables_behind_full(smooth):
    r = smooth("lse", "0", "-10")
    exact = mpmath.nstr(oracle.lse_exact([0, -10]), 17, min_fixed=-5, max_fixed=5)
    assert r.stdout.count("4.5398899216864") == 1, (exact, r.stdout)
    assert "bound/u" not in r.stdout
    full = smooth("lse", "0", "-10", "--full")
    assert "bound/u" in full.stdout and "Σ exp" in full.stdout and "status" in full.stdout


def test_long_softmax_shows_the_elements_that_matter(smooth):
    xs = [str(v) for v in range(-20, 20)]
    r = smooth("softmax", *xs, "--dtype", "float32")
    assert "39 (argmax)" in r.stdout or "19 (argmax)" in r.stdout
    assert "of 40 elements" in r.stdout


def test_colour_marks_statuses_on_a_terminal_only(smooth):
    plain = smooth("lse", "710", "12", env={"NO_COLOR": "1", "FORCE_COLOR": ""})
    assert "\x1b[" not in plain.stdout
    forced = smooth("lse", "710", "12", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[" in forced.stdout
    assert re.search(r"\x1b\[[0-9;]*m\s*overflow", forced.stdout)
