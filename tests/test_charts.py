"""Charts: the terminal chart's structure on a fixed width, the series behind the exp-range and
sigmoid charts against mpmath, and the PNG/SVG export (skipped only without matplotlib; CI
installs it through the 'test' extra).

Expected columns and rows are derived here from the documented axes (x: ``width`` equal bins
from A to B; y: bits linear from 0 to the dtype's width, rounded to the nearest of ``height``
rows; exp-range: sign(x)·log10(1 + |x|)) and from independent values (tests/oracle.py).
"""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle

W, H = 33, 9  # 33 columns for 33 points: point j is drawn in column j


def chart_block(stdout: str, title: str) -> list[str]:
    """The lines of one panel: from its title line to the x tick labels under its axis."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next(i for i in range(start, len(lines)) if "└" in lines[i])
    return lines[start:end + 2]


def cells(line: str) -> str:
    """What a plot or strip line shows right of its axis character."""
    for axis in ("┤", "│"):
        if axis in line:
            return line.split(axis, 1)[1]
    raise AssertionError(line)


def expected_status(c: Fraction) -> str:
    ins = [oracle.round_to(x + c, np.float16) for x in (0, 1)]
    fl = oracle.expected_flags(ins, np.float16, "naive")
    return "O" if fl["overflow"] else ("U" if fl["underflow"] else "·")


def test_terminal_chart_structure_fixed_width(smooth):
    args = ["sweep", "lse", "0", "1", "--shift", "-20:12", "--steps", "33", "--dtype",
            "float16", "--width", str(W), "--height", str(H)]
    r = smooth(*args)
    assert r.exit_code == 0
    out = r.stdout
    assert out.splitlines()[1] == "$ smooth " + " ".join(args[:-6] + ["--dtype", "float16",
                                                                     "--width", "33",
                                                                     "--height", "9"])
    block = chart_block(out, "float16")
    assert block[0] == "float16: error in bits"
    plot = block[1:1 + H]
    # y axis: 16 bits at the top row, 8 in the middle, 0 at the bottom
    assert plot[0].split("┤")[0].strip() == "16"
    assert plot[H // 2].split("┤")[0].strip() == "8"
    assert plot[-1].split("┤")[0].strip() == "0"
    assert all(len(cells(line)) <= W for line in plot)
    naive_strip = next(line for line in block if line.strip().startswith("naive │"))
    shifted_strip = next(line for line in block if line.strip().startswith("shifted │"))
    cs = [Fraction(-20) + j for j in range(33)]
    want = "".join(expected_status(c) for c in cs)
    assert cells(naive_strip) == want
    assert cells(shifted_strip) == "·" * W
    # the overflow marker sits in the column of the first c whose naive float16 sum overflows
    first = want.index("O")
    assert cells(naive_strip)[first] == "O" and cells(naive_strip)[first - 1] != "O"
    assert cs[first] == 10  # exp(10) + exp(11) ≈ 81900 > 65504; c = 9 gives ≈ 30200
    # each naive point is drawn in its column, on the row of its bits error
    for j, c in enumerate(cs):
        ins = [oracle.round_to(x + c, np.float16) for x in (0, 1)]
        value, _ = oracle.simulate(ins, np.float16, "naive")
        bits = oracle.herbie_bits(value, oracle.lse_exact(ins), np.float16)
        row = round(bits / 16 * (H - 1))
        assert cells(plot[H - 1 - row]).ljust(W)[j] in "×*", (j, c, bits)
    # x axis: ticks at the ends and in between, labels centred under them, never cut
    axis, labels = block[-2], block[-1]
    start = axis.index("└") + 1
    ticks = [k for k, ch in enumerate(axis[start:]) if ch == "┬"]
    assert ticks == [0, 8, 16, 24, 32]  # c = -20, -12, -4, 4, 12: floor((c + 20)/32·33)
    for k, text in zip(ticks, ["-20", "-12", "-4", "4", "12"]):
        pos = start + k - len(text) // 2
        assert labels[pos:pos + len(text)] == text
    assert "× naive   • shifted" in out
    assert "O overflow" in out and "U underflow" in out


def test_terminal_chart_does_not_depend_on_terminal(smooth):
    args = ["sweep", "lse", "0", "1", "--shift", "-800:800", "--steps", "41"]
    narrow = smooth(*args, env={"COLUMNS": "30", "LINES": "10"}).stdout
    wide = smooth(*args, env={"COLUMNS": "300"}).stdout
    assert narrow == wide
    # the command line printed with the chart reproduces it (defaults left out)
    assert narrow.splitlines()[1] == "$ smooth sweep lse 0 1 --shift -800:800 --steps 41"
    # --full prints the exact boundaries in full (float64: a 49-digit exact decimal)
    full = smooth(*args, "--full").stdout
    assert "-709.70968021978234219204750843346118927001953125" in full
    assert "…" not in full.replace("between steps", "").replace(" … ", "")


def test_ulp_unit_has_inf_row(smooth):
    r = smooth("sweep", "lse", "0", "1", "--shift", "-20:12", "--steps", "33", "--dtype",
               "float16", "--method", "naive", "--unit", "ulp", "--width", "33")
    block = chart_block(r.stdout, "float16")
    top = block[1]
    assert top.split("┤")[0].strip() == "inf"
    # log(0) = -inf for c ≤ -19 (round(1 + c) ≤ -18 < -17.33: every exp flushed) and inf for
    # c ≥ 10: those columns are on the 'inf' row, the others are not
    drawn = cells(top).ljust(33)
    for j in range(33):
        c = -20 + j
        assert (drawn[j] == "×") == (c <= -19 or c >= 10), (c, drawn)


def symlog(x: float) -> float:
    return math.copysign(math.log10(1 + abs(x)), x)


def test_exp_range_chart(smooth):
    r = smooth("exp-range", "--chart", "--dtype", "float16", "--width", "40")
    assert r.exit_code == 0
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("float16│"))
    bar = line.split("│")[1]
    assert len(bar) == 40
    # thresholds, independently: exp rounds to a nonzero float16 from -17.328125, to a normal
    # one from -9.703125, to a finite one up to 11.0859375 (and not one step beyond each)
    tiny = float(np.finfo(np.float16).smallest_normal)
    assert oracle.exp_rounded(-17.328125, np.float16) > 0
    assert oracle.exp_rounded(-17.34375, np.float16) == 0
    assert oracle.exp_rounded(-9.703125, np.float16) >= tiny
    assert oracle.exp_rounded(-9.7109375, np.float16) < tiny
    assert oracle.exp_rounded(11.0859375, np.float16) < math.inf
    assert oracle.exp_rounded(11.09375, np.float16) == math.inf
    for text in ("-17.328125", "-9.703125", "11.0859375"):
        assert text in line

    def col(x):  # the documented axis: ±100 around float16's range, 40 equal bins
        return min(39, math.floor((symlog(x) - symlog(-100)) / (2 * symlog(100)) * 40))

    first, last = col(-17.328125), col(11.0859375)
    assert bar[:first].strip() == "" and bar[last + 1:].strip() == ""
    assert bar[first] == "░" and bar[col(-9.703125) + 1] == "█" and bar[last] == "█"
    assert set(bar[first:last + 1]) <= {"░", "█"}
    axis = r.stdout.splitlines()[r.stdout.splitlines().index(line) + 1]
    assert axis.split("└")[1][col(0)] == "┬"


def test_exp_range_chart_all_dtypes_shared_axis(smooth):
    r = smooth("exp-range", "--chart")
    rows = [x for x in r.stdout.splitlines() if "│" in x and x.split("│")[0].strip()
            in ("float16", "float32", "float64")]
    assert [x.split("│")[0].strip() for x in rows] == ["float16", "float32", "float64"]
    bars = [x.split("│")[1] for x in rows]
    widths = [len(b.strip()) for b in bars]
    assert widths[0] < widths[1] < widths[2]  # (-17.3, 11.1) ⊂ (-104, 88.7) ⊂ (-745, 710)
    assert "709.782712893384" in rows[2] and "-745.1332191019411" in rows[2]


def test_sigmoid_chart_series_against_mpmath():
    from smoothcli.commands.sigmoid_chart import sigmoid_chart
    from smoothcli.core.numbers import parse_numbers

    chart = sigmoid_chart(parse_numbers(["4.6", "-4.6", "100"]))
    (panel,) = chart.panels
    curves = {c.label: c for c in panel.curves}
    assert list(curves) == ["H(x)", "σ(x)", "σ(2x)", "σ(5x)", "σ at the inputs"]
    step = curves["H(x)"]
    assert len(step.x) == 241 and step.x[0] == -6 and step.x[-1] == 6
    assert step.y[120] == 0.5 and step.x[120] == 0  # H(0) = 1/2 (seed eq. 6)
    assert all(y == (0.0 if x < 0 else 1.0) for x, y in zip(step.x, step.y) if x != 0)
    for k, label in ((1, "σ(x)"), (2, "σ(2x)"), (5, "σ(5x)")):
        c = curves[label]
        for j in range(0, 241, 8):
            x = Fraction(-6) + Fraction(12 * j, 240)
            with mpmath.workdps(oracle.DPS):
                want = oracle.nearest_float(1 / (1 + mpmath.exp(-k * oracle.mp(x))))
            assert c.y[j] == want, (label, x)
    mine = curves["σ at the inputs"]
    assert mine.x == [4.6, -4.6]  # 100 is off the chart's x range
    # the seed's numbers: σ(4.6) > 0.99 and σ(−4.6) < 0.01
    assert mine.y[0] > 0.99 and mine.y[1] < 0.01


def test_sigmoid_chart_terminal(smooth):
    r = smooth("sigmoid", "--chart")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    top = next(i for i, x in enumerate(lines) if x.strip().startswith("1 ┤"))
    plot = lines[top:top + 11]
    assert plot[5].split("┤")[0].strip() == "0.5" and plot[10].split("┤")[0].strip() == "0"
    # H jumps at x = 0, in column floor(6/12·72) = 36: drawn from the bottom row up to 1
    for row in plot[:10]:
        assert cells(row).ljust(72)[36] in "×*", row
    assert "× H(x)   • σ(x)   + σ(2x)   o σ(5x)" in r.stdout
    assert smooth("sigmoid", "--chart", "--json").json["rows"] == []


# --- PNG / SVG -----------------------------------------------------------------------------------

def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return [("".join(t.itertext())).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_sweep_png_and_svg(smooth, tmp_path):
    pytest.importorskip("matplotlib")
    png, svg = tmp_path / "sweep.png", tmp_path / "sweep.svg"
    args = ["sweep", "lse", "0", "1", "--shift", "-800:800", "--steps", "41"]
    r = smooth(*args, "--png", str(png), "--svg", str(svg))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == smooth(*args).stdout  # the terminal chart is unchanged
    # 9 x (1.4 + 2.5 per panel) inches at 100 dpi, three panels
    assert png_size(png) == (900, 890)
    assert png.stat().st_size > 20_000
    texts = svg_texts(svg)
    for entry in ("naive", "shifted", "naive: underflow", "naive: overflow", "float16",
                  "float32", "float64", "error in bits", "c   (inputs x + c)"):
        assert entry in texts, entry
    assert any(t.startswith("LSE(x + c) for x = [0, 1]") for t in texts)
    assert svg.stat().st_size > 20_000


def test_exp_range_and_sigmoid_svg(smooth, tmp_path):
    pytest.importorskip("matplotlib")
    a, b = tmp_path / "range.svg", tmp_path / "sigmoid.png"
    assert smooth("exp-range", "--svg", str(a)).exit_code == 0
    texts = svg_texts(a)
    assert {"exp(x) is a normal number", "float16", "float64"} <= set(texts)
    c = tmp_path / "sigmoid.svg"
    assert smooth("sigmoid", "--chart", "--png", str(b), "--svg", str(c)).exit_code == 0
    assert png_size(b) == (900, 390)
    assert {"H(x)", "σ(x)", "σ(2x)", "σ(5x)"} <= set(svg_texts(c))


def test_missing_matplotlib_is_one_line_exit_2(smooth, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "x.png"
    r = smooth("sweep", "lse", "0", "1", "--shift", "-8:8", "--png", str(out))
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == [
        "smooth: error: --png needs matplotlib, which is not installed: "
        "run pip install 'smoothcli[plot]'"]
    assert not out.exists() and r.stdout == ""


@pytest.mark.parametrize("opt, name", [("--png", "1"), ("--png", "x.svg"), ("--svg", "--json"),
                                       ("--svg", ".svg")])
def test_figure_file_must_have_its_extension(smooth, tmp_path, monkeypatch, opt, name):
    monkeypatch.chdir(tmp_path)
    r = smooth("exp-range", opt, name)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == (f"smooth: error: {opt} needs a file name ending in "
                                f".{opt[2:]}, not {name!r}")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_figure_path(smooth, tmp_path):
    pytest.importorskip("matplotlib")
    r = smooth("sweep", "lse", "0", "--shift", "0:1", "--steps", "3", "--svg",
               str(tmp_path / "missing-dir" / "x.svg"))
    assert r.exit_code == 2 and r.stderr.startswith("smooth: error: --svg: cannot write")
