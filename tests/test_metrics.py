"""``smooth metrics``: hard vs smooth accuracy / precision / recall / F1 / cross-entropy.

Oracles: the seed's formulas evaluated with mpmath at 400 digits on the dtype's rounded logits
(σ(s) = 1/(1 + exp(−s)) as written, sums with fsum, then the divisions), the hard values counted
by hand in the comments, and tests/oracle.softmax_exact / lse_exact for the multi-class case.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

import oracle
from conftest import close, num

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
KEYS = {"dtype", "k", "function", "hard", "value", "reference", "abs_error", "ulp_error",
        "rel_error", "method", "overflow", "underflow", "nan", "status", "reason", "advice"}

# The hand-checked batch.  H(s) = [1, 0, 1, 0, ½] (the unit step; H(0) = ½), t = [1, 0, 0, 1, 1]:
#   tp = Σ H·t     = 1 + 0 + ½          = 3/2
#   fp = Σ H·(1−t) = 0 + 1              = 1        (ΣH = 5/2)
#   fn = Σ (1−H)·t = 0 + 1 + ½          = 3/2      (Σt = 3)
#   precision = (3/2)/(5/2) = 3/5, recall = (3/2)/3 = 1/2, F1 = 2·(3/2)/(3 + 5/2) = 6/11
#   accuracy = mean([1, 1, 0, 0, ½]) = 1/2, accuracy_loss = 1/2; bce: two wrong → inf
LOGITS = ["2.5", "-1", "0.3", "-3", "0"]
LABELS = [1, 0, 0, 1, 1]
HAND = {"tp": 1.5, "fp": 1.0, "fn": 1.5, "precision": 0.6, "recall": 0.5, "f1": 6 / 11,
        "accuracy": 0.5, "accuracy_loss": 0.5, "bce": math.inf}


def sig(s) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-s))


def seed_metrics(s: list, t: list[int], k=1) -> dict:
    """The seed's smooth metrics, at 400 digits, for logits s (exact values) scaled by k."""
    with mpmath.workdps(oracle.DPS):
        z = [oracle.mp(k) * oracle.mp(v) for v in s]
        p = [sig(v) for v in z]
        n = len(s)
        tp = mpmath.fsum(pi * ti for pi, ti in zip(p, t))
        fp = mpmath.fsum(pi * (1 - ti) for pi, ti in zip(p, t))
        fn = mpmath.fsum((1 - pi) * ti for pi, ti in zip(p, t))
        sp, st = mpmath.fsum(p), sum(t)
        acc = mpmath.fsum((1 - ti) * (1 - pi) + ti * pi for pi, ti in zip(p, t)) / n
        bce = mpmath.fsum(-ti * mpmath.log(pi) - (1 - ti) * mpmath.log(1 - pi)
                          for pi, ti in zip(p, t)) / n
        return {"tp": tp, "fp": fp, "fn": fn, "accuracy": acc, "accuracy_loss": 1 - acc,
                "precision": tp / sp, "recall": tp / st if st else None,
                "f1": 2 * tp / (st + sp), "bce": bce}


def by(doc):
    return {(r["dtype"], r["k"], r["function"], r["method"]): r for r in doc["rows"]}


def labels_arg(t):
    return ",".join(str(v) for v in t)


def test_hand_checked_batch(smooth_json):
    doc = smooth_json("metrics", "--logits", ",".join(LOGITS), "--labels", labels_arg(LABELS),
                      "--method", "naive,stable", expect_exit=0)
    assert doc["task"] == "binary" and doc["n"] == 5 and doc["positives"] == 3
    rows = by(doc)
    assert len(rows) == 3 * 9 * 2
    for (dt, k, metric, method), r in rows.items():
        assert KEYS <= set(r)
        assert r["hard"] == HAND[metric] or (r["hard"] == "inf" and HAND[metric] == math.inf)
        npdt = NP[dt]
        s = [oracle.round_to(Fraction(v), npdt) for v in LOGITS]
        exact = seed_metrics(s, LABELS)[metric]
        assert r["reference"] == oracle.nearest_float(exact), (dt, metric)
        assert oracle.decimal_is_correct(r["reference_decimal"], exact)
        want = oracle.expected_errors(num(r["value"]), exact, npdt)
        assert close(r["ulp_error"], want["ulp_error"]), (dt, metric, method)
        assert close(r["abs_error"], want["abs_error"])
        assert not (r["overflow"] or r["underflow"] or r["nan"])
        if dt == "float64" and method == "stable":
            assert r["ulp_error"] <= 4, (metric, r["ulp_error"])


