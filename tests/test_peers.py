"""--peer scipy / torch / jax: what other libraries return for the same dtype-rounded inputs.

Two levels:

* the library level: ``smoothcli.engine.peers.call`` for every (peer, kind, dtype) against the
  framework called independently here, and the framework behaviour a user cares about (softmax of
  [0, +inf], logsumexp of all -inf, what each library computes internally on float16/bfloat16),
  checked against float32 results rounded once or step-by-step numpy models written here;
* end to end through the CLI for lse and softmax, against the mpmath oracle (tests/oracle*.py).

torch and jax are in the ``test`` extra; without them their tests skip, saying so.
"""

from __future__ import annotations

import importlib.util
import math

import mpmath
import numpy as np
import pytest

import oracle as O
from conftest import num
from oracle import decimal_is_correct

scipy_special = pytest.importorskip("scipy.special", reason="scipy is not installed "
                                    "(pip install -e '.[test]')")

from smoothcli.core.formats import get_float_format  # noqa: E402
from smoothcli.engine import peers  # noqa: E402

DTYPES = ["float16", "float32", "float64", "bfloat16", "float8_e4m3fn", "float8_e5m2"]
HALF = ["float16", "bfloat16"]
KINDS = ["lse", "softmax", "log_softmax", "sigmoid", "softplus", "log_sigmoid"]
ELEMENTWISE = ("sigmoid", "softplus", "log_sigmoid")
X = [1.5, -2.0, 0.25, 3.0, -0.75]  # representable in every dtype


def need(name: str):
    return pytest.importorskip(name, reason=f"{name} is not installed: pip install -e "
                               "'.[test]' installs it (see docs/peers.md)")


def arr(xs, name):
    """xs (values of the dtype) as an array of the dtype, without smoothcli."""
    return np.asarray(xs, dtype=np.float64).astype(O.np_dtype(name))


def same(a, b) -> bool:
    """Equal as float64 values, NaN equal to NaN, -0.0 equal to 0.0."""
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                          equal_nan=True)


def call(peer, kind, x, name):
    return peers.call(peer, kind, x, get_float_format(name))


def every_value(name):
    bits = {"float16": 16, "bfloat16": 16, "float8_e4m3fn": 8, "float8_e5m2": 8}[name]
    return np.arange(2 ** bits, dtype=np.uint16 if bits == 16 else np.uint8).view(
        O.np_dtype(name))


def random_vectors(name, count=300, seed=7):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        # a few lengths: jax compiles once per shape
        v = rng.standard_normal([2, 3, 8, 17, 40][i % 5]) * [1, 4, 20, 200][i % 4]
        v = v.astype(O.np_dtype(name))
        v = v[np.isfinite(v.astype(np.float64))]
        if v.size:
            out.append(v)
    return out


def rounded(v, name):
    with np.errstate(invalid="ignore"):  # NaN into a float8 without NaN-quietness warnings
        return np.asarray(v).astype(O.np_dtype(name)).astype(np.float64)


# -- independent calls of each framework ------------------------------------------------------


def scipy_direct(kind, x):
    f = {"lse": "logsumexp", "softmax": "softmax", "log_softmax": "log_softmax",
         "sigmoid": "expit", "softplus": "softplus", "log_sigmoid": "log_expit"}[kind]
    with np.errstate(all="ignore"):
        return np.asarray(getattr(scipy_special, f)(x))


def torch_direct(kind, x, name, compute=None):
    """torch's function on x; with compute=, on x converted to that dtype, the result rounded
    once to ``name``."""
    torch = need("torch")
    F = torch.nn.functional
    with np.errstate(invalid="ignore"):
        x64 = np.asarray(x, dtype=np.float64)
    t = torch.tensor(x64).to(getattr(torch, compute or name))
    r = {"lse": lambda: torch.logsumexp(t, 0), "softmax": lambda: torch.softmax(t, 0),
         "log_softmax": lambda: torch.log_softmax(t, 0), "sigmoid": lambda: torch.sigmoid(t),
         "softplus": lambda: F.softplus(t), "log_sigmoid": lambda: F.logsigmoid(t)}[kind]()
    if compute:
        r = r.to(getattr(torch, name))
    return r, r.to(torch.float64).numpy()


