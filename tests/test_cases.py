"""The casebook: every case reproduces its published symptom and evaluates the adopted fix.

Expectations come from outside smooth: mpmath, exact reasoning on the format (spacing, midpoints,
ties-to-even), or the framework of the thread itself (torch, jax, numpy, ml_dtypes).
"""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest

from smoothcli import cases


@pytest.fixture(autouse=True)
def _precision():
    """The expectations here at 200 bits (the tool itself runs at mpmath's default, as for a
    user: conftest's runner sets it)."""
    with mpmath.workprec(200):
        yield


def num(v):
    return float(v) if not isinstance(v, str) else float(v.replace("infinity", "inf"))


def run_case(command, **options):
    with mpmath.workprec(53):  # the tool at mpmath's default precision, as a user runs it
        return cases.run(command, **options)


def rows(case_command):
    r = run_case(case_command, json=True)
    assert r.exit_code in (0, 1), r.output
    doc = json.loads(r.output[r.output.index("{"):])
    return {(x["dtype"], x["method"]): x for x in doc["rows"]}, doc


def rnd(x, dtype):
    """mpmath value rounded to a numpy dtype (through float64: fine for the values here, which
    are not near a midpoint of the narrow format; checked by the assertions on ULPs)."""
    return float(np.asarray(float(x)).astype(dtype))


def test_every_case_is_listed_and_renders():
    assert len(cases.CASES) >= 15
    assert len(set(cases.names())) == len(cases.CASES)
    for c in cases.CASES:
        assert "#" in c.source or "no public thread" in c.source or "Higham" in c.source


def test_pytorch_25110_fully_masked_row():
    torch = pytest.importorskip("torch")
    c = cases.get("pytorch-25110")
    got, _ = rows(c.command)
    # the framework: torch.softmax of an all -inf row is NaN
    assert torch.isnan(torch.softmax(torch.full((3,), -math.inf), 0)).all()
    r = got["float32", "shifted"]
    assert r["status"] == "undefined" and all(math.isnan(num(v)) for v in r["value"])
    fixed, _ = rows(c.fix)
    s = fixed["float32", "safe"]
    assert [num(v) for v in s["value"]] == [0.0, 0.0, 0.0]
    assert s["status"] == "undefined" and "convention" in s["reason"]


@pytest.mark.parametrize("name,xs", [("pytorch-6864", [0, math.inf]),
                                     ("jax-21495", [math.inf, 0, math.inf])])
def test_softmax_with_plus_inf_is_nan(name, xs):
    torch = pytest.importorskip("torch")
    assert torch.isnan(torch.softmax(torch.tensor(xs, dtype=torch.float32), 0)).all()
    got, _ = rows(cases.get(name).command)
    for r in got.values():
        assert r["status"] == "undefined"
        assert any(math.isnan(num(v)) for v in r["value"])


def test_jax_21495_jax_returns_nan():
    jax = pytest.importorskip("jax")
    out = np.asarray(jax.nn.softmax(jax.numpy.array([np.inf, 0.0], dtype="float32")))
    assert np.isnan(out).all()


def test_tensorflow_11692_shift_by_infinite_max():
    c = cases.get("tensorflow-11692")
    with np.errstate(invalid="ignore"):
        assert math.isnan(np.float32(-np.inf) - np.float32(-np.inf))  # the mechanism
    got, _ = rows(c.fix)
    assert math.isnan(num(got["float32", "shifted-unguarded"]["value"]))
    assert got["float32", "shifted-unguarded"]["status"] == "nan"
    assert num(got["float32", "shifted"]["value"]) == -math.inf  # log(0) = -inf exactly
    assert got["float32", "shifted"]["status"] == "ok"