def test_k_scaling_converges_to_hard(smooth_json):
    doc = smooth_json("metrics", "--logits", ",".join(LOGITS), "--labels", labels_arg(LABELS),
                      "--dtype", "float64", "--k", "1", "--k", "10", "--k", "100",
                      expect_exit=0)
    rows = by(doc)
    s = [float(v) for v in LOGITS]
    for metric in ("tp", "fp", "fn", "precision", "recall", "f1", "accuracy"):
        gaps = []
        for k in (1.0, 10.0, 100.0):
            r = rows["float64", k, metric, "stable"]
            assert r["reference"] == oracle.nearest_float(seed_metrics(s, LABELS, k)[metric])
            gaps.append(abs(num(r["value"]) - HAND[metric]))
        assert gaps[0] > gaps[1] > gaps[2], (metric, gaps)
        assert gaps[2] < 1e-2
    # bce grows without bound towards its hard value inf (two samples misclassified)
    assert rows["float64", 100.0, "bce", "stable"]["reference"] > 50


def test_no_positive_labels_recall_undefined(smooth_json):
    doc = smooth_json("metrics", "--logits", "1,-2,0.5", "--labels", "0,0,0", "--dtype",
                      "float32", "--method", "naive,stable", expect_exit=0)
    rows = by(doc)
    for method in ("naive", "stable"):
        r = rows["float32", 1.0, "recall", method]
        assert r["hard"] is None and r["reference"] == "nan" and r["ulp_error"] == "nan"
        assert r["status"] == "undefined" and "Σt = 0" in r["reason"]
        assert not (r["overflow"] or r["underflow"] or r["nan"])
        f1 = rows["float32", 1.0, "f1", method]  # 2·0/(0 + Σσ) = 0: defined
        assert f1["reference"] == 0.0 and num(f1["value"]) == 0.0 and f1["hard"] == 0.0


def test_hard_precision_undefined_when_nothing_predicted_positive(smooth_json):
    doc = smooth_json("metrics", "--logits", "-1,-2", "--labels", "1,0", "--dtype", "float64",
                      expect_exit=0)
    r = by(doc)["float64", 1.0, "precision", "stable"]
    assert r["hard"] is None and any("Σ H(s) = 0" in n for n in doc["notes"])
    with mpmath.workdps(oracle.DPS):
        want = sig(mpmath.mpf(-1)) / (sig(mpmath.mpf(-1)) + sig(mpmath.mpf(-2)))
    assert r["reference"] == oracle.nearest_float(want) and r["ulp_error"] <= 2


def test_sigma_flushed_to_zero_in_float16(smooth_json):
    """σ(−20) ≈ 2.1e-9 and σ(−30) round to 0 in float16 (smallest subnormal 6e-8): the computed
    Σσ(s) is 0, precision 0/0 = nan, although the exact precision is σ(−20)/(σ(−20) + σ(−30))."""
    doc = smooth_json("metrics", "--logits", "-20,-30", "--labels", "1,0", "--dtype", "float16",
                      "--check", expect_exit=1)
    r = by(doc)["float16", 1.0, "precision", "stable"]
    assert math.isnan(num(r["value"])) and r["underflow"] and r["nan"]
    with mpmath.workdps(oracle.DPS):
        want = sig(mpmath.mpf(-20)) / (sig(mpmath.mpf(-20)) + sig(mpmath.mpf(-30)))
    assert r["reference"] == oracle.nearest_float(want)
    assert any("precision" in p and "underflow" in p for p in doc["problems"])


def test_naive_bce_and_sigma_fail_where_stable_does_not(smooth_json):
    """float32, s = 40, t = 0: naive σ(40) = 1 and log(1 − σ) = log 0 = −inf; stable bce is
    softplus(40) = 40 + log1p(e^-40)."""
    doc = smooth_json("metrics", "--logits", "40,-1", "--labels", "0,0", "--dtype", "float32",
                      "--method", "naive,stable")
    rows = by(doc)
    assert num(rows["float32", 1.0, "bce", "naive"]["value"]) == math.inf
    stable = rows["float32", 1.0, "bce", "stable"]
    with mpmath.workdps(oracle.DPS):
        want = (mpmath.log(1 + mpmath.exp(40)) + mpmath.log(1 + mpmath.exp(-1))) / 2
    assert stable["reference"] == oracle.nearest_float(want) and stable["ulp_error"] <= 2
    # 1 − σ by subtraction vs σ(−s): accuracy_loss = mean(σ(40), σ(−1))... and the naive fn/tp
    assert rows["float32", 1.0, "accuracy_loss", "stable"]["ulp_error"] <= 2


