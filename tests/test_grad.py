"""``smooth grad``: derivatives as autodiff computes them from each form, against exact ones.

Oracles: the derivative is taken by ``mpmath.diff`` of the *function* as written — σ(x) =
1/(1 + e^(−x)), softplus(x) = log(1 + e^x), log σ(x) = −log(1 + e^(−x)), f_k(x) = (2/k)·log
cosh(kx/2) — at high precision (the tool uses analytic derivatives inside a Ziv loop).  The
failures of the naive forms are predicted from the format (numpy in the dtype, exact reasoning
on the thresholds), never read from smoothcli.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle
from conftest import close, num

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
DIFF_DPS = 120


def sigma(t):
    return 1 / (1 + mpmath.exp(-t))


def softplus(t):
    return mpmath.log(1 + mpmath.exp(t))


def log_sigma(t):
    return -mpmath.log(1 + mpmath.exp(-t))


def smooth_abs(k):
    return lambda t: 2 / mpmath.mpf(k) * mpmath.log(mpmath.cosh(mpmath.mpf(k) * t / 2))


FUNCTION = {"sigmoid": sigma, "softplus": softplus, "log-sigmoid": log_sigma}


def derivative(f, x, dps: int = DIFF_DPS) -> mpmath.mpf:
    """f'(x) by mpmath's numerical differentiation at ``dps`` digits (x a float: exact)."""
    with mpmath.workdps(dps):
        return mpmath.diff(f, mpmath.mpf(x))


def rows(doc):
    return {(r["dtype"], r["method"], r["input"], r["k"]): r for r in doc["rows"]}


# --- jax#40385 ----------------------------------------------------------------------------------

def test_jax_40385_sigmoid_grad_at_37_43_float64(smooth_json, smooth):
    """σ'(37.43) computed as σ(1 − σ) is 0 in float64 while σ(x)·σ(−x) is right (≈ 5.5e-17)."""
    x = oracle.round_to(Fraction("37.43"), np.float64)
    exact = derivative(sigma, x)
    assert float(exact) == pytest.approx(5.5508e-17, rel=1e-4)
    # the format: e^(−37.43) < 2^-53 (half an ULP of 1), so 1 + e^(−x) and σ round to 1
    assert float(mpmath.exp(-mpmath.mpf(x))) < 2.0 ** -53
    s = np.float64(1) / (np.float64(1) + np.exp(-np.float64(x)))
    assert s == 1.0 and s * (1 - s) == 0.0

    doc = smooth_json("grad", "sigmoid", "37.43", "--dtype", "float64", expect_exit=0)
    got = rows(doc)
    naive = got["float64", "naive", "37.43", None]
    stable = got["float64", "stable", "37.43", None]
    for r in (naive, stable):
        assert r["function"] == "sigmoid_grad"
        assert r["x"] == x
        assert r["reference"] == oracle.nearest_float(exact)
        assert oracle.decimal_is_correct(r["reference_decimal"], exact)
        assert r["hard"] == 0.0  # H'(x) = 0 away from 0
    assert num(naive["value"]) == 0.0
    assert naive["status"] == "inaccurate"
    assert "rounds to 1" in naive["reason"] and "1 − σ(x) = 0" in naive["reason"]
    assert naive["advice"].startswith("use --method stable") and "verified" in naive["advice"]
    assert stable["status"] == "ok" and stable["advice"] is None
    assert oracle.ulp_error(num(stable["value"]), exact, np.float64) <= 1
    # the advice is true: --method stable passes --check, the naive row fails it
    r = smooth_json("grad", "sigmoid", "37.43", "--dtype", "float64", "--check",
                    expect_exit=1)
    assert any("float64 naive: inaccurate" in p for p in r["problems"])
    smooth_json("grad", "sigmoid", "37.43", "--dtype", "float64", "--method", "stable",
                "--check", expect_exit=0)
    table = smooth("grad", "sigmoid", "37.43", "--dtype", "float64")
    assert table.exit_code == 0 and "inaccurate" in table.stdout
    assert "use --method stable" in table.stdout


# --- every row against mpmath.diff of the function ---------------------------------------------

