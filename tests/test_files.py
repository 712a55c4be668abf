"""--file PATH / --file - / piped stdin: .npy and text inputs, exact values, and the error paths.

Expected roundings come from an exact round-to-nearest-even written in this file on Fractions
(not from smoothcli.core.rounding); expected values from mpmath.
"""

from __future__ import annotations

import io
import json
from fractions import Fraction

import numpy as np
import pytest
from typer.testing import CliRunner

from smoothcli.cli import app
from smoothcli.core.formats import FORMATS
from smoothcli.engine.inputs import ELEMENTWISE_LIMIT, Batch, load

F16, F32, F64 = FORMATS["float16"], FORMATS["float32"], FORMATS["float64"]


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def run_json(*args, input=None):
    r = run(*args, "--json", input=input)
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr, r.exception)
    return json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def rne(q: Fraction, p: int, emin: int, max_finite: Fraction) -> float:
    """Exact round-to-nearest-even of q to a binary format (p bits, normal range from 2**emin)."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    scale = Fraction(2) ** (p - 1 - max(e, emin))
    m = a * scale
    fl = m.numerator // m.denominator
    rem = m - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2):
        fl += 1
    v = Fraction(fl) / scale
    return sign * (float("inf") if v > max_finite else float(v))


HALF = dict(p=11, emin=-14, max_finite=Fraction(65504))
SINGLE = dict(p=24, emin=-126, max_finite=Fraction(2 ** 24 - 1) * Fraction(2) ** 104)


def near_half_midpoints(n=300, seed=0):
    """float32 values at, and one float32 ULP either side of, float16 midpoints (normal and
    subnormal, and the overflow midpoint 65520)."""
    rng = np.random.default_rng(seed)
    h = rng.choice(np.arange(0, 0x7BFF, dtype=np.uint16), n).view(np.float16)
    lo = h.astype(np.float64)
    hi = np.nextafter(h, np.float16(np.inf)).astype(np.float64)
    mid = ((lo + hi) / 2).astype(np.float32)  # exact: a float16 midpoint has 12 bits
    vals = np.concatenate([mid, np.nextafter(mid, np.float32(np.inf)),
                           np.nextafter(mid, np.float32(-np.inf)),
                           np.float32([65520.0, np.nextafter(np.float32(65520), 0), 65519.0])])
    return np.concatenate([vals, -vals])


# --- exact values from float files ----------------------------------------------------------

def test_float32_file_rounds_to_float16_once_correctly(tmp_path):
    vals = near_half_midpoints()
    path = tmp_path / "mid.npy"
    np.save(path, vals.reshape(6, -1))  # 2-D: the batch path (Batch.rounded)
    batch = load(str(path))
    assert isinstance(batch, Batch) and batch.stored == "float32"
    for i in range(batch.rows):
        got = batch.rounded(i, F16)
        want = [rne(Fraction(float(v)), **HALF) for v in batch.data[i]]
        assert [float(g) for g in got] == want
        assert batch.rounded(i, F32).tobytes() == np.asarray(batch.data[i]).tobytes()


def test_float64_file_rounds_to_float16_and_float32_once_correctly(tmp_path):
    rng = np.random.default_rng(1)
    mids16 = near_half_midpoints(100, 2).astype(np.float64)
    # float64 values one float64 ULP around float16 and float32 midpoints: double rounding
    # through float32 would get some of these wrong
    m32 = ((rng.standard_normal(200).astype(np.float32).astype(np.float64)) *
           (1 + 2.0 ** -24))
    vals = np.concatenate([mids16, np.nextafter(mids16, np.inf), np.nextafter(mids16, -np.inf),
                           m32, np.nextafter(m32, np.inf), np.nextafter(m32, -np.inf)])
    path = tmp_path / "f64.npy"
    np.save(path, vals.reshape(2, -1))
    batch = load(str(path))
    for i in range(batch.rows):
        row = batch.data[i]
        assert [float(v) for v in batch.rounded(i, F16)] == [rne(Fraction(v), **HALF)
                                                             for v in row]
        assert [float(v) for v in batch.rounded(i, F32)] == [rne(Fraction(v), **SINGLE)
                                                             for v in row]


def test_small_float_file_is_the_per_element_path_with_exact_values(tmp_path):
    """A short 1-D file behaves like the values typed, each value exactly the stored float."""
    vals = np.array([0.1, 710.0, -3.25], dtype=np.float32)
    path = tmp_path / "small.npy"
    np.save(path, vals)
    doc = run_json("lse", "--file", path)
    assert "batch" not in doc
    for item, v in zip(doc["inputs"], vals):
        assert item["rounded"]["float32"] == float(v) and not item["changed"]["float32"]
        assert item["rounded"]["float64"] == float(v) and not item["changed"]["float64"]
        assert item["rounded"]["float16"] == rne(Fraction(float(v)), **HALF)
    assert doc["inputs"][0]["changed"]["float16"]  # 0.1f is not a float16


def test_float16_file_in_float16_has_no_rounding_step(tmp_path):
    vals = np.array([11.09, 0.1, -65504, 6e-8], dtype=np.float16)
    np.save(tmp_path / "h.npy", vals)
    doc = run_json("lse", "--file", tmp_path / "h.npy", "--dtype", "float16")
    assert not any(i["changed"]["float16"] for i in doc["inputs"])
    assert [i["rounded"]["float16"] for i in doc["inputs"]] == [float(v) for v in vals]


def test_short_file_and_stdin_give_the_same_json_as_typed_values(tmp_path):
    (tmp_path / "v.txt").write_text("710\n12\n")
    typed = run_json("lse", "710", "12", "--dtype", "float16")
    from_file = run_json("lse", "--file", tmp_path / "v.txt", "--dtype", "float16")
    piped = run_json("lse", "--dtype", "float16", input="710 12\n")
    dash = run_json("lse", "--file", "-", "--dtype", "float16", input="710, 12")
    sources = [d.pop("input") for d in (typed, from_file, piped, dash)]
    assert typed == from_file == piped == dash  # everything but where the numbers came from
    assert [s["source"] for s in sources] == ["arguments", str(tmp_path / "v.txt"), "<stdin>",
                                              "<stdin>"]
    assert all(s["shape"] == [2] and s["rows"] == 1 for s in sources)
    assert typed["rows"][0]["overflow"] is True  # the example, for good measure


def test_npy_on_stdin(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]], dtype=np.float32))
    doc = run_json("lse", "--file", "-", "--dtype", "float32", input=buf.getvalue())
    assert doc["input"]["shape"] == [2, 3] and doc["input"]["rows"] == 2
    import mpmath

    shifted = [r for r in doc["rows"] if r["method"] == "shifted"]
    for k, row in enumerate([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]]):
        with mpmath.workprec(200):
            exact = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row))
        assert shifted[k]["row"] == k and shifted[k]["reference"] == float(exact)


# --- text: decimals rounded once, exactly, even through the batch path --------------------------

@pytest.mark.parametrize("token,fmt,want", [
    # just above / below the float16 midpoint 1 + 2**-11: the nearest double IS the midpoint,
    # so rounding the double would tie to even (1.0) — the exact value decides
    ("1.00048828125000000000001", F16, 1 + 2 ** -10),
    ("1.00048828124999999999999", F16, 1.0),
    ("1.00048828125", F16, 1.0),  # the midpoint itself: ties to even
    # the float32 midpoint 1 + 2**-24
    ("1.000000059604644775390625000001", F32, 1 + 2 ** -23),
    ("1.000000059604644775390624999999", F32, 1.0),
    # the overflow midpoint of float16 (65520): just below stays finite
    ("65519.9999999999999999", F16, 65504.0),
    ("65520", F16, float("inf")),
])
def test_decimal_text_is_rounded_from_its_exact_value(tmp_path, token, fmt, want):
    # two columns, so that the file is a 2-D batch; -inf adds exp(-inf) = 0: LSE = x exactly
    text = "\n".join(f"{token}, -inf" for _ in range(3)) + "\n"
    (tmp_path / "m.csv").write_text(text)
    batch = load(str(tmp_path / "m.csv"))
    assert isinstance(batch, Batch) and batch.rows == 3
    assert float(batch.rounded(0, fmt)[0]) == want
    doc = run_json("lse", "--file", tmp_path / "m.csv", "--dtype", fmt.name, "--method",
                   "shifted")
    if want != float("inf"):
        assert [r["value"] for r in doc["rows"]] == [want] * 3


def test_text_layouts(tmp_path):
    (tmp_path / "a.csv").write_text("# logits\n1, 2, 3\n4,5,6  # row 2\n\n7 8 9\n")
    b = load(str(tmp_path / "a.csv"))
    assert isinstance(b, Batch) and b.data.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    cols = load(str(tmp_path / "a.csv"), axis=0)
    assert cols.data.tolist() == [[1, 4, 7], [2, 5, 8], [3, 6, 9]]
    (tmp_path / "col.txt").write_text("\n".join(str(i) for i in range(ELEMENTWISE_LIMIT + 1)))
    long = load(str(tmp_path / "col.txt"))
    assert isinstance(long, Batch) and (long.rows, long.n) == (1, ELEMENTWISE_LIMIT + 1)
    (tmp_path / "short.txt").write_text("1\n2\n3\n")
    short = load(str(tmp_path / "short.txt"))  # one row, its decimals kept exactly
    assert (short.rows, short.n) == (1, 3) and [x.text for x in short.numbers] == ["1", "2", "3"]


def test_axis_and_memory_layouts_agree(tmp_path):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((5, 40)) * 6).astype(np.float32)
    np.save(tmp_path / "rows.npy", x)
    np.save(tmp_path / "cols.npy", x.T.copy())
    np.save(tmp_path / "fortran.npy", np.asfortranarray(x))
    np.save(tmp_path / "bigendian.npy", x.astype(">f4"))
    a = run_json("softmax", "--file", tmp_path / "rows.npy")
    for other in (["--file", tmp_path / "cols.npy", "--axis", "0"],
                  ["--file", tmp_path / "fortran.npy"],
                  ["--file", tmp_path / "bigendian.npy", "--axis", "-1"]):
        b = run_json("softmax", *other)
        assert a["rows"] == b["rows"]


def test_empty_stdin(tmp_path):
    r = run("lse", input="")
    assert r.exit_code == 2 and r.stderr.startswith("smooth: error: no values given")
    demo = run_json("underflow", "--dtype", "float16", input="")
    assert "tiny" in demo  # no values: the demonstration, as without stdin


# --- errors: one line, exit 2, naming the problem ----------------------------------------------

def _bad_files(tmp: "Path"):
    np.save(tmp / "int.npy", np.arange(4))
    np.save(tmp / "bool.npy", np.ones(3, bool))
    np.save(tmp / "complex.npy", np.ones(3, complex))
    np.save(tmp / "object.npy", np.array([1.0, None], dtype=object), allow_pickle=True)
    np.save(tmp / "strings.npy", np.array(["1", "2"]))
    np.save(tmp / "cube.npy", np.ones((2, 2, 2)))
    np.save(tmp / "scalar.npy", np.float32(1))
    np.save(tmp / "empty.npy", np.ones(0))
    np.save(tmp / "ld.npy", np.ones(3, np.longdouble))
    np.save(tmp / "ok.npy", np.ones((3, 4), np.float32))
    raw = (tmp / "ok.npy").read_bytes()
    (tmp / "truncated.npy").write_bytes(raw[:-5])
    (tmp / "header.npy").write_bytes(raw[:30])
    (tmp / "notnpy.npy").write_text("1 2 3")
    (tmp / "ragged.csv").write_text("1,2,3\n4,5\n")
    (tmp / "words.txt").write_text("1 2\n3 abc\n")
    (tmp / "comma.txt").write_text("1 2,5e\n")
    (tmp / "huge.txt").write_text("1 1e400\n")
    (tmp / "garbage.bin").write_bytes(bytes(range(256)))
    (tmp / "blank.txt").write_text("  \n# nothing\n")
    (tmp / "dir").mkdir()


BAD = [
    (["--file", "{t}/int.npy"], "integer data (int64)"),
    (["--file", "{t}/bool.npy"], "boolean data"),
    (["--file", "{t}/complex.npy"], "complex data"),
    (["--file", "{t}/object.npy"], "object array"),
    (["--file", "{t}/strings.npy"], "string data"),
    (["--file", "{t}/ld.npy"], "128-bit float"),
    (["--file", "{t}/cube.npy"], "3-D array"),
    (["--file", "{t}/scalar.npy"], "0-D array"),
    (["--file", "{t}/empty.npy"], "empty"),
    (["--file", "{t}/truncated.npy"], "truncated or corrupt"),
    (["--file", "{t}/header.npy"], "truncated or corrupt"),
    (["--file", "{t}/notnpy.npy"], "not a .npy file"),
    (["--file", "{t}/ragged.csv"], "ragged rows: line 2 has 2 values"),
    (["--file", "{t}/words.txt"], "line 2: not a number: 'abc'"),
    (["--file", "{t}/comma.txt"], "line 1: not a number: '5e'"),
    (["--file", "{t}/huge.txt"], "'1e400' is beyond the float64 range"),
    (["--file", "{t}/garbage.bin"], "binary data"),
    (["--file", "{t}/blank.txt"], "no values given"),
    (["--file", "{t}/dir"], "is a directory"),
    (["--file", "{t}/missing.npy"], "no such file"),
    (["--file", "{t}/ok.npy", "--axis", "2"], "--axis 2 is out of range"),
    (["--file", "{t}/ok.npy", "--axis", "-3"], "--axis -3 is out of range"),
    (["1", "2", "--file", "{t}/ok.npy"], "not both"),
]


@pytest.mark.parametrize("command", ["lse", "softmax", "bounds", "underflow"])
@pytest.mark.parametrize("args,message", BAD)
def test_bad_files_one_line_exit_2(tmp_path, command, args, message):
    _bad_files(tmp_path)
    r = run(command, *[a.format(t=tmp_path) for a in args])
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error: "), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_garbage_on_stdin_is_one_line_exit_2():
    r = run("softmax", input=bytes(range(256)))
    assert r.exit_code == 2 and r.stderr == "smooth: error: <stdin>: binary data, not numbers " \
        "(nor a .npy file)\n"
    r = run("lse", "--file", "-", input=b"\x93NUMPY\x01\x00garbage")
    assert r.exit_code == 2 and "truncated or corrupt" in r.stderr


@pytest.mark.parametrize("source", ["float64", "float32"])
@pytest.mark.parametrize("name,p,emin,max_finite", [
    ("bfloat16", 8, -126, Fraction(255) * Fraction(2) ** 120),
    ("float8_e5m2", 3, -14, Fraction(57344)),
])
def test_float_files_to_ml_dtypes_round_once(tmp_path, name, p, emin, max_finite, source):
    """ml_dtypes casts float64 through float32 (a double rounding); the batch path rounds to odd
    first, so the result is the single correct rounding, even one float64 ULP off a midpoint."""
    pytest.importorskip("ml_dtypes")
    fmt = FORMATS[name]
    if name == "bfloat16":
        codes = np.arange(0, 0x7F7F, 97, dtype=np.uint16)  # a sample of adjacent pairs
        lo, hi = codes.view(fmt.np), (codes + 1).view(fmt.np)
    else:
        codes = np.arange(0, 0x7B, dtype=np.uint8)
        lo, hi = codes.view(fmt.np), (codes + 1).view(fmt.np)
    mids = (lo.astype(np.float64) + hi.astype(np.float64)) / 2  # exact
    vals = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                           mids * (1 + 2.0 ** -30), mids * (1 - 2.0 ** -30)])
    if source == "float32":  # the float32 neighbours of the midpoints
        m32 = mids.astype(np.float32)
        vals = np.concatenate([m32, np.nextafter(m32, np.float32(np.inf)),
                               np.nextafter(m32, np.float32(-np.inf))])
    np.save(tmp_path / "v.npy", np.stack([vals, -vals]))
    batch = load(str(tmp_path / "v.npy"))
    for i in range(2):
        got = [float(v) for v in batch.rounded(i, fmt)]
        want = [rne(Fraction(float(v)), p, emin, max_finite) for v in batch.data[i]]
        assert got == want


def test_decimal_midpoints_of_every_narrow_format_are_found(tmp_path):
    """bfloat16's midpoint 1 + 2**-8 written with a tail the nearest double drops."""
    pytest.importorskip("ml_dtypes")
    token = "1.00390625000000000000001"  # just above the bfloat16 midpoint between 1 and 1+2**-7
    (tmp_path / "b.csv").write_text(f"{token}, 0\n0, {token}\n")
    batch = load(str(tmp_path / "b.csv"))
    assert float(batch.rounded(0, FORMATS["bfloat16"])[0]) == 1 + 2 ** -7
    assert float(batch.rounded(1, FORMATS["bfloat16"])[1]) == 1 + 2 ** -7