def test_seed_multiclass_vector(smooth_json):
    """logits [1.1, 3.4, 2.5] with label 1 (0-based; the seed's argmax 2 counts from 1)."""
    doc = smooth_json("metrics", "--logits", "1.1,3.4,2.5", "--labels", "1", "--task",
                      "multiclass", "--k", "1", "--k", "10", expect_exit=0)
    assert doc["task"] == "multiclass" and doc["classes"] == 3
    rows = by(doc)
    for (dt, k, metric, method), r in rows.items():
        npdt = NP[dt]
        x = [oracle.round_to(Fraction(v), npdt) for v in ("1.1", "3.4", "2.5")]
        kx = [Fraction(k) * Fraction(v) for v in x]
        p = oracle.softmax_exact(kx)[1]
        with mpmath.workdps(oracle.DPS):
            want = {"accuracy": p, "accuracy_loss": 1 - p,
                    "cross_entropy": oracle.lse_exact(kx) - oracle.mp(kx[1])}[metric]
        assert r["reference"] == oracle.nearest_float(want), (dt, k, metric)
        assert r["hard"] == {"accuracy": 1.0, "accuracy_loss": 0.0, "cross_entropy": 0.0}[metric]
        assert close(r["ulp_error"],
                            oracle.expected_errors(num(r["value"]), want, npdt)["ulp_error"])
    # one-hot labels give the same rows
    hot = smooth_json("metrics", "--logits", "1.1,3.4,2.5", "--labels", "0,1,0", "--task",
                      "multiclass", "--k", "1", "--k", "10", expect_exit=0)
    assert hot["rows"] == doc["rows"]


def test_files_npy_txt_csv(smooth_json, tmp_path):
    logits = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, 3.0], [-1.0, 0.0, 2.0], [4.0, 1.0, -3.0]],
                      dtype=np.float32)
    labels = np.array([2, 1, 2, 1], dtype=np.int64)
    np.save(tmp_path / "x.npy", logits)
    np.save(tmp_path / "y.npy", labels)
    (tmp_path / "x.txt").write_text("\n".join(" ".join(repr(float(v)) for v in row)
                                              for row in logits) + "\n")
    (tmp_path / "y.csv").write_text("\n".join(",".join("1" if j == c else "0" for j in range(3))
                                              for c in labels) + "\n")
    a = smooth_json("metrics", "--logits", str(tmp_path / "x.npy"), "--labels",
                    str(tmp_path / "y.npy"), expect_exit=0)
    b = smooth_json("metrics", "--logits", str(tmp_path / "x.txt"), "--labels",
                    str(tmp_path / "y.csv"), expect_exit=0)
    assert a["rows"] == b["rows"] and a["task"] == "multiclass" and a["n"] == 4
    rows = by(a)
    # hard accuracy by hand: argmax rows = 0, {1, 2} tied, 2, 0; labels 2, 1, 2, 1:
    # 0 + ½ (the tie split evenly) + 1 + 0 = 3/2 over 4 samples
    assert rows["float64", 1.0, "accuracy", "stable"]["hard"] == 0.375
    assert rows["float64", 1.0, "cross_entropy", "stable"]["hard"] == "inf"
    with mpmath.workdps(oracle.DPS):
        ce = mpmath.fsum(oracle.lse_exact(list(map(float, row))) - row[y]
                         for row, y in zip(logits, labels)) / 4
    assert rows["float64", 1.0, "cross_entropy", "stable"]["reference"] == \
        oracle.nearest_float(ce)


def test_real_mnist_rows(smooth_json, tmp_path):
    """40 rows of the Blanchard-Higham-Higham MNIST pre-softmax vectors (float32)."""
    root = Path(__file__).resolve().parent / "data" / "bhh"  # copied with its README and LICENSE
    x = np.load(f"{root}/presoftmax.npy", allow_pickle=False)[:40]
    y = np.load(f"{root}/labels.npy", allow_pickle=False)[:40]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    doc = smooth_json("metrics", "--logits", str(tmp_path / "x.npy"), "--labels",
                      str(tmp_path / "y.npy"), "--dtype", "float32", expect_exit=0)
    rows = by(doc)
    assert all(len(set(np.flatnonzero(r == r.max()))) == 1 for r in x)  # no ties here
    assert rows["float32", 1.0, "accuracy", "stable"]["hard"] == float(
        np.mean(np.argmax(x, axis=1) == y))
    with mpmath.workdps(oracle.DPS):
        ce = mpmath.fsum(oracle.lse_exact([float(v) for v in row]) - float(row[c])
                         for row, c in zip(x, y)) / len(x)
    assert rows["float32", 1.0, "cross_entropy", "stable"]["reference"] == \
        oracle.nearest_float(ce)