def jax_direct(kind, x):
    jax = need("jax")
    import jax.numpy as jnp

    fn = {"lse": jax.nn.logsumexp, "softmax": jax.nn.softmax,
          "log_softmax": jax.nn.log_softmax, "sigmoid": jax.nn.sigmoid,
          "softplus": jax.nn.softplus, "log_sigmoid": jax.nn.log_sigmoid}[kind]
    with jax.enable_x64(True):
        return np.asarray(fn(jnp.asarray(x)))


# -- every (peer, kind, dtype) against the framework itself -----------------------------------


@pytest.mark.parametrize("name", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_scipy_call_is_scipy(kind, name):
    x = arr(X, name)
    value, returned, what, version = call("scipy", kind, x, name)
    want = scipy_direct(kind, x)
    assert same(value, want) and returned == want.dtype.name
    assert what == {"lse": "scipy.special.logsumexp", "softmax": "scipy.special.softmax",
                    "log_softmax": "scipy.special.log_softmax", "sigmoid": "scipy.special.expit",
                    "softplus": "scipy.special.softplus",
                    "log_sigmoid": "scipy.special.log_expit"}[kind]
    import scipy

    assert version == f"scipy {scipy.__version__}"
    assert np.asarray(value).shape == (() if kind == "lse" else (len(X),))


@pytest.mark.parametrize("name", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_torch_call_is_torch(kind, name):
    torch = need("torch")
    x = arr(X, name)
    if name.startswith("float8"):
        # torch has the float8 dtypes but no CPU kernel for these functions: a clear refusal
        with pytest.raises(peers.PeerError, match=f"refuses .* on {name}"):
            call("torch", kind, x, name)
        return
    value, returned, what, version = call("torch", kind, x, name)
    r, want = torch_direct(kind, x, name)
    assert same(value, want) and returned == str(r.dtype).removeprefix("torch.") == name
    assert what == {"lse": "torch.logsumexp", "softmax": "torch.softmax",
                    "log_softmax": "torch.log_softmax", "sigmoid": "torch.sigmoid",
                    "softplus": "torch.nn.functional.softplus",
                    "log_sigmoid": "torch.nn.functional.logsigmoid"}[kind]
    assert version == f"torch {torch.__version__}"


@pytest.mark.parametrize("name", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_jax_call_is_jax(kind, name):
    jax = need("jax")
    x = arr(X, name)
    value, returned, what, version = call("jax", kind, x, name)
    want = jax_direct(kind, x)
    # x64 on: float64 stays float64; every dtype comes back as itself
    assert same(value, want) and returned == want.dtype.name == name
    assert what == f"jax.nn.{'logsumexp' if kind == 'lse' else kind}"
    assert version == f"jax {jax.__version__}"


def test_jax_float64_is_not_demoted_to_float32():
    need("jax")
    x = np.array([1e-300, 700.0, -1e-17])  # not float32 values: x64 off would change them
    value, returned, _, _ = call("jax", "lse", x, "float64")
    assert returned == "float64"
    with mpmath.workprec(200):
        want = mpmath.log(sum(mpmath.exp(mpmath.mpf(float(v))) for v in x))
    assert float(value) == float(want)  # 700 + log1p(tiny): float64 gets it exactly right


def test_jax_x64_is_switched_on_for_the_call_only():
    jax = need("jax")
    before = jax.config.jax_enable_x64
    call("jax", "lse", arr(X, "float64"), "float64")
    assert jax.config.jax_enable_x64 == before


def test_unknown_kind_is_a_clear_peer_error():
    with pytest.raises(peers.PeerError, match="scipy has no function for lse_grad"):
        call("scipy", "lse_grad", arr(X, "float32"), "float32")
    assert peers._WHAT["torch", "smooth_abs"] == "torch (smooth_abs)"  # a note, never a KeyError


def test_scipy_without_softplus_is_refused(monkeypatch):
    monkeypatch.delattr(scipy_special, "softplus", raising=False)
    with pytest.raises(peers.PeerError, match="has no scipy.special.softplus"):
        call("scipy", "softplus", arr(X, "float32"), "float32")


# -- what the user cares about ----------------------------------------------------------------


@pytest.mark.parametrize("peer", ["scipy", "torch", "jax"])
@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_softmax_of_zero_and_inf_is_nan(peer, name):
    # exp(inf - inf): every library returns [nan, nan] (pytorch#6864), no value and no 1.0
    if peer != "scipy":
        need(peer)
    value, _, _, _ = call(peer, "softmax", arr([0.0, math.inf], name), name)
    assert np.isnan(value).all() and value.shape == (2,)


@pytest.mark.parametrize("peer", ["scipy", "torch", "jax"])
@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_logsumexp_of_all_minus_inf_is_minus_inf(peer, name):
    # log(0) = -inf: the max shift (-inf - -inf = nan) is guarded in all three
    if peer != "scipy":
        need(peer)
    value, _, _, _ = call(peer, "lse", arr([-math.inf, -math.inf, -math.inf], name), name)
    assert float(value) == -math.inf


@pytest.mark.parametrize("peer", ["scipy", "torch", "jax"])
def test_elementwise_limits(peer):
    if peer != "scipy":
        need(peer)
    x = arr([-math.inf, math.inf, -1000.0, 1000.0], "float64")
    assert same(call(peer, "sigmoid", x, "float64")[0], [0.0, 1.0, 0.0, 1.0])
    assert same(call(peer, "softplus", x, "float64")[0], [0.0, math.inf, 0.0, 1000.0])
    assert same(call(peer, "log_sigmoid", x, "float64")[0], [-math.inf, 0.0, -1000.0, 0.0])


# -- what each framework computes internally (the sentences of peers.describe) ----------------


@pytest.mark.parametrize("name", HALF)
def test_torch_half_softmax_is_float32_rounded_once(name):
    need("torch")
    assert "float32 and rounds the result once" in peers.describe("torch", "softmax", name)
    for x in random_vectors(name):
        got = call("torch", "softmax", x, name)[0]
        assert same(got, torch_direct("softmax", x, name, compute="float32")[1]), x


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("kind", ELEMENTWISE)
def test_torch_half_elementwise_is_float32_rounded_once_on_every_value(kind, name):
    need("torch")
    assert "float32 and rounds the result once" in peers.describe("torch", kind, name)
    x = every_value(name)
    got = call("torch", kind, x, name)[0]
    assert same(got, torch_direct(kind, x, name, compute="float32")[1])


def step_lse(x, name):
    """exp(x - max) rounded to the dtype, summed in float32 and rounded, log rounded, + max
    rounded (numpy float32 arithmetic; ml_dtypes/numpy casts round to nearest even)."""
    D = O.np_dtype(name)
    x32 = x.astype(np.float32)
    m = x32.max()
    e = np.exp((x32 - m).astype(D).astype(np.float32)).astype(D).astype(np.float32)
    s = np.sum(e, dtype=np.float32).astype(D).astype(np.float32)
    return np.float64((np.log(s).astype(D).astype(np.float32) + m).astype(D))


@pytest.mark.parametrize("peer", ["torch", "jax"])
@pytest.mark.parametrize("name", HALF)
def test_half_logsumexp_rounds_each_step(peer, name):
    need(peer)
    assert "rounds each step" in peers.describe(peer, "lse", name)
    differs = 0
    with np.errstate(all="ignore"):
        for x in random_vectors(name):
            got = float(call(peer, "lse", x, name)[0])
            assert same(got, step_lse(x, name)), x
            wide = float(np.log(np.sum(np.exp(x.astype(np.float32) - x.max()), dtype=np.float32))
                         + np.float32(x.max()))
            differs += got != rounded(wide, name)
    assert differs > 0  # the step-by-step model is not the float32 result rounded once


def test_jax_float16_softmax_multiplies_by_the_rounded_reciprocal():
    need("jax")
    assert "reciprocal" in peers.describe("jax", "softmax", "float16")
    D = np.float16
    for x in random_vectors("float16"):
        x32 = x.astype(np.float32)
        e = np.exp((x32 - x32.max()).astype(D).astype(np.float32)).astype(D).astype(np.float32)
        s = np.sum(e, dtype=np.float32).astype(D).astype(np.float32)
        want = (e * (np.float32(1) / s).astype(D).astype(np.float32)).astype(D)
        assert same(call("jax", "softmax", x, "float16")[0], want), x


def test_jax_float16_log_softmax_rounds_each_step():
    need("jax")
    assert "rounds each step" in peers.describe("jax", "log_softmax", "float16")
    D = np.float16
    for x in random_vectors("float16"):
        x32 = x.astype(np.float32)
        d = (x32 - x32.max()).astype(D).astype(np.float32)
        s = np.sum(np.exp(d).astype(D).astype(np.float32), dtype=np.float32)
        want = (d - np.log(s.astype(D).astype(np.float32)).astype(D).astype(np.float32)).astype(D)
        assert same(call("jax", "log_softmax", x, "float16")[0], want), x


def not_rounded_once(peer, kind, name) -> bool:
    """Some input where ``peer``'s result differs from its own float32 result rounded once."""
    if kind in ELEMENTWISE:
        xs = [every_value(name)]
    else:
        xs = random_vectors(name, 100)
    for x in xs:
        got = call(peer, kind, x, name)[0]
        wide = (torch_direct(kind, x, name, compute="float32")[1] if peer == "torch" else
                rounded(jax_direct(kind, x.astype(np.float32)), name))
        if not same(got, wide):
            return True
    return False


@pytest.mark.parametrize("peer,kind,name", [
    ("torch", "log_softmax", "float16"), ("torch", "log_softmax", "bfloat16"),
    *[("jax", k, n) for k in ("softmax", "log_softmax", *ELEMENTWISE) for n in HALF
      if (k, n) not in (("softmax", "float16"), ("log_softmax", "float16"))],
    *[("jax", k, n) for k in KINDS for n in ("float8_e4m3fn", "float8_e5m2")]])
def test_not_the_float32_result_rounded_once(peer, kind, name):
    need(peer)
    assert "not the float32" in peers.describe(peer, kind, name)
    assert not_rounded_once(peer, kind, name)


@pytest.mark.parametrize("name,wide", [("bfloat16", np.float64), ("float8_e4m3fn", np.float64),
                                       ("float8_e5m2", np.float32)])
def test_scipy_logsumexp_converts_ml_dtypes(name, wide):
    assert f"returns {np.dtype(wide).name}" in peers.describe("scipy", "lse", name)
    for x in random_vectors(name, 100):
        value, returned, _, _ = call("scipy", "lse", x, name)
        assert returned == np.dtype(wide).name
        assert same(value, scipy_direct("lse", x.astype(wide)))


def test_scipy_float16_logsumexp_is_not_a_wide_result_rounded_once():
    assert "not the float32 result rounded once" in peers.describe("scipy", "lse", "float16")
    differs = set()
    for x in random_vectors("float16"):
        value, returned, _, _ = call("scipy", "lse", x, "float16")
        assert returned == "float16"
        for wide in (np.float32, np.float64):
            if not same(value, rounded(scipy_direct("lse", x.astype(wide)), "float16")):
                differs.add(wide)
    assert differs == {np.float32, np.float64}


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_scipy_internal_arithmetic(name):
    D = O.np_dtype(name)
    x = every_value(name)
    with np.errstate(all="ignore"):  # the NaNs and infinities of the format, on purpose
        for kind in ("sigmoid", "log_sigmoid"):  # float64 in, float64 out
            assert "float64" in peers.describe("scipy", kind, name)
            value, returned, _, _ = call("scipy", kind, x, name)
            assert returned == "float64"
            assert same(value, scipy_direct(kind, x.astype(np.float64)))
        assert "rounded once" in peers.describe("scipy", "softplus", name)
        want = np.logaddexp(np.float32(0), x.astype(np.float32)).astype(D)
        assert same(call("scipy", "softplus", x, name)[0], want)
        assert "numpy operations" in peers.describe("scipy", "softmax", name)
        for v in random_vectors(name, 100):
            t = v - np.max(v)
            e = np.exp(t)
            assert same(call("scipy", "softmax", v, name)[0], e / np.sum(e))
            assert same(call("scipy", "log_softmax", v, name)[0], t - np.log(np.sum(e)))


def test_describe_is_silent_where_nothing_was_checked():
    for peer in peers.PEERS:
        for kind in KINDS:
            assert peers.describe(peer, kind, "float64") is None
            text = peers.describe(peer, kind, "float16")
            assert text is not None and len(text) < 160 and "\n" not in text


# -- --peer resolution ------------------------------------------------------------------------


def test_unknown_peer_is_a_usage_error(smooth):
    r = smooth("lse", "1", "2", "--peer", "tensorflow")
    assert r.exit_code == 2 and "tensorflow" in r.stderr
    assert all(p in r.stderr for p in ("scipy", "torch", "jax"))


@pytest.mark.parametrize("peer,hint", [("torch", "pytorch.org"), ("jax", "pip install jax"),
                                       ("scipy", "smoothcli[peers]")])
def test_missing_peer_is_a_usage_error_with_an_install_hint(smooth, monkeypatch, peer, hint):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == peer else real(name, *a))
    r = smooth("lse", "1", "2", "--peer", peer)
    assert r.exit_code == 2, r.stderr
    assert f"{peer} is not installed" in r.stderr and hint in r.stderr


def test_peer_names_are_case_and_comma_tolerant():
    got = peers.resolve_peers(["SciPy, scipy"])
    assert got == ["scipy"]


# -- end to end through the CLI ---------------------------------------------------------------


@pytest.mark.parametrize("xs", [["1.5", "-2", "0.25"], ["710", "12"], ["-800", "-900"]])
def test_scipy_lse_rows(smooth_json, xs):
    dtypes = ["float16", "float32", "float64", "bfloat16", "float8_e5m2"]
    doc = smooth_json("lse", *xs, "--dtype", ",".join(dtypes), "--method", "shifted",
                      "--peer", "scipy")
    peer = {r["dtype"]: r for r in doc["rows"] if r["method"] == "scipy"}
    assert set(peer) == set(dtypes)
    for name, r in peer.items():
        rx = [O.round_to(x, name) for x in xs]
        want = scipy_direct("lse", arr(rx, name))
        assert num(r["value"]) == float(want)
        assert f"returned {want.dtype.name}" in r["accumulation"]
        y = O.lse_exact(rx)
        assert decimal_is_correct(r["reference_decimal"], y)
        with mpmath.workdps(O.DPS):
            assert math.isclose(r["abs_error"], float(abs(mpmath.mpf(float(want)) - y)),
                                rel_tol=1e-9, abs_tol=0)
        assert r["bits"] == O.herbie_bits(O.round_to(float(want), name), y, name)
        assert r["overflow"] is False and r["nan"] is False and r["underflow"] is False


def test_scipy_softmax_rows(smooth_json):
    xs = ["1000", "1000", "999"]
    doc = smooth_json("softmax", *xs, "--dtype", "float16,bfloat16,float32", "--method",
                      "shifted", "--peer", "scipy")
    for r in (r for r in doc["rows"] if r["method"] == "scipy"):
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        want = scipy_direct("softmax", arr(rx, name)).astype(np.float64)
        assert r["value"] == [float(v) for v in want]
        for text, g in zip(r["reference_decimal"], O.softmax_exact(rx)):
            assert decimal_is_correct(text, g)
        assert r["bound_rule"].startswith(("BHH Thm 4.3", "exceeds BHH Thm 4.3"))


def test_scipy_on_an_input_that_overflows_e4m3fn(smooth_json):
    # 710 is NaN in float8_e4m3fn: scipy returns NaN, and the row says the input overflowed
    doc = smooth_json("lse", "710", "12", "--dtype", "float8_e4m3fn", "--method", "shifted",
                      "--peer", "scipy")
    r = [r for r in doc["rows"] if r["method"] == "scipy"][0]
    assert math.isnan(num(r["value"])) and r["overflow"] is True


def _engine_runs(peer: str) -> bool:
    from smoothcli.engine import evaluate

    return peer in evaluate.PEER_NAMES


def framework_lse(peer, rx, name):
    if peer == "torch":
        return float(torch_direct("lse", arr(rx, name), name)[1])
    return float(jax_direct("lse", arr(rx, name)))


def framework_softmax(peer, rx, name):
    if peer == "torch":
        return torch_direct("softmax", arr(rx, name), name)[1]
    return jax_direct("softmax", arr(rx, name)).astype(np.float64)


FRAMEWORKS = [pytest.param(p, marks=pytest.mark.xfail(
    not _engine_runs(p), strict=True,
    reason=f"the engine does not route --peer {p} to peers.call yet "
           "(smoothcli/engine/evaluate.py PEER_NAMES)")) for p in ("torch", "jax")]


@pytest.mark.parametrize("peer", FRAMEWORKS)
@pytest.mark.parametrize("xs", [["1.5", "-2", "0.25"], ["11", "10.5", "-3"], ["-800", "-900"]])
def test_framework_lse_rows(smooth_json, peer, xs):
    mod = need(peer)
    dtypes = ["float16", "float32", "float64", "bfloat16"]
    doc = smooth_json("lse", *xs, "--dtype", ",".join(dtypes), "--method", "shifted",
                      "--peer", peer)
    rows = {r["dtype"]: r for r in doc["rows"] if r["method"] == peer}
    assert set(rows) == set(dtypes)
    fn = {"torch": "torch.logsumexp", "jax": "jax.nn.logsumexp"}[peer]
    for name, r in rows.items():
        rx = [O.round_to(x, name) for x in xs]
        want = framework_lse(peer, rx, name)
        assert num(r["value"]) == want
        assert r["accumulation"] == (f"{fn} ({peer} {mod.__version__}) on a {name} array, "
                                     f"returned {name}")
        y = O.lse_exact(rx)
        assert decimal_is_correct(r["reference_decimal"], y)
        with mpmath.workdps(O.DPS):
            assert math.isclose(r["abs_error"], float(abs(mpmath.mpf(want) - y)),
                                rel_tol=1e-9, abs_tol=0)
        assert r["bits"] == O.herbie_bits(want, y, name)
        assert r["overflow"] is False and r["nan"] is False and r["underflow"] is False


@pytest.mark.parametrize("peer", FRAMEWORKS)
def test_framework_softmax_rows(smooth_json, peer):
    need(peer)
    xs = ["1000", "1000", "999", "-3"]
    doc = smooth_json("softmax", *xs, "--dtype", "float16,bfloat16,float32", "--method",
                      "shifted", "--peer", peer)
    rows = [r for r in doc["rows"] if r["method"] == peer]
    assert {r["dtype"] for r in rows} == {"float16", "bfloat16", "float32"}
    for r in rows:
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        want = framework_softmax(peer, rx, name)
        assert r["value"] == [float(v) for v in want]
        assert f"softmax ({peer} " in r["accumulation"]
        for text, g in zip(r["reference_decimal"], O.softmax_exact(rx)):
            assert decimal_is_correct(text, g)
        with mpmath.workdps(O.DPS):
            worst = max(abs(mpmath.mpf(float(v)) - g) for v, g in zip(want, O.softmax_exact(rx)))
        assert math.isclose(r["abs_error"], float(worst), rel_tol=1e-9, abs_tol=0)


@pytest.mark.parametrize("peer", FRAMEWORKS)
def test_framework_softmax_of_inf_is_undefined(smooth_json, peer):
    need(peer)
    doc = smooth_json("softmax", "0", "inf", "--dtype", "float16", "--peer", peer)
    r = [r for r in doc["rows"] if r["method"] == peer][0]
    assert r["value"] == ["nan", "nan"] and r["status"] == "undefined"


@pytest.mark.parametrize("peer", FRAMEWORKS)
def test_framework_refusal_is_a_note_not_a_row(smooth_json, peer):
    need(peer)
    doc = smooth_json("lse", "1", "2", "--dtype", "float8_e5m2,float16", "--peer", peer)
    rows = {r["dtype"] for r in doc["rows"] if r["method"] == peer}
    notes = " ".join(doc["notes"])
    if peer == "torch":  # no CPU float8 kernel in torch: said in a note
        assert rows == {"float16"}
        assert "--peer torch: torch.logsumexp on float8_e5m2 failed" in notes
    else:  # jax computes float8 natively
        assert rows == {"float8_e5m2", "float16"}


def test_torch_missing_really_is_reported(smooth):
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is importable here (the missing case is simulated above)")
    r = smooth("lse", "1", "2", "--peer", "torch")
    assert r.exit_code == 2 and "torch is not installed" in r.stderr