XS = ["-800", "-400", "-40", "-12", "-4.6", "-0.1", "0", "1e-8", "3", "12", "37.43", "40", "800"]


@pytest.mark.parametrize("function", ["sigmoid", "softplus", "log-sigmoid"])
def test_every_row_against_mpmath_diff(smooth_json, function):
    doc = smooth_json("grad", function, *XS)
    got = rows(doc)
    assert len(got) == 3 * 2 * len(XS)
    cache: dict = {}
    for (dt, method, text, _), row in got.items():
        npdt = NP[dt]
        x = oracle.round_to(Fraction(text), npdt)
        assert row["x"] == x
        if x not in cache:  # |x| = 800 needs > 350 digits to see e^-800 next to 1
            cache[x] = derivative(FUNCTION[function], x, 500 if abs(x) > 100 else DIFF_DPS)
        exact = cache[x]
        assert row["reference"] == oracle.nearest_float(exact), (dt, method, text)
        assert oracle.decimal_is_correct(row["reference_decimal"], exact), (dt, method, text)
        want = oracle.expected_errors(num(row["value"]), exact, npdt)
        for k in ("abs_error", "rel_error", "ulp_error"):
            assert close(row[k], want[k]), (dt, method, text, k, row[k], want[k])
        if method == "stable":  # accurate everywhere: a few roundings, no overflow
            assert row["ulp_error"] <= 2, (dt, text, row["ulp_error"])
            assert row["status"] == "ok", (dt, text, row["reason"])
        hard = {"sigmoid": math.nan if x == 0 else 0.0,
                "softplus": 0.0 if x < 0 else (0.5 if x == 0 else 1.0),
                "log-sigmoid": 1.0 if x < 0 else (0.5 if x == 0 else 0.0)}[function]
        assert (row["hard"] is None) if math.isnan(hard) else row["hard"] == hard


@pytest.mark.parametrize("k", ["1", "10"])
def test_smooth_abs_grad_against_mpmath_diff(smooth_json, k):
    xs = ["-30", "-3", "-1e-3", "0", "1e-8", "0.5", "3", "30", "800"]
    doc = smooth_json("grad", "abs", *xs, "--k", k)
    got = rows(doc)
    assert len(got) == 3 * 4 * len(xs)
    kf = float(k)
    for (dt, method, text, kk), row in got.items():
        assert kk == kf
        npdt = NP[dt]
        x = oracle.round_to(Fraction(text), npdt)
        exact = derivative(smooth_abs(kf), x, 500 if abs(kf * x) > 100 else DIFF_DPS)
        assert row["reference"] == oracle.nearest_float(exact), (dt, method, text)
        assert oracle.decimal_is_correct(row["reference_decimal"], exact), (dt, method, text)
        want = oracle.expected_errors(num(row["value"]), exact, npdt)
        assert close(row["ulp_error"], want["ulp_error"]), (dt, method, text)
        assert row["hard"] == (0.0 if x == 0 else math.copysign(1.0, x))  # sign(x)
        if method in ("stable", "tanh"):
            assert row["ulp_error"] <= 2, (dt, method, text, row["ulp_error"])
            assert row["status"] == "ok", (dt, method, text, row["reason"])


# --- the naive forms' failures, predicted from the format ---------------------------------------

def test_softplus_grad_naive_is_nan_past_exp_overflow(smooth_json):
    """float32's exp overflows above log(max float32) = 88.72: (1/(1 + inf))·inf = 0·inf = NaN,
    while σ(100) = 1 − 3.7e-44 rounds to 1."""
    assert math.log(float(np.finfo(np.float32).max)) < 100
    doc = smooth_json("grad", "softplus", "100", "--dtype", "float32", expect_exit=0)
    got = rows(doc)
    naive, stable = got["float32", "naive", "100", None], got["float32", "stable", "100", None]
    assert num(naive["value"]) != num(naive["value"])  # NaN
    assert naive["status"] == "overflow" and naive["overflow"]
    assert "0·inf = NaN" in naive["reason"]
    assert naive["advice"].startswith("use --method stable")
    assert num(stable["value"]) == 1.0 and stable["status"] == "ok"