def test_numpy_22208_float16_sum_stalls_at_2048():
    # the format: float16's spacing at 2048 is 2, so 2048 + 1 is a tie and rounds to even 2048
    assert np.float16(2048) + np.float16(1) == np.float16(2048)
    c = cases.get("numpy-22208")
    got, _ = rows(c.command)
    r = got["float16", "shifted"]
    assert num(r["value"]) == rnd(mpmath.log(2048), np.float16)
    assert r["status"] == "inaccurate"
    fixed, _ = rows(c.fix)
    assert num(fixed["float16", "shifted"]["value"]) == rnd(mpmath.log(4096), np.float16)
    assert fixed["float16", "shifted"]["status"] == "ok"


def test_numpy_7930_65520_ones_sum_to_inf():
    with np.errstate(over="ignore"):
        assert np.isinf(np.ones(65520, dtype=np.float16).sum())  # the framework
        assert np.ones(65519, dtype=np.float16).sum() == 65504
    c = cases.get("numpy-7930")
    got, _ = rows(c.command)
    assert num(got["float16", "shifted"]["value"]) == math.inf
    assert got["float16", "shifted"]["status"] == "overflow"
    fixed, _ = rows(c.fix)
    assert num(fixed["float16", "shifted"]["value"]) == rnd(mpmath.log(65520), np.float16)


def test_ml_dtypes_63_bfloat16_sum_is_256():
    import ml_dtypes

    rng = np.random.default_rng(0)
    assert rng.uniform(size=10000).astype(ml_dtypes.bfloat16).sum() == 256  # the framework
    c = cases.get("ml_dtypes-63")
    got, _ = rows(c.command)
    assert num(got["bfloat16", "shifted"]["value"]) == rnd(mpmath.log(256), ml_dtypes.bfloat16)
    assert got["bfloat16", "shifted"]["status"] == "inaccurate"
    fixed, _ = rows(c.fix)
    assert num(fixed["bfloat16", "shifted"]["value"]) == rnd(mpmath.log(10000),
                                                             ml_dtypes.bfloat16)


def test_executorch_20090_uniform_softmax_over_512():
    c = cases.get("executorch-20090")
    got, _ = rows(c.command)
    assert {num(v) for v in got["bfloat16", "shifted"]["value"]} == {2.0 ** -8}
    fixed, _ = rows(c.fix)
    for m in ("shifted", "upcast"):
        assert {num(v) for v in fixed["bfloat16", m]["value"]} == {2.0 ** -9}  # exact 1/512
        assert fixed["bfloat16", m]["status"] == "ok"


def test_transformers_17433_masked_row_overflows_in_float16():
    torch = pytest.importorskip("torch")
    w = torch.tensor([-20.0, -26.0], dtype=torch.float16) + torch.finfo(torch.float16).min
    assert torch.isinf(w).all()  # the mechanism of PR #17306, in torch itself
    assert torch.isnan(torch.softmax(w.float(), 0)).all()
    c = cases.get("transformers-17433")
    got, _ = rows(c.command)
    assert all(r["status"] == "overflow" for r in got.values())
    fixed, _ = rows(c.fix)
    r = fixed["float16", "upcast"]
    assert [num(v) for v in r["value"]] == [0.5, 0.5] and r["status"] == "ok"
    # the adopted fix in torch: clamp, then softmax in float32, cast back
    clamped = torch.maximum(w, torch.tensor(torch.finfo(torch.float16).min,
                                            dtype=torch.float16))
    assert torch.softmax(clamped, 0, dtype=torch.float32).half().tolist() == [0.5, 0.5]


