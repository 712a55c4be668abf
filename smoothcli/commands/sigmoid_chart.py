"""``smooth sigmoid --chart``: the unit step H(x) beside σ(kx) for a few k, as in the seed.

The seed's figure (section "sigmoid", eq. (6) and (7)) shows H(x) and σ(x); σ(kx) for growing
k shows the smooth function turning into the step (σ(kx) → H(x) as k → ∞, for x ≠ 0).  The curves
are the exact values (:func:`smoothcli.methods.sigmoid.sigmoid_reference`, converged mpmath, rounded to
float64 for drawing) on an exact grid of x; the inputs given on the command line are marked on
σ(x).  Guides at σ = 0.01 and 0.99: the seed notes σ(4.6) > 0.99 and σ(−4.6) < 0.01.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from smoothcli.report.charts import Chart, Curve, Panel, check_layout
from smoothcli.core.numbers import Number
from smoothcli.report.model import Report

KS = (1, 2, 5)
X_RANGE = 6
POINTS = 241  # x = -6, -5.95, ..., 6: 0 is on the grid, so H(0) = 1/2 is drawn
HEIGHT = 11  # rows 0, 0.1, ..., 1: ½ has a row of its own


def sigmoid_chart(numbers: Sequence[Number] = (), command: str = "smooth sigmoid --chart",
                  width: int = 72, ks: Sequence[int] = KS, points: int = POINTS) -> Chart:
    from smoothcli.methods.sigmoid import sigmoid_reference, unit_step

    grid = [Fraction(-X_RANGE) + Fraction(2 * X_RANGE * j, points - 1) for j in range(points)]
    xs = [float(x) for x in grid]
    curves = [Curve("H(x)", xs, [unit_step(x) for x in xs], kind="step")]
    for k in ks:
        label = "σ(x)" if k == 1 else f"σ({k}x)"
        curves.append(Curve(label, xs, [float(sigmoid_reference(k * x)) for x in grid],
                            kind="line"))
    mine = [x for x in numbers if x.exact is not None and abs(x.exact) <= X_RANGE]
    if mine:
        curves.append(Curve("σ at the inputs", [float(x.exact) for x in mine],
                            [float(sigmoid_reference(x.exact)) for x in mine], kind="markers"))
    panel = Panel("the unit step H(x) and its smooth stand-in σ(kx) = 1/(1 + e^(−kx))", curves,
                  "", "linear", 0.0, 1.0, [0.0, 0.5, 1.0], [0.01, 0.99])
    notes = ["H(x) = 0 for x < 0, 1/2 at 0, 1 for x > 0 (seed eq. 6); σ(kx) → H(x) as k grows; "
             "σ(4.6) > 0.99 and σ(−4.6) < 0.01 (guides at 0.01 and 0.99)"]
    return Chart("the unit step and the sigmoid (exact values)", "x", [panel],
                 float(-X_RANGE), float(X_RANGE), command, width, HEIGHT, notes)


def add_chart(report: Report, numbers: Sequence[Number], command: str,
              width: int = 72) -> Report:
    check_layout(width)
    report.charts.append(sigmoid_chart(numbers, command, width))
    return report


def command_line(numbers: Sequence[Number], width: int) -> str:
    parts = ["smooth", "sigmoid"] + [x.text for x in numbers] + ["--chart"]
    if width != 72:
        parts += ["--width", str(width)]
    return " ".join(parts)