def test_log_sigmoid_grad_naive_squares_sigma_to_zero(smooth_json):
    """Autograd of log(1/(1 + e^(−x))) multiplies by σ²: at x = −400 in float64 σ ≈ 1.9e-174 and
    σ² is below half the smallest subnormal 2^-1075, so the gradient is 0 (exact σ(400) ≈ 1)."""
    s = np.float64(1) / (np.float64(1) + np.exp(np.float64(400)))
    assert 0 < s and Fraction(float(s)) ** 2 < Fraction(1, 2 ** 1075) and s * s == 0
    doc = smooth_json("grad", "log-sigmoid", "-400", "--dtype", "float64", expect_exit=0)
    naive = rows(doc)["float64", "naive", "-400", None]
    assert num(naive["value"]) == 0.0 and naive["status"] == "inaccurate"
    assert "σ² underflows to 0" in naive["reason"]
    assert naive["advice"].startswith("use --method stable")
    # past e^400 = inf (float32) it is inf·0 = NaN
    doc = smooth_json("grad", "log-sigmoid", "-400", "--dtype", "float32", expect_exit=0)
    naive32 = rows(doc)["float32", "naive", "-400", None]
    assert num(naive32["value"]) != num(naive32["value"]) and naive32["status"] == "overflow"


def test_sigmoid_grad_naive_float16_overflow_and_cancellation(smooth_json):
    """float16: e^12 = 162754.8 > 65504, so σ(−12) = 1/inf = 0 and σ'(−12) = 0; at +12, σ(12)
    rounds to 1 (e^-12 = 6.1e-6 < 2^-11), so 1 − σ = 0.  Exact σ'(±12) ≈ 6.144e-6."""
    assert math.exp(12) > float(np.finfo(np.float16).max) and math.exp(-12) < 2.0 ** -11
    doc = smooth_json("grad", "sigmoid", "-12", "12", "--dtype", "float16", expect_exit=0)
    got = rows(doc)
    exact = derivative(sigma, 12.0)
    for text in ("-12", "12"):
        naive = got["float16", "naive", text, None]
        assert num(naive["value"]) == 0.0 and naive["status"] == "inaccurate"
        stable = got["float16", "stable", text, None]
        assert num(stable["value"]) == oracle.round_to(oracle.exact(exact), np.float16)
    assert got["float16", "naive", "-12", None]["overflow"]


def test_smooth_abs_grad_naive_cancels_and_cosh_overflows(smooth_json):
    """Naive: 2e^(kx)/(1 + e^(kx)) rounds to 1 at x = 1e-8 in float32 and − 1 leaves 0 (exact
    tanh(5e-9) ≈ 5e-9).  cosh: cosh(15) ≈ 1.6e6 > 65504 in float16, sinh/cosh = 0·inf = NaN."""
    doc = smooth_json("grad", "abs", "1e-8", "--dtype", "float32", expect_exit=0)
    naive = rows(doc)["float32", "naive", "1e-8", 1.0]
    assert num(naive["value"]) == 0.0 and naive["status"] == "inaccurate"
    assert naive["advice"].startswith("use --method stable")
    assert math.cosh(15) > float(np.finfo(np.float16).max)
    doc = smooth_json("grad", "abs", "30", "--dtype", "float16", expect_exit=0)
    cosh = rows(doc)["float16", "cosh", "30", 1.0]
    assert num(cosh["value"]) != num(cosh["value"]) and cosh["status"] == "overflow"
    assert "0·inf = NaN" in cosh["reason"]


def test_stable_forms_at_zero_take_the_tie_split(smooth_json):
    """At x = 0 the stable forms' autograd uses max's tie split (½) and abs'(0) = 0: exactly
    σ(0) = ½ for softplus' and log σ'."""
    for function in ("softplus", "log-sigmoid"):
        doc = smooth_json("grad", function, "0", "--dtype", "float16,float64", expect_exit=0)
        for r in doc["rows"]:
            assert num(r["value"]) == 0.5 and r["ulp_error"] == 0


def test_nan_input_is_undefined(smooth_json):
    doc = smooth_json("grad", "sigmoid", "nan", "--dtype", "float64", expect_exit=0)
    assert {r["status"] for r in doc["rows"]} == {"undefined"}


