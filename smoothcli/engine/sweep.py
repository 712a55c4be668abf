"""Sweeps: one function evaluated on x + c (or c·x) for c over a range, per dtype and method.

``smooth sweep lse 0 1 --shift -800:800`` asks, for every c of an evenly spaced grid, what
``smooth lse (0 + c) (1 + c)`` would report, and keeps the error and the flags of every
(dtype, method) as a series, so that a chart can show where each formula breaks.

The input model (README, "Sweeps and charts"): for each c the inputs are the *exact* values
x_i + c (or c·x_i), each rounded once and correctly to the dtype, exactly as if the user had typed
them, so every point of a sweep is a row ``smooth lse`` would print for those numbers.  The
alternative, x rounded first and then ``x + c`` computed in the dtype, adds a rounding of the
input before the formula under study even starts (fl(fl(x) + fl(c)) can differ from fl(x + c));
the sweep measures the formula, not the way its input was formed.  The grid
c_j = A + j·(B − A)/(N − 1) is exact (rational), so the points do not inherit float64 drift.

For lse and softmax the points are the rows of one batch (:class:`SweepBatch`) evaluated by the
one engine (:mod:`smoothcli.engine.evaluate`): a point reports exactly what ``smooth lse`` would
for the same numbers.  exp and the sigmoid family are evaluated point by point.  Two things are added here:

* the *bits* error of Herbie (Panchekha et al., "Automatically Improving Accuracy for Floating
  Point Expressions", PLDI 2015): log2(1 + the number of representable values between the result and
  the correctly rounded reference), computed by :func:`smoothcli.measure.bounds.bits` (the one
  implementation).  ±inf count as one step beyond ±max and a NaN result costs the
  dtype's full width (16, 32, 64 bits), so the bits error is finite for every outcome, which
  makes it the natural unit of a chart;
* the exact location of every change of status between two grid points (:func:`_refine`).

Speed: the mpmath reference is the cost (~150 µs a point); points whose rounded inputs repeat
(a float16 sweep over a fine grid) share one reference through the engine's reference cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.core.formats import FloatFormat
from smoothcli.core.errors import InputError
from smoothcli.core.numbers import Number, parse_number

SHIFT, SCALE = "shift", "scale"
BITS, ULP = "bits", "ulp"
UNITS = (BITS, ULP)
DEFAULT_STEPS = 201
MAX_STEPS = 10001
#: Bisection steps allowed to pin one change of status down (each halves the bracket; 1100 is
#: more than enough to go from a grid spacing of 2**1024 to float64 resolution at 2**-1074).
MAX_REFINE = 1100

OK = "ok"
FLAG_ORDER = ("overflow", "underflow", "nan")


# --- the sweep itself ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sweep:
    """c from ``start`` to ``stop`` in ``steps`` evenly spaced exact values, applied as ``kind``."""

    kind: str  # "shift": x + c; "scale": c·x
    start: Fraction
    stop: Fraction
    steps: int
    start_text: str = ""
    stop_text: str = ""

    def grid(self) -> list[Fraction]:
        """c_j = A + j·(B − A)/(N − 1), exactly."""
        span = self.stop - self.start
        return [self.start + span * j / (self.steps - 1) for j in range(self.steps)]

    def apply(self, x: Number, c: Fraction) -> tuple[Fraction | float, bool]:
        """The exact input x + c or c·x, and whether a zero result is negative (IEEE signs)."""
        if x.exact is None:  # inf or nan: IEEE arithmetic on the special value
            s = x.special
            assert s is not None
            if self.kind == SHIFT or math.isnan(s):
                return s, False
            return (math.nan if c == 0 else s * (1 if c > 0 else -1)), False
        if self.kind == SHIFT:
            # an exact zero sum is +0 in round-to-nearest (IEEE 754 §6.3), -0 + 0 included:
            # c is a rational, never -0
            return x.exact + c, False
        v = x.exact * c
        return v, v == 0 and ((c < 0) != x.negative)  # the product's sign (§6.3)

    @property
    def formula(self) -> str:
        return "x + c" if self.kind == SHIFT else "c·x"

    @property
    def option(self) -> str:
        return f"--{self.kind} {self.start_text or _short(self.start)}:" \
               f"{self.stop_text or _short(self.stop)}"


def parse_range(text: str, option: str) -> tuple[Fraction, Fraction, str, str]:
    """``A:B`` (decimals of the core grammar, A < B) for ``--shift``/``--scale``."""
    parts = text.split(":")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise InputError(f"{option} expects a range A:B such as -800:800, not {text!r}")
    ends = []
    for part in parts:
        try:
            n = parse_number(part)
        except InputError as e:
            raise InputError(f"{option} {text!r}: {e}") from None
        if n.exact is None:
            raise InputError(f"{option} {text!r}: the ends of the range must be finite")
        ends.append(n.exact)
    if not ends[0] < ends[1]:
        raise InputError(f"{option} {text!r}: the range must run from lower to higher (A < B)")
    return ends[0], ends[1], parts[0].strip(), parts[1].strip()


def parse_sweep(shift: str | None, scale: str | None, steps: int) -> Sweep:
    """The sweep asked for by ``--shift A:B`` or ``--scale A:B`` and ``--steps N``."""
    if (shift is None) == (scale is None):
        raise InputError("give exactly one of --shift A:B or --scale A:B")
    if not 2 <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be between 2 and {MAX_STEPS}, not {steps}")
    kind, text = (SHIFT, shift) if shift is not None else (SCALE, scale)
    assert text is not None
    a, b, at, bt = parse_range(text, f"--{kind}")
    return Sweep(kind, a, b, steps, at, bt)


def parse_unit(unit: str) -> str:
    """``--unit``: bits (Herbie) or ulp."""
    key = {"bit": BITS, "bits": BITS, "ulp": ULP, "ulps": ULP}.get(unit.strip().lower())
    if key is None:
        raise InputError(f"unknown --unit {unit!r} (choose from {', '.join(UNITS)})")
    return key


# --- Herbie's bits of error ----------------------------------------------------------------------

def bits_error(value: float, ref: Any, fmt: FloatFormat) -> float:
    """Herbie's bits of error of ``value`` against the exact ``ref`` (an mpf) in ``fmt``.

    The one implementation is :func:`smoothcli.measure.bounds.bits` (exact ordinals of
    the format's values, ±inf one step beyond ±max, NaN against a number = the format's width)."""
    from smoothcli.measure.bounds import bits

    return bits(value, ref, fmt)


def ordinal(v: float, fmt: FloatFormat) -> int | None:
    """The position of ``v`` among the values of ``fmt`` (None for NaN); see error_bounds."""
    from smoothcli.measure.bounds import ordinal as _ordinal

    return _ordinal(v, fmt)


# --- references ----------------------------------------------------------------------------------

class ExpReferences:
    """exp(y) of each rounded input, converged one element at a time and cached by value."""

    def __init__(self) -> None:
        self._cache: dict[Any, Any] = {}

    def __call__(self, values: Sequence[float]) -> list:
        import mpmath

        from smoothcli.reference.exact import converge

        out = []
        for v in values:
            key = "nan" if math.isnan(v) else v
            if key not in self._cache:
                self._cache[key] = converge(lambda v=v: mpmath.exp(mpmath.mpf(v)))
            out.append(self._cache[key])
        return out


def _worst(xs) -> float:
    """The largest value, NaN if any is NaN (a NaN error must not hide behind a max)."""
    xs = list(xs)
    if any(math.isnan(x) for x in xs):
        return math.nan
    return max(xs) if xs else 0.0


class SweepBatch:
    """The points of a sweep as a batch of rows for the engine: row j holds the exact inputs
    x_i + c_j (or c_j·x_i), which :meth:`rounded` rounds once, correctly, to a dtype."""

    kind, stored, axis = "sweep", "decimal", -1
    numbers = None

    def __init__(self, numbers: Sequence[Number], sweep: Sweep, grid: Sequence[Fraction]):
        import numpy as np

        self.source = f"sweep {sweep.formula}"
        self.exact = [[sweep.apply(x, c) for x in numbers] for c in grid]
        self.shape = (len(grid), len(numbers))
        self.data = np.array([[_nearest(v) for v, _ in row] for row in self.exact],
                             dtype=np.float64)
        # inputs with no float64 value: changed by rounding to any dtype
        self.exact_fixes = {(i, j): v for i, row in enumerate(self.exact)
                            for j, (v, _) in enumerate(row)
                            if isinstance(v, Fraction) and Fraction(self.data[i, j]) != v}

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def n(self) -> int:
        return self.shape[1]

    def describe(self) -> str:
        return self.source

    def rounded(self, i: int | slice, fmt: FloatFormat, out=None, given=None):
        """Row ``i`` (or the rows of a slice ``i``, a block) rounded once, correctly, to
        ``fmt`` from the exact inputs (``given``, the rows as read, is not needed here)."""
        import numpy as np

        rows = range(*i.indices(self.rows)) if isinstance(i, slice) else [i]
        arr = np.array([_round_exact(self.exact[r], fmt) for r in rows],
                       dtype=np.float64).astype(fmt.np)
        if not isinstance(i, slice):
            arr = arr[0]
        if out is None:
            return arr
        out[...] = arr
        return out


def _round_exact(pairs: Sequence[tuple], fmt: FloatFormat) -> list[float]:
    """Exact inputs (value, negative zero?) rounded once, correctly, to ``fmt``; inf/nan pass
    through (inf is NaN in a format without infinities)."""
    from smoothcli.core.rounding import round_fraction

    out = []
    for v, negative in pairs:
        if isinstance(v, Fraction):
            out.append(round_fraction(v, fmt, negative=negative))
        elif math.isinf(v) and not fmt.has_inf:
            out.append(math.nan)
        else:
            out.append(float(v))
    return out


def _nearest(v: Any) -> float:
    """The float64 nearest to an exact input; beyond float64's range, its largest finite value
    of that sign (so that an input the dtype rounds to inf counts as changed, overflowed)."""
    if not isinstance(v, Fraction):
        return float(v)
    big = Fraction(2) ** 1024 - Fraction(2) ** 970  # where float64 rounds to inf
    if abs(v) >= big:
        return math.copysign(1.7976931348623157e308, v)
    return float(v)


def _key(values: Sequence[float]) -> tuple:
    return tuple("nan" if math.isnan(v) else v for v in values)


# --- one point: evaluate every method at one c in one dtype --------------------------------------

@dataclass
class PointResult:
    value: Any  # float (lse) or list of floats (softmax, exp)
    reference: Any
    ulp_error: float  # worst over elements
    bits: float  # worst over elements
    overflow: bool
    underflow: bool
    nan: bool

    @property
    def status(self) -> str:
        return status_text(self.overflow, self.underflow, self.nan)


def status_text(overflow: bool, underflow: bool, nan: bool) -> str:
    """'ok', or the flags that are set joined with '+' (e.g. 'overflow+nan')."""
    on = [n for n, f in zip(FLAG_ORDER, (overflow, underflow, nan)) if f]
    return "+".join(on) if on else OK


class Kernel:
    """How one function is evaluated, referenced and flagged at a sweep point."""

    name = ""
    methods: dict[str, Callable] = {}
    default_all = False  # without --method: every method (else the core's default methods)

    def references(self) -> Callable[[Sequence[float]], Any]:
        raise NotImplementedError

    def evaluate(self, inputs, fmt: FloatFormat, names: Sequence[str], acc: Accumulation,
                 ref: Any) -> list[PointResult]:
        raise NotImplementedError

    def status(self, inputs, fmt: FloatFormat, name: str, acc: Accumulation) -> str:
        raise NotImplementedError

    def points(self, numbers: Sequence[Number], sweep: Sweep, grid: Sequence[Fraction],
               fmt: FloatFormat, names: Sequence[str], acc: Accumulation
               ) -> dict[str, list[PointResult]]:
        """Every method at every point of the grid (elementwise functions: point by point)."""
        refs = self.references()
        out: dict[str, list[PointResult]] = {n: [] for n in names}
        for c in grid:
            inputs = round_point(numbers, sweep, c, fmt)
            for name, res in zip(names, self.evaluate(inputs, fmt, names, acc,
                                                      refs(inputs.values))):
                out[name].append(res)
        return out

    def point_status(self, numbers: Sequence[Number], sweep: Sweep, c: Fraction,
                     fmt: FloatFormat, name: str, acc: Accumulation) -> str:
        return self.status(round_point(numbers, sweep, c, fmt), fmt, name, acc)


class EngineKernel(Kernel):
    """LSE or softmax: every point of the sweep is a row of one batch (:class:`SweepBatch`)
    evaluated by the one engine (:mod:`smoothcli.engine.evaluate`), with its rounding,
    reference, errors and flags — a sweep point reports exactly what ``smooth lse`` or
    ``smooth softmax`` reports for the same numbers."""

    def __init__(self, kind: str) -> None:
        from smoothcli.methods.pointwise import is_pointwise, pointwise
        from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS

        self.name = kind
        self.pointwise = is_pointwise(kind)
        if self.pointwise:
            self.methods = pointwise(kind).methods
            self.default_all = True
        else:
            self.methods = SOFTMAX_METHODS if kind == "softmax" else LSE_METHODS

    def points(self, numbers: Sequence[Number], sweep: Sweep, grid: Sequence[Fraction],
               fmt: FloatFormat, names: Sequence[str], acc: Accumulation
               ) -> dict[str, list[PointResult]]:
        from smoothcli.engine.evaluate import Plan, evaluate

        batch = SweepBatch(numbers, sweep, grid)
        ev = evaluate(Plan(self.name, [fmt], list(names), acc, elements=True), batch)
        out: dict[str, list[PointResult]] = {}
        for ser in ev.series:
            a = ser.arrays
            pts = []
            if self.pointwise:  # the n points of sweep row j, worst over them
                n = batch.n
                for j in range(batch.rows):
                    sl = slice(j * n, (j + 1) * n)
                    pts.append(PointResult(a["value"][sl].tolist(), a["reference"][sl].tolist(),
                                           _worst(a["ulp_error"][sl].tolist()),
                                           _worst(a["bits"][sl].tolist()),
                                           bool(a["overflow"][sl].any()),
                                           bool(a["underflow"][sl].any()),
                                           bool(a["nan"][sl].any())))
                out[ser.method] = pts
                continue
            for j in range(ev.rows):
                if ser.vector:
                    el = ser.elements[j]
                    value, reference = el["value"].tolist(), el["reference"].tolist()
                else:
                    value, reference = float(a["value"][j]), float(a["reference"][j])
                pts.append(PointResult(value, reference, float(a["ulp_error"][j]),
                                       float(a["bits"][j]), bool(a["overflow"][j]),
                                       bool(a["underflow"][j]), bool(a["nan"][j])))
            out[ser.method] = pts
        return out

    def point_status(self, numbers: Sequence[Number], sweep: Sweep, c: Fraction,
                     fmt: FloatFormat, name: str, acc: Accumulation) -> str:
        """The flags alone at c (no reference: the exact value of finite inputs is finite;
        a pointwise function's flags compare with its exact value, so it is measured)."""
        from smoothcli.engine.evaluate import Plan, evaluate

        if self.pointwise:
            pts = self.points(numbers, sweep, [c], fmt, [name], acc)[name][0]
            return status_text(pts.overflow, pts.underflow, pts.nan)
        ev = evaluate(Plan(self.name, [fmt], [name], acc, measure=False),
                      SweepBatch(numbers, sweep, [c]))
        a = ev.series[0].arrays
        return status_text(bool(a["overflow"][0]), bool(a["underflow"][0]), bool(a["nan"][0]))


class ExpKernel(Kernel):
    """exp(y_i) element by element with numpy's exp in the dtype (method ``numpy``).

    Flags: overflow when a result is ±inf for a finite input (exp(y) itself is finite);
    underflow when a result is 0 or subnormal for an input > -inf (the precision of a subnormal is
    lost, as in exp-range's 'normal from x ='); nan when a result is NaN for a non-NaN input."""

    name = "exp"
    default_all = True

    def __init__(self) -> None:
        self.methods = {"numpy": _np_exp}

    def references(self):
        return ExpReferences()

    def _flags(self, inputs, fmt: FloatFormat, values) -> tuple[bool, bool, bool]:
        tiny = float(fmt.smallest_normal)
        over = under = nan = False
        for x, v in zip(inputs.values, values):
            if math.isnan(x):
                continue
            nan |= math.isnan(v)
            over |= math.isfinite(x) and math.isinf(v)
            under |= x > -math.inf and abs(v) < tiny
        return over, under, nan

    def evaluate(self, inputs, fmt, names, acc, ref):
        from smoothcli.measure.errors import errors

        out = []
        for name in names:
            values = [float(v) for v in self.methods[name](inputs.array)]
            errs = [errors(v, r, fmt).ulp_error for v, r in zip(values, ref)]
            bits = [bits_error(v, r, fmt) for v, r in zip(values, ref)]
            out.append(PointResult(values, [float(r) for r in ref], _worst(errs), _worst(bits),
                                   *self._flags(inputs, fmt, values)))
        return out

    def status(self, inputs, fmt, name, acc):
        values = [float(v) for v in self.methods[name](inputs.array)]
        return status_text(*self._flags(inputs, fmt, values))


def _np_exp(x):
    import numpy as np

    with np.errstate(all="ignore"):
        return np.exp(x)


def get_kernel(function: str) -> Kernel:
    key = function.strip().lower().replace("-", "_")
    if key in ("lse", "softmax") or key in _pointwise_names():
        return EngineKernel(key)
    if key == "exp":
        return ExpKernel()
    raise InputError(f"unknown function {function!r} for sweep (choose from "
                     f"{', '.join(available_functions())})")


def _pointwise_names() -> list[str]:
    """The pointwise functions a sweep takes: the sigmoid family (one value per point)."""
    from smoothcli.methods.sigmoid import FUNCTIONS

    return list(FUNCTIONS)


def available_functions() -> list[str]:
    return ["lse", "softmax", "exp"] + _pointwise_names()


# --- the series ----------------------------------------------------------------------------------

@dataclass
class Segment:
    """A run of consecutive sweep points with the same status."""

    status: str
    c_from: float
    c_to: float
    points: int
    worst_ulp_error: float
    worst_bits: float


@dataclass
class Boundary:
    """Where the status changes between two consecutive grid points, located exactly.

    ``c`` is the value of c at which one rounded input x_i + c (or c·x_i) crosses the midpoint
    between two neighbouring values of the dtype; ``status_at`` is the status at c itself (ties
    round to even, so it belongs to one side or the other).  ``exact`` is False only if bisection
    gave up.  ``c_below`` and ``c_above`` are the two grid points around it."""

    c: float
    c_text: str  # c as an exact decimal when it has one of at most 60 digits, else 17 digits
    before: str
    after: str
    status_at: str
    c_below: float
    c_above: float
    exact: bool = True


@dataclass
class SweepSeries:
    """One (dtype, method) row of a sweep: the series over c, and the summary --check reads."""

    dtype: str
    method: str
    function: str
    unit: str
    ulp_error: float  # worst over the sweep (NaN if any point is NaN)
    bits: float  # worst over the sweep
    overflow: bool  # at any point
    underflow: bool
    nan: bool
    c: list[float]
    errors: list[float]  # per point, in `unit`
    ulp_errors: list[float]
    bits_errors: list[float]
    value: list[Any]
    reference: list[Any]
    overflow_at: list[bool]
    underflow_at: list[bool]
    nan_at: list[bool]
    status: list[str]
    segments: list[Segment] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    accumulation: str = ""

    def problems(self, max_ulp: float | None) -> list[str]:
        """Like every row's problems (report._problems), with where along the sweep."""
        where = f"{self.dtype} {self.method}"
        out = []
        for flag in FLAG_ORDER:
            hits = [c for c, f in zip(self.c, getattr(self, f"{flag}_at")) if f]
            if hits:
                out.append(f"{where}: {flag} at {len(hits)} of {len(self.c)} points "
                           f"(c from {_short(hits[0])} to {_short(hits[-1])})")
        if max_ulp is not None and not self.nan and not (self.ulp_error <= max_ulp):
            if not math.isnan(self.ulp_error):
                out.append(f"{where}: {self.ulp_error:.3g} ULP > --max-ulp {max_ulp:g}")
        return out


@dataclass
class SweepResult:
    function: str
    sweep: Sweep
    unit: str
    grid: list[Fraction]
    series: list[SweepSeries]


def run_sweep(function: str, numbers: Sequence[Number], sweep: Sweep, formats: Sequence[FloatFormat],
              methods: Sequence[str] | None, acc: Accumulation, unit: str = BITS,
              refine: bool = True) -> SweepResult:
    """Evaluate ``function`` at every point of ``sweep`` for every dtype and method."""
    from smoothcli.methods.registry import resolve_methods

    kernel = get_kernel(function)
    if methods or not kernel.default_all:
        names = resolve_methods(list(methods) if methods else None, kernel.methods)
    else:
        names = list(kernel.methods)  # sigmoid & co: naive and stable; exp: numpy
    grid = sweep.grid()
    cs = [float(c) for c in grid]
    series: list[SweepSeries] = []
    for fmt in formats:
        per_method = kernel.points(numbers, sweep, grid, fmt, names, acc)
        for name in names:
            pts = per_method[name]
            s = _series(kernel.name, fmt, name, unit, cs, pts, acc)
            s.segments = _segments(cs, pts)
            if refine and all(x.exact is not None for x in numbers):
                s.boundaries = [_refine(kernel, numbers, sweep, fmt, name, acc, grid, j)
                                for j in range(len(grid) - 1)
                                if pts[j].status != pts[j + 1].status]
            series.append(s)
    return SweepResult(kernel.name, sweep, unit, grid, series)


def round_point(numbers: Sequence[Number], sweep: Sweep, c: Fraction, fmt: FloatFormat):
    """The inputs at c in ``fmt``: each exact x_i + c (or c·x_i) rounded once, correctly."""
    import numpy as np

    from smoothcli.core.rounding import RoundedInputs

    values = _round_exact([sweep.apply(x, c) for x in numbers], fmt)
    array = np.array(values, dtype=np.float64).astype(fmt.np)
    return RoundedInputs(fmt.name, values, [False] * len(values), array)


def _series(function: str, fmt: FloatFormat, name: str, unit: str, cs: list[float],
            pts: list[PointResult], acc: Accumulation) -> SweepSeries:

    ulps = [p.ulp_error for p in pts]
    bits = [p.bits for p in pts]
    return SweepSeries(
        dtype=fmt.name, method=name, function=function, unit=unit,
        ulp_error=_worst(ulps), bits=_worst(bits),
        overflow=any(p.overflow for p in pts), underflow=any(p.underflow for p in pts),
        nan=any(p.nan for p in pts), c=cs, errors=bits if unit == BITS else ulps,
        ulp_errors=ulps, bits_errors=bits, value=[p.value for p in pts],
        reference=[p.reference for p in pts], overflow_at=[p.overflow for p in pts],
        underflow_at=[p.underflow for p in pts], nan_at=[p.nan for p in pts],
        status=[p.status for p in pts], accumulation=acc.describe(fmt.name))


def _segments(cs: list[float], pts: list[PointResult]) -> list[Segment]:

    out: list[Segment] = []
    start = 0
    for j in range(1, len(pts) + 1):
        if j == len(pts) or pts[j].status != pts[start].status:
            run = pts[start:j]
            out.append(Segment(pts[start].status, cs[start], cs[j - 1], len(run),
                               _worst(p.ulp_error for p in run), _worst(p.bits for p in run)))
            start = j
    return out


def _refine(kernel: Kernel, numbers: Sequence[Number], sweep: Sweep, fmt: FloatFormat, name: str,
            acc: Accumulation, grid: list[Fraction], j: int) -> Boundary:
    """Locate exactly where the status changes between grid[j] and grid[j + 1].

    For finite inputs the status is a function of the rounded inputs only, which are piecewise
    constant in c and change where some x_i + c (or c·x_i) crosses the midpoint t between two
    neighbouring values of the dtype.  Bisect (exact rationals) until the rounded inputs at the two
    ends of the bracket differ only in elements that all cross at one and the same c* = t − x_i
    (or t / x_i); that c* is the boundary.  A change that reverts between two grid points is not
    seen (the sweep samples c)."""

    def state(c: Fraction):
        return round_point(numbers, sweep, c, fmt), kernel.point_status(numbers, sweep, c, fmt,
                                                                        name, acc)

    lo, hi = grid[j], grid[j + 1]
    (in_lo, s_lo), (in_hi, s_hi) = state(lo), state(hi)
    before, after = s_lo, s_hi
    for _ in range(MAX_REFINE):
        star = _crossing(numbers, sweep, fmt, in_lo.values, in_hi.values)
        # c* may be the lower end itself: a grid point exactly on a midpoint (status at c*
        # is then `before`, and the change happens just above it)
        if star is not None and lo <= star <= hi:
            _, at = state(star)
            return Boundary(float(star), exact_text(star), before, after, at,
                            float(grid[j]), float(grid[j + 1]))
        mid = (lo + hi) / 2
        in_mid, s_mid = state(mid)
        if s_mid != s_lo:
            hi, in_hi, s_hi = mid, in_mid, s_mid
        else:
            lo, in_lo, s_lo = mid, in_mid, s_mid
    mid = (lo + hi) / 2  # not reached in practice: report the bracket's middle, marked inexact
    return Boundary(float(mid), exact_text(mid), before, after, s_hi, float(grid[j]),
                    float(grid[j + 1]), exact=False)


def _crossing(numbers: Sequence[Number], sweep: Sweep, fmt: FloatFormat, a: list[float],
              b: list[float]) -> Fraction | None:
    """The single c at which every element that differs between ``a`` and ``b`` changes, if the
    differing elements are neighbours in ``fmt`` that all cross at the same c; else None."""
    star: Fraction | None = None
    for x, u, v in zip(numbers, a, b):
        if u == v:
            continue
        ou, ov = ordinal(u, fmt), ordinal(v, fmt)
        if ou is None or ov is None or x.exact is None or abs(ou - ov) != 1:
            return None
        lo, hi = min(u, v), max(u, v)
        top = fmt.max_finite + fmt.ulp(fmt.max_finite) / 2  # where rounding reaches inf
        if math.isinf(hi):
            t = top
        elif math.isinf(lo):
            t = -top
        else:
            t = (Fraction(lo) + Fraction(hi)) / 2
        c = t - x.exact if sweep.kind == SHIFT else t / x.exact
        if star is not None and c != star:
            return None
        star = c
    return star


def exact_text(q: Fraction, max_digits: int = 60) -> str:
    """A rational as an exact decimal when it has a terminating one of at most ``max_digits``
    significant digits (denominator 2**a·5**b), else to 17 significant digits with '≈'."""
    from decimal import Decimal, localcontext

    d = q.denominator
    a = b = 0
    while d % 2 == 0:
        d //= 2
        a += 1
    while d % 5 == 0:
        d //= 5
        b += 1
    if d == 1:
        scale = max(a, b)
        digits = q.numerator * 10 ** scale // q.denominator  # exact integer
        with localcontext() as ctx:
            ctx.prec = max(len(str(abs(digits))), 1) + 5
            text = format(Decimal(digits).scaleb(-scale).normalize(), "f")
        if len(text.replace("-", "").replace(".", "").strip("0")) <= max_digits:
            return text
    with localcontext() as ctx:
        ctx.prec = 17
        return "≈" + format(Decimal(q.numerator) / Decimal(q.denominator), "g")


def _short(v: Any) -> str:
    """A c value for messages: exact decimal when short, else float repr."""
    if isinstance(v, Fraction):
        return exact_text(v)
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e16 else repr(f)