def test_pickled_npy_is_refused(smooth, tmp_path):
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for opt in ("--logits", "--labels"):
        other = "--labels" if opt == "--logits" else "--logits"
        r = smooth("metrics", opt, str(tmp_path / "evil.npy"), other, "1")
        assert r.exit_code == 2 and r.exception is None
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("args, needle", [
    (["--logits", "1,2,3", "--labels", "1,0"], "lengths must match"),
    (["--logits", "1,2", "--labels", "1,2"], "0 or 1"),
    (["--logits", "1,2", "--labels", "1,0.5"], "0 or 1"),
    (["--logits", "1,2,3;4,5,6", "--labels", "0,3"], "0 … 2"),
    (["--logits", "1,2,3;4,5,6", "--labels", "0,1,1;1,0,0"], "one-hot row 0"),
    (["--logits", "", "--labels", "1"], "empty batch"),
    (["--logits", "1,2;3", "--labels", "0,1"], "ragged"),
    (["--logits", "1,abc", "--labels", "0,1"], "'abc'"),
    (["--logits", "1,nan", "--labels", "0,1"], "finite"),
    (["--labels", "0,1"], "--logits"),
    (["--logits", "1,2", "--labels", "0,1", "--k", "0"], "--k"),
    (["--logits", "1,2;3,4", "--labels", "0,1", "--task", "binary"], "--task multiclass"),
    (["--logits", "/nonexistent/x.npy", "--labels", "0"], "no such file"),
])
def test_bad_input_exit_2(smooth, args, needle):
    r = smooth("metrics", *args)
    assert r.exit_code == 2 and r.exception is None, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error:") and needle in lines[0], \
        lines


@pytest.mark.parametrize("n, k", [(1500, "1"), (1300, "0.7")])
def test_fast_reference_of_a_large_binary_batch(smooth_json, tmp_path, n, k):
    """Above 1024 logits the metrics' reference is the vectorised long double one with a bound:
    every exact value and ULP error agrees with 400-digit mpmath sums here to 1/32 ULP, and the
    decimals it prints are correct to the last digit shown."""
    rng = np.random.default_rng(n)
    s = rng.normal(0, 6, n)
    s[:3] = [40.0, -45.0, 0.0]  # σ(−45) ~ 2.9e-20: a term far below the others
    t = (rng.random(n) < 0.3).astype(np.int64)
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "t.npy", t)
    doc = smooth_json("metrics", "--logits", str(tmp_path / "s.npy"), "--labels",
                      str(tmp_path / "t.npy"), "--dtype", "float64,float32", "--k", k,
                      "--method", "stable")
    assert doc["reference_method"] == {"float64": {"fast-longdouble": 1},
                                       "float32": {"fast-float64": 1}}
    for dt in ("float64", "float32"):
        npdt = NP[dt]
        kd = oracle.round_to(Fraction(k), npdt)
        rounded = [oracle.round_to(Fraction(float(v)), npdt) for v in s]
        # the tool multiplies k·s in the dtype; the exact metrics are those of the exact k·s
        exact = seed_metrics(rounded, t.tolist(), kd)
        for metric, want in exact.items():
            r = by(doc)[dt, float(kd), metric, "stable"]
            assert oracle.decimal_is_correct(r["reference_decimal"], want,
                                             len(r["reference_decimal"].lstrip("-0.")
                                                 .replace(".", "").rstrip("?"))), (dt, metric)
            u = oracle.expected_errors(num(r["value"]), want, npdt)["ulp_error"]
            assert abs(num(r["ulp_error"]) - u) <= 1 / 32, (dt, metric, r["ulp_error"], u)


def test_fast_reference_of_a_large_multiclass_batch(smooth_json, tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 4, (300, 5))
    y = rng.integers(0, 5, 300)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    doc = smooth_json("metrics", "--logits", str(tmp_path / "x.npy"), "--labels",
                      str(tmp_path / "y.npy"), "--dtype", "float64", "--method", "stable")
    assert doc["reference_method"]["float64"] == {"fast-longdouble": 1}
    with mpmath.workdps(oracle.DPS):
        p_y = [oracle.softmax_exact(list(row))[int(c)] for row, c in zip(x.tolist(), y)]
        ce = [oracle.lse_exact(list(row)) - oracle.mp(row[int(c)])
              for row, c in zip(x.tolist(), y)]
        want = {"accuracy": mpmath.fsum(p_y) / 300, "accuracy_loss": 1 - mpmath.fsum(p_y) / 300,
                "cross_entropy": mpmath.fsum(ce) / 300}
    for metric, w in want.items():
        r = by(doc)["float64", 1.0, metric, "stable"]
        u = oracle.expected_errors(num(r["value"]), w, np.float64)["ulp_error"]
        assert abs(num(r["ulp_error"]) - u) <= 1 / 32, (metric, r["ulp_error"], u)