# --- max: subgradient conventions --------------------------------------------------------------

def test_grad_max_conventions_exact(smooth_json):
    """1000.2 rounds to 1000 in float16 (ULP 0.5 there): the two tie.  In float64 they do not."""
    assert oracle.round_to(Fraction("1000.2"), np.float16) == 1000.0
    doc = smooth_json("grad", "max", "1000", "1000.2", "3", "--dtype", "float16,float64",
                      expect_exit=0)
    got = {(r["dtype"], r["convention"]): r for r in doc["rows"]}
    f16 = {c: got["float16", c] for c in ("first", "split", "all", "argmax")}
    assert f16["first"]["gradient"] == [1.0, 0.0, 0.0]
    assert f16["split"]["gradient_exact"] == ["1/2", "1/2", "0"]
    assert f16["split"]["gradient_sum"] == "1"
    assert f16["all"]["gradient"] == [1.0, 1.0, 0.0] and f16["all"]["gradient_sum"] == "2"
    assert f16["argmax"]["gradient"] is None and not f16["argmax"]["differentiable"]
    for c in ("first", "split", "all"):
        assert got["float64", c]["gradient"] == [0.0, 1.0, 0.0]
    assert got["float64", "argmax"]["gradient"] == [0.0, 0.0, 0.0]
    doc = smooth_json("grad", "max", "2", "2", "2", "--method", "split", "--dtype", "float64")
    assert doc["rows"][0]["gradient_exact"] == ["1/3", "1/3", "1/3"]


@pytest.mark.parametrize("args, needle", [
    (("cross-entropy", "1", "2"), "needs --label"),
    (("cross-entropy", "1", "2", "--label", "2"), "not an index"),
    (("softmax", "1", "2", "--label", "0"), "--label applies"),
    (("softmax", "1", "2", "--cotangent", "1,0,0"), "--cotangent has 3 values"),
    (("lse", "1", "2", "--cotangent", "1,0"), "--cotangent applies"),
])
def test_vector_gradient_options_are_checked(smooth, args, needle):
    r = smooth("grad", *args)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and needle in lines[0], r.stderr


def test_k_only_for_abs(smooth):
    r = smooth("grad", "sigmoid", "1", "--k", "2")
    assert r.exit_code == 2 and "--k" in r.stderr


# --- ∇LSE = softmax ---------------------------------------------------------------------------

def test_grad_lse_is_the_exact_softmax(smooth_json):
    """∇LSE(x)_i = e^(x_i)/Σ e^(x_j), checked with mpmath.diff of LSE itself."""
    xs = ["1", "2", "3.5"]
    doc = smooth_json("grad", "lse", *xs, "--dtype", "float64", expect_exit=0)
    assert {r["function"] for r in doc["rows"]} == {"lse_grad"}
    assert {r["method"] for r in doc["rows"]} == {"naive", "shifted", "shifted-exp-lse"}
    with mpmath.workdps(60):
        v = [mpmath.mpf(x) for x in xs]
        for i in range(3):
            def lse_i(t, i=i):
                w = list(v)
                w[i] = t
                return mpmath.log(mpmath.fsum(mpmath.exp(u) for u in w))
            d = mpmath.diff(lse_i, v[i])
            for r in doc["rows"]:
                assert abs(mpmath.mpf(r["reference_decimal"][i]) - d) <= abs(d) * 1e-16
                assert r["status"] == "ok"


def test_grad_lse_of_a_fully_masked_row_is_undefined(smooth_json):
    """All −inf: LSE = −inf and its gradient softmax = 0/0 has no value (torch and jax give NaN,
    pytorch#31829, jax#6811): every method's row says undefined, with advice to handle the row."""
    doc = smooth_json("grad", "lse", "-inf", "-inf", "-inf", "--dtype", "float32")
    for r in doc["rows"]:
        assert r["status"] == "undefined", r
        assert "every input is -inf" in r["reason"]
        assert "handle them before the call" in r["advice"]