def test_pytorch_187180_softplus_small_beta_float16():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x16 = torch.tensor([1.0], dtype=torch.float16)
    assert torch.isinf(F.softplus(x16, beta=1e-6)).all()  # the framework
    exact = mpmath.log1p(mpmath.exp(mpmath.mpf(1e-6))) / mpmath.mpf(1e-6)
    assert abs(exact - mpmath.mpf("693147.68")) < 0.01 and exact > 65504
    from smoothcli.commands._common import Settings
    from smoothcli.core.formats import resolve_dtypes
    from smoothcli.core.numbers import parse_numbers
    from smoothcli.engine.evaluate import Plan, evaluate
    from smoothcli.engine.sources import arguments
    from smoothcli.methods.torch_forms import register, softplus_torch_spec
    from smoothcli.report.verdict import Verdicts

    spec = softplus_torch_spec(1e-6)
    register(spec)
    ev = evaluate(Plan(spec.name, resolve_dtypes(["float16", "float32"]),
                       ["torch-form", "stable"]), arguments(parse_numbers(["1.0"])))
    v = Verdicts(ev, advise=False)
    by = {(s.dtype, s.method): s for s in ev.series}
    s16 = by["float16", "torch-form"]
    assert s16["value"][0] == math.inf and v.status(s16, 0) == "overflow"
    assert abs(mpmath.mpf(s16["reference"][0]) - exact) < 1e-6
    t32 = F.softplus(torch.tensor([1.0]), beta=1e-6).item()
    s32 = by["float32", "torch-form"]
    # the model follows torch's formula with numpy's exp/log1p: within one float32 ULP of torch
    assert abs(s32["value"][0] - t32) <= np.spacing(np.float32(t32))
    assert v.status(s32, 0) == "ok" and v.status(by["float32", "stable"], 0) == "ok"
    text = cases.render(cases.get("pytorch-187180"))
    assert "overflow" in text and "693147" in text


def test_ml_dtypes_260_e4m3_overflow_and_saturation():
    import ml_dtypes

    from smoothcli.core.formats import FORMATS
    from smoothcli.core.rounding import round_fraction
    from fractions import Fraction

    f8 = ml_dtypes.float8_e4m3fn
    src = np.array([464.0, 465.0], dtype=np.float32).astype(f8).astype(np.float32)
    assert src[0] == 448 and np.isnan(src[1])  # the framework
    c = cases.get("ml_dtypes-260")
    got, doc = rows(c.command)
    assert all(r["status"] == "overflow" for r in got.values())
    text = run_case(c.command).output
    assert "448.0" in text and "NaN" in text
    fmt = FORMATS["float8_e4m3fn"]
    # exact reasoning: 448 = 1.75·2^8 is the largest value, 480 would be next; 464 is the tie
    assert round_fraction(Fraction(464), fmt) == 448.0
    assert math.isnan(round_fraction(Fraction(465), fmt))
    assert round_fraction(Fraction(465), fmt, saturate=True) == 448.0
    assert round_fraction(Fraction(-3 * 10 ** 10), fmt, saturate=True) == -448.0


def test_flash_attention_1930_nan_depends_on_the_index():
    c = cases.get("flash-attention-1930")
    got, _ = rows(c.fix)
    # exact: LSE of [10, -inf, ...] is 10, so the cross-entropy LSE − x[label] is 0
    assert math.isnan(num(got["float32", "online-unguarded"]["value"]))
    for m in ("online", "shifted"):
        assert num(got["float32", m]["value"]) == 10.0
        assert got["float32", m]["status"] == "ok"
    # the thread: "for some values of i (like 0) this doesn't happen"
    i0 = cases.Command(("lse", "--file", "fa1930_i0.npy", "--dtype", "float32", "--method",
                        "online-unguarded"), files=c.command.files)
    got0, _ = rows(i0)
    assert num(got0["float32", "online-unguarded"]["value"]) == 10.0


def test_jax_40385_sigmoid_gradient():
    x = 37.42994775023705
    exact = mpmath.exp(-mpmath.mpf(x)) / (1 + mpmath.exp(-mpmath.mpf(x))) ** 2
    assert abs(float(exact) - 5.551115123125775e-17) < 1e-30
    s = 1 / (1 + math.exp(-x))
    assert s == 1.0 and s * (1 - s) == 0.0  # the published form, in float64
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    try:
        g = float(jax.grad(jax.nn.sigmoid)(jax.numpy.float64(x)))
    finally:
        jax.config.update("jax_enable_x64", False)
    assert g in (0.0, float(exact)) or abs(g - float(exact)) < 1e-30
    c = cases.get("jax-40385")
    if not cases.available(c):
        pytest.skip("smooth grad is not available on this branch (being built on branch grad)")
    r = run_case(c.command)
    assert r.exit_code in (0, 1) and "5.55" in r.output