def test_grad_of_the_smooth_max_overflows_naive_only(smooth_json):
    """∇(1/k)·LSE(k·x) = softmax(k·x): with k = 1000 and x = 100 in float32, k·x = 1e5 and
    e^(1e5) overflows float32 (max ≈ 3.4e38), so the naive form is inf/inf; the shifted form is
    right."""
    assert math.isinf(float(np.exp(np.float32(1e5))))
    doc = smooth_json("grad", "lse", "100", "99.9", "-5", "--k", "1000", "--dtype", "float32")
    rows = {r["method"]: r for r in doc["rows"]}
    assert rows["naive"]["status"] == "overflow" and rows["naive"]["k"] == 1000.0
    assert rows["shifted"]["status"] == "ok"
    x = [float(np.float32(v)) for v in ("100", "99.9", "-5")]
    with mpmath.workdps(60):
        z = [mpmath.mpf(1000) * mpmath.mpf(t) for t in x]  # k·x exact (1000 is a float32)
        s = mpmath.fsum(mpmath.exp(u - max(z)) for u in z)
        want = [mpmath.exp(u - max(z)) / s for u in z]
    got = rows["shifted"]["value"]
    for g, w in zip(got, want):
        assert abs(mpmath.mpf(g) - w) <= w * 2 ** -22 + mpmath.mpf(2) ** -149


# --- vector–Jacobian products and the cross-entropy gradient -------------------------------------

def _diff_vector(f, xs, i):
    """∂f/∂x_i at xs (mpmath.diff at high precision, the function itself differentiated)."""
    with mpmath.workdps(60):
        v = [mpmath.mpf(x) for x in xs]

        def g(t):
            w = list(v)
            w[i] = t
            return f(w)

        return mpmath.diff(g, v[i])


def _softmax(w):
    s = mpmath.fsum(mpmath.exp(u) for u in w)
    return [mpmath.exp(u) / s for u in w]


def test_softmax_vjp_cancels_where_the_top_probability_is_near_one(smooth_json):
    """gᵀ∂softmax with g = onehot(argmax) = ∇p_max: the backward y ⊙ (g − g·y) computes
    1 − y_0 with y_0 = 0.99995 rounded to 1 in bfloat16, so element 0 is 0; the stable form
    y_0·Σ_{j≠0} y_j is right."""
    xs = ["10", "0", "-3"]
    assert float(np.asarray(0.99995, dtype=np.float32).astype(oracle.np_dtype("bfloat16"))) == 1
    doc = smooth_json("grad", "softmax", *xs, "--dtype", "bfloat16")
    rows = {r["method"]: r for r in doc["rows"]}
    want = [_diff_vector(lambda w: _softmax(w)[0], [10, 0, -3], i) for i in range(3)]
    for r in rows.values():
        assert r["function"] == "softmax_vjp"
        for text, w in zip(r["reference_decimal"], want):
            assert abs(mpmath.mpf(text) - w) <= abs(w) * 1e-15
    assert num(rows["shifted"]["value"][0]) == 0.0 and rows["shifted"]["status"] == "inaccurate"
    assert rows["stable"]["status"] == "ok" and rows["stable"]["ulp_error"] <= 1
    assert "--method stable" in rows["shifted"]["advice"]


def test_log_softmax_vjp_of_equal_logits_is_exactly_zero_only_when_stable(smooth_json):
    """Σ_i log softmax(x)_i has gradient 1 − n·p_i = 0 at equal logits (p_i = 1/n): the
    backward g − exp(y)·Σg is not 0 in float16 (exp(−log 4) is not exactly 1/4 there), the
    stable form gives 0 exactly."""
    with np.errstate(all="ignore"):
        x = np.full(4, 1, dtype=np.float16)
        lse = np.float16(1) + np.log(np.float16(4))
        naive = np.float16(1) - np.exp(x - lse) * np.float16(4)
    assert (naive != 0).all()  # the failure, predicted in the dtype
    doc = smooth_json("grad", "log-softmax", "1", "1", "1", "1", "--dtype", "float16")
    rows = {r["method"]: r for r in doc["rows"]}
    assert rows["stable"]["value"] == [0.0] * 4 and rows["stable"]["status"] == "ok"
    assert rows["stable"]["reference_decimal"] == ["0.0"] * 4
    assert rows["naive"]["status"] == "inaccurate"


def test_cross_entropy_gradient_at_a_confident_label(smooth_json):
    """∇CE(x, y) = p − onehot(y): p_0 − 1 rounds to 0 in bfloat16 (p_0 = 0.99995); the stable
    entry −Σ_{j≠0} p_j keeps −4.77e-5.  Expectations: mpmath.diff of CE = LSE(x) − x_0."""
    doc = smooth_json("grad", "cross-entropy", "10", "0", "-3", "--label", "0",
                      "--dtype", "bfloat16")
    rows = {r["method"]: r for r in doc["rows"]}

    def ce(w):
        return mpmath.log(mpmath.fsum(mpmath.exp(u) for u in w)) - w[0]

    want = [_diff_vector(ce, [10, 0, -3], i) for i in range(3)]
    for text, w in zip(rows["stable"]["reference_decimal"], want):
        assert abs(mpmath.mpf(text) - w) <= abs(w) * 1e-15
    assert num(rows["naive"]["value"][0]) == 0.0 and rows["naive"]["status"] == "inaccurate"
    assert rows["stable"]["status"] == "ok"
    got = num(rows["stable"]["value"][0])
    assert abs(got - float(want[0])) <= 2.0 ** -8 * abs(float(want[0]))  # within bfloat16's u
    with pytest.raises(AssertionError):  # --label is required, and checked against the row
        smooth_json("grad", "cross-entropy", "1", "2", expect_exit=0)


def test_gradient_at_plus_inf_is_the_limit_one_hot(smooth_json):
    """LSE(1, c, c) as c → +inf: ∇ → (0, ½, ½); the frameworks' forms compute inf − inf = NaN
    (status nan), a row of −inf has no gradient at all (undefined)."""
    doc = smooth_json("grad", "lse", "1", "inf", "inf", "--dtype", "float32")
    for r in doc["rows"]:
        assert r["reference"] == [0.0, 0.5, 0.5]
        assert r["status"] == "nan" and "one-hot of the +inf" in r["reason"]
    for fn in ("softmax", "log-softmax"):
        doc = smooth_json("grad", fn, "-inf", "-inf", "--dtype", "float16")
        assert {r["status"] for r in doc["rows"]} == {"undefined"}


# --- the frameworks' own autodiff as rows (--peer torch, --peer jax) ---------------------------

def test_torch_and_jax_gradients_reproduce_jax_40385(smooth_json):
    """σ′(37.43) in float64 by the frameworks' autodiff is 0 (jax#40385), computed here by the
    framework itself, and the peer rows hold exactly what it returns."""
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test]'")
    jax = pytest.importorskip("jax", reason="jax is not installed: pip install -e '.[test]'")
    t = torch.tensor([37.43], dtype=torch.float64, requires_grad=True)
    (g_torch,) = torch.autograd.grad(torch.sigmoid(t).sum(), t)
    with jax.enable_x64(True):
        g_jax = float(jax.grad(jax.nn.sigmoid)(jax.numpy.float64(37.43)))
    assert float(g_torch[0]) == 0.0 and g_jax == 0.0
    doc = smooth_json("grad", "sigmoid", "37.43", "--dtype", "float64", "--peer", "torch",
                      "--peer", "jax")
    rows = {r["method"]: r for r in doc["rows"]}
    for peer in ("torch", "jax"):
        assert num(rows[peer]["value"]) == 0.0 and rows[peer]["status"] == "inaccurate"
        assert peer in rows[peer]["peer"]
    assert rows["stable"]["status"] == "ok"


def test_torch_softmax_backward_is_the_shifted_form(smooth_json):
    """torch's softmax backward on float32 inputs: the peer row holds what torch.autograd returns
    here, and shares the failure of the backward form y ⊙ (g − g·y) (element 0 is off by
    thousands of ULPs, as smooth's `shifted` method is; torch's own exp rounds differently)."""
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test]'")
    t = torch.tensor([10.0, 0.0, -3.0], dtype=torch.float32, requires_grad=True)
    g = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float32)
    (want,) = torch.autograd.grad((torch.softmax(t, dim=0) * g).sum(), t)
    doc = smooth_json("grad", "softmax", "10", "0", "-3", "--dtype", "float32",
                      "--peer", "torch")
    rows = {r["method"]: r for r in doc["rows"]}
    assert [num(v) for v in rows["torch"]["value"]] == [float(v) for v in want]
    assert rows["torch"]["status"] == rows["shifted"]["status"] == "inaccurate"
    assert rows["torch"]["ulp_error"] > 1000 and rows["stable"]["status"] == "ok"