def test_torch_softplus_threshold_audit():
    torch = pytest.importorskip("torch")
    x = 20.4
    t = torch.nn.functional.softplus(torch.tensor([x], dtype=torch.float64)).item()
    assert t == x  # the framework returns x above the threshold
    exact = mpmath.mpf(x) + mpmath.log1p(mpmath.exp(-mpmath.mpf(x)))
    ulp = math.ulp(x)
    assert 3.8e5 < float((exact - x) / ulp) < 4.0e5
    c = cases.get("torch-softplus-threshold")
    r = run_case(c.fix)
    assert r.exit_code == 1  # --check --max-ulp 1 fails the torch row
    assert "float64 torch: inaccurate" in r.output
    plain = run_case(c.command)
    assert plain.exit_code == 0 and "3.89e+05" in plain.output


def test_pytorch_62897_bfloat16_softmax_without_max():
    import ml_dtypes

    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.array([1000.0], dtype=np.float32)).astype(ml_dtypes.bfloat16))
    c = cases.get("pytorch-62897")
    got, _ = rows(c.fix)
    assert got["bfloat16", "naive"]["status"] == "overflow"
    exact = [1 / (1 + mpmath.exp(-4)), 1 / (1 + mpmath.exp(4))]  # x − max = [0, −4]
    for v, e in zip(got["bfloat16", "shifted"]["value"], exact):
        # within one bfloat16 ULP (2^-8 relative to the binade of the exact value)
        assert abs(num(v) - float(e)) <= 2.0 ** (math.floor(math.log2(float(e))) - 7)
    assert got["bfloat16", "shifted"]["status"] == "ok"


def test_bhh_2021_published_counts():
    if not cases.BHH_DATA.exists():
        pytest.skip("tests/data/bhh is not present")
    x = np.load(cases.BHH_DATA)
    # the published count, recomputed from the format: a row overflows the basic float16 LSE
    # iff one of its logits is above ln(65520) (where exp rounds to inf) or Σ exp overflows
    lim = float(mpmath.log(65520))
    assert int((x.max(axis=1) >= lim).sum()) <= 475
    c = cases.get("bhh-2021")
    _, doc = rows(c.fix)
    counts = {r["method"]: r["status_rows"] for r in doc["summary"]}
    assert counts["naive"].get("overflow", 0) == 475
    assert counts["shifted"].get("overflow", 0) == 0


def test_unknown_case_is_a_usage_error(smooth):
    r = smooth("cases", "no-such-case")
    assert r.exit_code == 2 and "unknown case" in r.stderr


def test_cases_command_lists_and_runs(smooth):
    r = smooth("cases")
    assert r.exit_code == 0 and all(n in r.stdout for n in cases.names())
    r = smooth("cases", "tensorflow-11692")
    assert r.exit_code == 0
    assert "tensorflow/tensorflow#11692" in r.stdout and "$ smooth lse -inf" in r.stdout


def test_docs_cases_md_is_generated():
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parent.parent / "tools" / "refresh_cases.py"
    assert subprocess.run([sys.executable, str(tool), "--check"]).returncode == 0


def test_the_console_script_runs_a_case(env_with_smooth):
    """`smooth cases NAME` as a user runs it: the console script hands click a group holding
    only `cases`, and the case's own commands (here `smooth lse ... --saturate`) must still run:
    465 saturates to float8_e4m3fn's largest value 448 (ml_dtypes#260), so LSE(448, 448) =
    448 + log 2 is finite and rounds to 448."""
    import subprocess

    p = subprocess.run(["smooth", "cases", "ml_dtypes-260"], capture_output=True, text=True,
                       env=env_with_smooth, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "No such command" not in p.stdout + p.stderr
    fixed = p.stdout.split("--saturate", 1)[1]
    row = next(line for line in fixed.splitlines() if "shifted" in line)
    assert row.split()[2] == "448.0" and row.split()[-1] == "ok"