def test_masking_afterwards_does_not_remove_the_nan_gradient(smooth_json):
    """A fully masked row: torch's logsumexp gradient is NaN (pytorch#31829), a `where` that
    discards the result afterwards still back-propagates 0·NaN = NaN (jax#23842), and so does
    multiplying the attention weights by 0 (pytorch#41508).  smooth calls the row undefined
    (there is no gradient to compute) and says to handle it before the call."""
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test]'")
    x = torch.full((3,), -math.inf, requires_grad=True)
    (g,) = torch.autograd.grad(torch.logsumexp(x, dim=0), x)
    assert torch.isnan(g).all()
    x = torch.full((3,), -math.inf, requires_grad=True)
    masked = torch.where(torch.tensor(True), torch.tensor(0.0), torch.logsumexp(x, dim=0))
    (g,) = torch.autograd.grad(masked, x)
    assert torch.isnan(g).all()
    x = torch.full((3,), -math.inf, requires_grad=True)
    (g,) = torch.autograd.grad((torch.softmax(x, dim=0) * 0).sum(), x)
    assert torch.isnan(g).all()
    doc = smooth_json("grad", "lse", "-inf", "-inf", "-inf", "--dtype", "float32",
                      "--peer", "torch")
    rows = {r["method"]: r for r in doc["rows"]}
    assert all(num(v) != num(v) for v in rows["torch"]["value"])  # NaN, as above
    assert {r["status"] for r in rows.values()} == {"undefined"}
    assert "handle them before the call" in rows["torch"]["advice"]


def test_grad_max_statuses_at_a_tie(smooth_json):
    """At a tie of t maxima the subgradients of max are the convex combinations of their
    one-hots: `first` and `split` are (entries sum to 1), `all` is not (its entries sum to t),
    and argmax has none.  Without a tie every convention is ok."""
    doc = smooth_json("grad", "max", "3", "3", "1", "--dtype", "float16", "--check",
                      expect_exit=1)
    status = {r["convention"]: r["status"] for r in doc["rows"]}
    assert status == {"first": "ok", "split": "ok", "all": "inaccurate", "argmax": "undefined"}
    sums = {r["convention"]: r["gradient_sum"] for r in doc["rows"]}
    assert sums["all"] == "2" and sums["split"] == "1" and sums["first"] == "1"
    assert doc["problems"] and all(("all" in p or "argmax" in p) for p in doc["problems"])
    doc = smooth_json("grad", "max", "3", "2", "1", "--dtype", "float16", "--check",
                      expect_exit=0)
    assert {r["status"] for r in doc["rows"]} == {"ok"}


def test_gradients_of_a_file_batch(smooth_json, tmp_path):
    """grad takes every input form: a .npy batch gives one row per (input row, dtype, method),
    each against its own exact gradient (mpmath.diff of the cross-entropy of that row)."""
    x = np.array([[10, 0, -3], [5, 5, -1]], dtype=np.float32)
    np.save(tmp_path / "g.npy", x)
    doc = smooth_json("grad", "cross-entropy", "--file", str(tmp_path / "g.npy"), "--label", "0",
                      "--dtype", "float32")
    assert sorted((r["row"], r["method"]) for r in doc["rows"]) == [
        (0, "naive"), (0, "stable"), (1, "naive"), (1, "stable")]
    for r in doc["rows"]:
        row = [float(v) for v in x[r["row"]]]

        def ce(w):
            return mpmath.log(mpmath.fsum(mpmath.exp(u) for u in w)) - w[0]

        for i, text in enumerate(r["reference_decimal"]):
            want = _diff_vector(ce, row, i)
            assert abs(mpmath.mpf(text) - want) <= abs(want) * 1e-15
