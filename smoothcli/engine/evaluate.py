"""The one evaluation engine of the LSE family: rows × n inputs in, columnar results out.

Every input reaches this module as a :class:`~smoothcli.engine.inputs.Batch` of rows (a typed
vector is a batch of one row, a sweep a batch whose rows are its points).  For each row:

1. round: the row is rounded once, correctly, to each dtype (``Batch.rounded``); dtypes whose
   rounded rows are identical form a group and share one reference;
2. reference: :func:`smoothcli.reference.fast.row_reference` — the mpmath Ziv loop for rows of at
   most :data:`EXACT_N` elements (17 correct printed digits, errors exact), the vectorised
   reference with a proven bound (≤ 1/128 ULP, mpmath where the bound is not enough) beyond;
   rows with identical rounded inputs share one reference (:class:`ReferenceCache`);
3. evaluate: every method of :mod:`smoothcli.methods.registry` (and ``--peer`` libraries) runs
   in the dtype, into reusable buffers;
4. measure: errors (:mod:`smoothcli.measure.errors`), Herbie bits and the Blanchard-Higham-Higham
   bound (:mod:`smoothcli.measure.bounds`), flags (:mod:`smoothcli.measure.flags`).

The results are kept per (dtype, method[, T or k]) as one :class:`Series` of arrays over the rows
(memory: a few numbers per row; per-element arrays only when asked for, ``elements=True``).  The
report layer turns them into rows of the one row model.

Many short rows are evaluated a block at a time (:meth:`_Worker.block`, blocks of about
:data:`BLOCK_ELEMENTS` values): the same stages, each one numpy call over the block's rows (as
scipy's ``logsumexp`` does with ``axis``), with the steps that are mpmath's (the log of a fast
reference's sum, the exact reference of rows of at most :data:`EXACT_N` values, the exact
errors of an LSE) still one per row.  Rows with special values or ties take the row path inside
the block.  Either way a row gets the same numbers (tests/test_blocks.py).

Long rows are evaluated on worker threads (``concurrent.futures``) when they are long enough
for numpy to release the GIL for most of the time; mpmath is not thread-safe (its precision is
global), so every mpmath step runs under :data:`smoothcli.reference.fast.MP_LOCK`.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.core.errors import InputError
from smoothcli.core.formats import FloatFormat
from smoothcli.core.numbers import Number
from smoothcli.engine.inputs import Batch

#: Rows of at most this many elements get the exact (Ziv) reference.
EXACT_N = 64
#: Inputs transformed in the dtype (x/T, k·x) need exact rational references: rows up to this.
TRANSFORM_MAX_N = 1000
#: Rows shorter than this run on one thread (per-row Python overhead dominates there).
THREAD_MIN_N = 1 << 14
THREADS = 2
#: Rows shorter than THREAD_MIN_N are evaluated in blocks of about this many elements: every
#: stage vectorised over the block's rows (one numpy call per stage, not one per row; the exact
#: reference of rows of at most EXACT_N values stays one per row), with the same numbers as row
#: by row.
BLOCK_ELEMENTS = 1 << 16
#: Whether the engine may evaluate blocks of rows (tests compare both ways).
BLOCKS = True
#: Show a progress bar (on a terminal only) when a batch has at least this many elements.
PROGRESS_MIN_ELEMENTS = 1 << 20

LSE, SOFTMAX, METRICS = "lse", "softmax", "metrics"


@dataclass(frozen=True)
class Transform:
    """An operation on the inputs inside the dtype before the method runs, as a user's code
    would do it: ``x / T`` (softmax at a temperature) or ``k · x`` (the smooth max
    (1/k)·LSE(k·x), whose result is then divided by k in the dtype too).  The reference is the
    exact function of the exact x/T or k·x of the dtype's x and T (or k): the rounding of the
    operation is part of the error a user gets."""

    name: str  # "temperature" (x/T) | "k" (the smooth max, (1/k)·LSE(k·x)) | "scale" (f(k·x))
    number: Number

    @property
    def text(self) -> str:
        return self.number.text

    def param(self, fmt: FloatFormat) -> float:
        """T or k rounded to the dtype; it must stay finite and > 0 there."""
        from smoothcli.core.rounding import round_number

        p = round_number(self.number, fmt)
        if not (math.isfinite(p) and p > 0):
            option = "--temperature" if self.name == "temperature" else "--k"
            raise InputError(f"{option} {self.text} is {p!r} in {fmt.name}: it must stay finite "
                             "and > 0 there")
        return p

    def apply(self, x: Any, p: float, fmt: FloatFormat) -> Any:
        import numpy as np

        with np.errstate(all="ignore"):
            t = fmt.np.type(p)
            return x / t if self.name == "temperature" else t * x

    def exact(self, x64: Any, p: float) -> list:
        q = Fraction(p)
        out = []
        for v in x64.tolist():
            if not math.isfinite(v):
                out.append(v)  # inf/T = inf, k·inf = inf (p > 0), NaN stays NaN
            else:
                out.append(Fraction(v) / q if self.name == "temperature" else Fraction(v) * q)
        return out

    def finish(self, value: Any, p: float, fmt: FloatFormat) -> Any:
        import numpy as np

        if self.name != "k":
            return value
        with np.errstate(all="ignore"):
            return value / fmt.np.type(p)  # (1/k)·LSE(k·x): the division in the dtype


@dataclass
class Plan:
    """What to evaluate: the function, the dtypes, the methods (and peers), the accumulation."""

    kind: str  # lse | softmax
    dtypes: list[FloatFormat]
    methods: list[str]
    acc: Accumulation = field(default_factory=Accumulation)
    peers: list[str] = field(default_factory=list)
    transforms: list[Transform] = field(default_factory=list)
    keep_plain: bool = True  # evaluate the untransformed function too
    elements: bool = False  # keep per-element arrays of vector results
    measure: bool = True  # False: flags only (no reference, no errors), e.g. sweep refinement
    aux: Any = None  # vector gradients: the cotangent (Numbers, or None: the default) or label


#: Float arrays of a Series (one value per row).
FLOATS = ("value", "reference", "abs_error", "rel_error", "ulp_error", "bits", "bound",
          "error_u", "sumexp", "output_sum", "sum_error", "max", "x", "hard", "exp")
#: Boolean arrays.
BOOLS = ("overflow", "underflow", "nan", "exceeds_bound", "inputs_overflowed", "undefined")
#: Integer arrays.
INTS = ("flushed_terms", "changed_inputs", "argmax", "ties")


class Series:
    """One (dtype, method[, T or k]) over every row of a batch, as arrays."""

    def __init__(self, rows: int, fmt: FloatFormat, method: str, transform: Transform | None,
                 param: float | None, vector: bool, acc: Accumulation, elements: bool):
        import numpy as np

        self.dtype, self.method, self.format = fmt.name, method, fmt
        self.transform, self.param, self.vector = transform, param, vector
        self.rows = rows
        self.arrays: dict[str, Any] = {k: np.full(rows, np.nan) for k in FLOATS}
        self.arrays.update({k: np.zeros(rows, dtype=bool) for k in BOOLS})
        self.arrays.update({k: np.full(rows, -1, dtype=np.int64) for k in INTS})
        self.reference_decimal: list[str] = [""] * rows
        self.bound_rule: list[str] = [""] * rows
        self.reference_mpf: list[Any] = [None] * rows
        self.elements: list[dict | None] | None = [None] * rows if elements else None
        self.extras: list[list] | None = None  # pointwise: each point's extra exact values
        self.function = ""  # the JSON function name (set by evaluate)
        self.peer: tuple[str, str] | None = None  # (function called, library version)
        self.returned: str | None = None  # the dtype a peer returned
        self.acc_dtype = acc.acc_dtype(fmt.name) if method not in PEER_NAMES else fmt.name
        self.order = acc.order

    def __getitem__(self, key: str) -> Any:
        return self.arrays[key]


#: The libraries ``--peer`` can call: their rows are not methods.
from smoothcli.engine.peers import PEERS as PEER_NAMES  # noqa: E402 - a light module


@dataclass
class Evaluation:
    """What the engine found: a Series per (dtype, method[, T or k]), and facts about the run."""

    plan: Plan
    batch: Batch
    series: list[Series]
    reference_kinds: dict[str, dict[str, int]]  # dtype -> how each row's reference was obtained
    changed: dict[str, int]  # dtype -> elements changed by rounding
    peer_failures: list[tuple[str, str, str]]  # (peer, dtype, what went wrong)
    points: int | None = None  # pointwise functions: the rows of the result are the points

    @property
    def rows(self) -> int:
        return self.batch.rows if self.points is None else self.points

    @property
    def pointwise(self) -> bool:
        return self.points is not None

    @property
    def n(self) -> int:
        return self.batch.n


class ReferenceCache:
    """One reference per distinct short row of rounded inputs (dtypes whose rounding agrees,
    sweep points and batch rows whose rounded inputs repeat).  Keyed by the row's bytes; when
    full, the oldest entry goes."""

    MAX_ENTRIES = 4096  # at most 4096 · ROW_MAX elements' worth of references
    ROW_MAX = 256  # longer rows are not cached (see _Worker._reference)

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}

    def get(self, key: tuple, compute: Callable[[], Any],
            usable: Callable[[Any], bool] | None = None) -> Any:
        """The reference for ``key``, computed once; ``usable(hit)`` False: computed again
        (and kept), e.g. a fast reference whose bound is not enough for this target."""
        hit = self._cache.get(key)
        if hit is None or (usable is not None and not usable(hit)):
            hit = compute()
            if len(self._cache) >= self.MAX_ENTRIES and key not in self._cache:
                del self._cache[next(iter(self._cache))]  # the oldest entry makes room
            self._cache[key] = hit
        return hit


#: The references of metrics batches, kept across the evaluations of one process: the advice
#: re-evaluates the same batch in another accumulation or a wider dtype whose rounded logits
#: are often the same values (a float16 batch in float32).
METRICS_CACHE_ENTRIES = 8


def evaluate(plan: Plan, batch: Batch, progress: bool | None = None,
             threads: int | None = None) -> Evaluation:
    """Evaluate ``plan`` on every row of ``batch``."""
    from smoothcli.core.limits import check_row_length
    if plan.kind not in (LSE, SOFTMAX):  # (their modules are imported only when needed)
        from smoothcli.methods.pointwise import is_pointwise
        from smoothcli.methods.vjp import VECTOR_FUNCTIONS

        if is_pointwise(plan.kind):
            return _evaluate_points(plan, batch)
        if plan.kind == METRICS:
            return _evaluate_metrics(plan, batch)
        if plan.kind in VECTOR_FUNCTIONS:
            return _evaluate_vectors(plan, batch)
        raise ValueError(f"no function {plan.kind!r} in the engine")
    check_row_length(batch.n, batch.source)
    if plan.transforms and batch.n > TRANSFORM_MAX_N:
        which = "--temperature" if plan.transforms[0].name == "temperature" else "--k"
        raise InputError(f"{which} needs rows of at most {TRANSFORM_MAX_N} values (its exact "
                         f"reference is computed element by element); this row has {batch.n}")
    series: list[Series] = []
    for fmt in plan.dtypes:
        variants: list[tuple[Transform | None, float | None]] = []
        if plan.keep_plain:
            variants.append((None, None))
        variants += [(t, t.param(fmt)) for t in plan.transforms]
        for t, p in variants:
            for m in [*plan.methods, *plan.peers]:
                series.append(Series(batch.rows, fmt, m, t, p, plan.kind == SOFTMAX, plan.acc,
                                     plan.elements))
                series[-1].function = ("smooth_max" if t is not None and t.name == "k"
                                       else plan.kind)
    R, n = batch.rows, batch.n
    tasks: list[tuple[int, int]] = [(i, i + 1) for i in range(R)]  # rows [i, j) at a time
    blocks = _in_blocks(plan, batch)
    if blocks:
        size = max(1, BLOCK_ELEMENTS // n)
        if n <= EXACT_N:  # a block's exact references stay cached for its next dtypes
            size = min(size, ReferenceCache.MAX_ENTRIES // len(plan.dtypes))
        tasks = [(i, min(R, i + size)) for i in range(0, R, size)]
    parallel = (threads != 1 and THREADS > 1 and (os.cpu_count() or 1) > 1 and len(tasks) > 1
                and (n >= THREAD_MIN_N or blocks))
    nthreads = threads or (THREADS if parallel else 1)
    workers = [_Worker(plan, batch, series) for _ in range(max(1, min(nthreads, len(tasks))))]

    def work(k: int) -> None:
        """Worker k's share of the tasks (every len(workers)-th), with its own buffers."""
        w = workers[k]
        for i, j in tasks[k::len(workers)]:
            if blocks:
                w.block(i, j)
            else:
                w.row(i)
            advance(j - i)

    with _Progress(R, R * n, progress) as advance:
        if len(workers) == 1:
            work(0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(workers)) as pool:
                for f in [pool.submit(work, k) for k in range(len(workers))]:
                    f.result()  # re-raises a worker's exception here
    kinds: dict[str, dict[str, int]] = {f.name: {} for f in plan.dtypes}
    changed = {f.name: 0 for f in plan.dtypes}
    failures: list[tuple[str, str, str]] = []
    for w in workers:
        for name, ks in w.ref_kinds.items():
            for label, count in ks.items():
                kinds[name][label] = kinds[name].get(label, 0) + count
        for name, count in w.changed.items():
            changed[name] += count
        failures += [f for f in w.peer_failures if f not in failures]
    failed = {(p, d) for p, d, _ in failures}
    series = [s for s in series if (s.method, s.dtype) not in failed]
    return Evaluation(plan, batch, series, kinds, changed, failures)


def _in_blocks(plan: Plan, batch: Batch) -> bool:
    """Whether the rows are evaluated a block at a time: many rows shorter than THREAD_MIN_N,
    every series a plain method measured against the reference."""
    return (BLOCKS and batch.rows > 1 and 0 < batch.n < THREAD_MIN_N
            and plan.measure and not plan.transforms and not plan.peers)


class _Worker:
    """Evaluates whole rows with its own buffers; results go to row i of the shared Series."""

    def __init__(self, plan: Plan, batch: Batch, series: list[Series]):
        from smoothcli.reference.fast import Workspace

        self.plan, self.batch, self.series = plan, batch, series
        self.ws = Workspace()
        self.decimal_lists: dict[tuple, Any] = {}  # (row, id(ref)) -> (ref, ElementDecimals)
        self.ref_ws = Workspace()  # long rows' references (one at a time)
        self.last: tuple | None = None
        self.cache = ReferenceCache()
        self.ref_kinds: dict[str, dict[str, int]] = {f.name: {} for f in plan.dtypes}
        self.changed = {f.name: 0 for f in plan.dtypes}
        self.peer_failures: list[tuple[str, str, str]] = []
        stored = _stored_format(batch)
        # formats that hold every stored value exactly get the stored values unchanged
        self.exact = {f.name: stored is not None and _holds(f, stored) for f in plan.dtypes}
        self.by_dtype: dict[str, list[Series]] = {}
        for s in series:
            self.by_dtype.setdefault(s.dtype, []).append(s)
        # blocks of rows: their own buffers, apart from those of the rows evaluated one by one
        self.block_ws, self.block_ref_ws, self.settle_ws = Workspace(), Workspace(), Workspace()

    def _decimals(self, i: int, ref: Any) -> "ElementDecimals":
        """One lazily written decimal list per reference of row i, shared by every method (and
        dtype) that reads that reference: each element is then written once, not per method."""
        key = (i, id(ref))
        if key not in self.decimal_lists:
            # the reference is kept with its list: alive, its id cannot be reused in this row
            self.decimal_lists[key] = (ref, ElementDecimals(ref))
        return self.decimal_lists[key][1]

    def row(self, i: int) -> None:
        import numpy as np

        from smoothcli.engine.sources import changed_mask
        from smoothcli.measure.flags import inputs_overflowed

        ws, batch, n = self.ws, self.batch, self.batch.n
        self.decimal_lists.clear()  # shared within one row only
        given = ws.get("given64", np.float64, n)
        np.copyto(given, batch.data[i])
        for f in self.plan.dtypes:
            x = batch.rounded(i, f, out=ws.get("x_" + f.name, f.np, n))
            if self.exact[f.name] and batch.numbers is None:
                x64, n_changed, over = given, 0, False
            else:
                x64 = ws.get("x64_" + f.name, np.float64, n)
                np.copyto(x64, x)
                mask = changed_mask(batch, i, x64, given)
                n_changed = int(np.count_nonzero(mask))
                over = inputs_overflowed(x64, given)
            self.changed[f.name] += n_changed
            for s in self.by_dtype.get(f.name, []):
                s["changed_inputs"][i] = n_changed
            self._dtype_row(i, f, x, x64, over)

    # -- a block of rows ----------------------------------------------------------------------

    def block(self, i0: int, i1: int) -> None:
        """Rows i0..i1-1 at once: the stages of :meth:`row`, each one vectorised over the
        block.  Rows the fast reference does not take (special values, ties) go through
        :meth:`_dtype_row` one by one; the numbers are those of :meth:`row` either way."""
        import numpy as np

        from smoothcli.engine.sources import changed_mask
        from smoothcli.measure.flags import inputs_overflowed

        batch, ws, rows = self.batch, self.block_ws, slice(i0, i1)
        shape = (i1 - i0, batch.n)
        self.decimal_lists.clear()  # shared within one block only
        data = batch.data[rows]  # (a large file's rows are read here, once)
        given = ws.get("given64", np.float64, shape)
        np.copyto(given, data)
        for f in self.plan.dtypes:
            x = batch.rounded(rows, f, out=ws.get("x_" + f.name, f.np, shape), given=data)
            over = np.zeros(shape[0], dtype=bool)
            if self.exact[f.name] and batch.numbers is None:
                x64, changed = given, np.zeros(shape[0], dtype=np.int64)
            else:
                x64 = ws.get("x64_" + f.name, np.float64, shape)
                np.copyto(x64, x)
                changed = np.count_nonzero(changed_mask(batch, rows, x64, given), axis=-1)
                for r in np.flatnonzero(~np.isfinite(x64).all(axis=-1)):
                    over[r] = inputs_overflowed(x64[r], given[r])
            self.changed[f.name] += int(changed.sum())
            for s in self.by_dtype.get(f.name, []):
                s["changed_inputs"][rows] = changed
            self._dtype_block(i0, f, x, x64, over)

    def _dtype_block(self, i0: int, f: FloatFormat, x: Any, x64: Any, over: Any) -> None:
        import numpy as np

        from smoothcli.reference.fast import block_references, block_regular

        exact = x64.shape[1] <= EXACT_N  # the Ziv reference, row by row (and cached)
        regular = block_regular(x64, [f], exact) & ~over
        for r in np.flatnonzero(~regular):
            self._dtype_row(i0 + int(r), f, x[r], x64[r], bool(over[r]))
        reg = np.flatnonzero(regular)
        if reg.size == 0:
            return
        if reg.size < x.shape[0]:
            x, x64 = x[reg], x64[reg]
        rows = i0 + reg
        top = x64.max(axis=-1)
        argmax = np.argmax(x64, axis=-1)
        ties = np.count_nonzero(x64 == top[:, None], axis=-1)
        if exact:
            refs = [self._reference(f, row) for row in x64]
            hi = lo = None
            if self.plan.kind == SOFTMAX:
                hi = np.stack([ref.softmax_hi for ref in refs])
                lo = np.stack([ref.softmax_lo if ref.softmax_lo is not None
                               else np.zeros(x64.shape[1]) for ref in refs])
        else:
            refs, hi, lo = block_references(x64, [f], self.plan.kind == SOFTMAX,
                                            self.block_ref_ws, self.settle_ws)
            for ref in refs:
                self._count(f.name, _kind_label(ref))
        for s in self.by_dtype.get(f.name, []):
            a = s.arrays
            a["max"][rows], a["argmax"][rows], a["ties"][rows] = top, argmax, ties
            self._method_block(rows, s, f, x, x64, top, refs, hi, lo)

    def _method_block(self, rows: Any, s: Series, f: FloatFormat, x: Any, x64: Any, top: Any,
                      refs: list, hi: Any, lo: Any) -> None:
        import numpy as np

        from smoothcli.measure.flags import InputFacts, read_flags
        from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS

        kernels = SOFTMAX_METHODS if self.plan.kind == SOFTMAX else LSE_METHODS
        trace = _block_trace(kernels[s.method], x, self.plan.acc, self.block_ws, top)
        B = x.shape[0]
        # regular rows: every input finite, an exact result that is finite and not NaN
        facts = InputFacts(True, False, False, True, np.zeros(B, dtype=bool))
        fl = read_flags(facts, trace.terms, trace.sumexp, trace.value, np.zeros(B, dtype=bool),
                        np.ones(B, dtype=bool), f)
        a = s.arrays
        a["overflow"][rows], a["underflow"][rows] = fl.overflow, fl.underflow
        a["nan"][rows] = fl.nan
        a["flushed_terms"][rows] = fl.flushed
        a["sumexp"][rows] = np.asarray(trace.sumexp, dtype=np.float64)
        if s.vector:
            self._measure_block(rows, s, f, x64, np.asarray(trace.value), refs, hi, lo)
        else:
            self._measure_scalars(rows, s, f, x64, np.asarray(trace.value), refs)

    def _measure_scalars(self, rows: Any, s: Series, f: FloatFormat, x64: Any, value: Any,
                         refs: list) -> None:
        """Measure the LSE-like results ``value`` of the given rows (a block, or one row)
        against their references: the exact errors row by row (mpmath), the bits and the bound
        for all of them at once."""
        import mpmath
        import numpy as np

        from smoothcli.measure.bounds import bits, check_lse_rows, element_bits
        from smoothcli.measure.errors import errors
        from smoothcli.reference.fast import MP_LOCK, split

        B = len(refs)
        v64 = value.astype(np.float64)
        err = np.empty((3, B))
        hi, lo = np.empty(B), np.empty(B)
        with MP_LOCK:
            for r, (i, ref) in enumerate(zip(rows.tolist(), refs)):
                e = errors(float(v64[r]), ref.lse, f)
                err[:, r] = e.abs_error, e.rel_error, e.ulp_error
                if ref.pair is None:  # (once per reference, whichever methods read it)
                    ref.pair = split(ref.lse)
                hi[r], lo[r] = ref.pair  # (hi: the reference rounded once to float64)
                s.reference_decimal[i] = lse_text(ref)
                s.reference_mpf[i] = ref.lse
        # the bits of results whose reference lies in the format's range, element by element
        # from the (hi, lo) pair; beyond it the format's overflow rule, exactly, row by row
        b = np.empty(B)
        inside = np.abs(hi) <= float(f.max_finite)
        b[inside] = element_bits(value[inside], hi[inside], lo[inside],
                                 np.zeros(int(inside.sum()), dtype=bool), f)
        with MP_LOCK:
            for r in np.flatnonzero(~inside):
                b[r] = bits(float(v64[r]), refs[r].lse, f)
        a = s.arrays
        a["value"][rows], a["reference"][rows] = v64, hi
        a["abs_error"][rows], a["rel_error"][rows], a["ulp_error"][rows] = err
        a["bits"][rows] = b
        chk = check_lse_rows(s.method, x64, np.array([float(ref.lse) for ref in refs]),
                             np.array([bool(mpmath.isfinite(ref.lse)) for ref in refs]), v64,
                             err[1], f, b == 0)
        _store_checks(s, rows, chk)

    def _measure_block(self, rows: Any, s: Series, f: FloatFormat, x64: Any, value: Any,
                       refs: list, hi: Any, lo: Any) -> None:
        """Measure the softmax-like results ``value`` of the given rows (2-D: a block, or one
        row) against their references ``refs``, whose elements are ``hi`` + ``lo`` (2-D)."""
        import mpmath
        import numpy as np

        from smoothcli.measure.bounds import check_softmax_rows, element_bits
        from smoothcli.measure.errors import element_errors, output_sum, ulp_scale, widened
        from smoothcli.reference.fast import RowReference, Workspace

        ws = self.block_ws
        v64 = widened(value, ws)
        if len(refs) == 1:  # one row: its own reference (it may keep its tiny elements apart)
            k = ulp_scale(refs[0], f, ws, f.name)
            diff, ulp, rel = (e[None, :] for e in element_errors(
                value[0], refs[0], x64[0], k, ws, f, v64[0]))
        else:
            block = RowReference("block", None, 0.0, hi, lo)
            k = ulp_scale(block, f, ws, f.name)
            diff, ulp, rel = element_errors(value, block, x64, k, ws, f, v64)
            for r in (r for r, ref in enumerate(refs) if ref.tiny is not None):
                # elements near float64's subnormals, kept scaled: that row with its reference
                tmp = Workspace()
                kr = ulp_scale(refs[r], f, tmp, f.name)
                diff[r], ulp[r], rel[r] = element_errors(value[r], refs[r], x64[r], kr, tmp, f,
                                                         v64[r])
        ref_nan = np.isnan(hi)
        value_nan = np.isnan(v64).any(axis=-1)
        any_nan = value_nan | ref_nan.any(axis=-1)
        a = s.arrays
        for key, arr in (("abs_error", diff), ("rel_error", rel), ("ulp_error", ulp)):
            a[key][rows] = np.where(any_nan, math.nan, arr.max(axis=-1))
        ebits = element_bits(value, hi, lo, ref_nan, f)
        a["bits"][rows] = np.where(np.isnan(ebits).any(axis=-1), math.nan, ebits.max(axis=-1))
        a["output_sum"][rows], a["sum_error"][rows] = output_sum(value, ws, v64)
        top = np.where(ref_nan.any(axis=-1), math.nan, hi.max(axis=-1))
        chk = check_softmax_rows(s.method, x64, np.array([float(r.lse) for r in refs]),
                                 np.array([bool(mpmath.isfinite(r.lse)) for r in refs]), top,
                                 a["abs_error"][rows], value_nan, f, a["bits"][rows] == 0)
        _store_checks(s, rows, chk)
        if s.elements is not None:  # every element's numbers (--json), row by row
            for r, i in enumerate(rows.tolist()):
                s.elements[i] = {
                    "value": v64[r].copy(), "reference": hi[r].copy(),
                    "reference_lo": lo[r].copy(), "reference_decimal": self._decimals(i, refs[r]),
                    "abs_errors": diff[r].copy(), "rel_errors": rel[r].copy(),
                    "ulp_errors": ulp[r].copy(), "element_bits": ebits[r].copy()}

    # -- one row in one dtype ----------------------------------------------------------------

    def _dtype_row(self, i: int, f: FloatFormat, x: Any, x64: Any, over: bool) -> None:
        import numpy as np

        top_info = _top(x64)
        series = self.by_dtype.get(f.name, [])
        ref_plain = None  # one reference for the untransformed series of this dtype
        if self.plan.measure and any(s.transform is None for s in series):
            ref_plain = self._reference(f, x64)
        for s in series:
            if s.transform is None:
                xin, xin64, xover, ref = x, x64, over, ref_plain
            else:
                xin = s.transform.apply(x, s.param, f)
                xin64 = xin.astype(np.float64)
                xover = over or bool((np.isfinite(x64) & ~np.isfinite(xin64)).any())
                ref = self._transformed_reference(s, x64) if self.plan.measure else None
            s["max"][i], s["argmax"][i], s["ties"][i] = top_info
            s["undefined"][i] = not math.isfinite(top_info[0])  # softmax of no finite max
            s["inputs_overflowed"][i] = xover
            self._method(i, s, f, xin, xin64, xover, ref)

    def _reference(self, f: FloatFormat, x64: Any):
        """The row's reference for ``f``: short rows from the cache (a fresh workspace each;
        rows whose rounded inputs repeat share one, and so do dtypes when it is exact), long
        rows into this worker's reusable buffers, shared with the previous row when it had the
        same inputs."""
        import numpy as np

        from smoothcli.reference.fast import Workspace, row_reference

        softmax, exact = self.plan.kind == SOFTMAX, x64.size <= EXACT_N
        # A fast reference is settled for its target: good to TAU ULP of float16 need not be
        # good to TAU ULP of float32 (an LSE near 0), so only the exact one serves every dtype.
        target = "exact" if exact else f.name
        if x64.size <= ReferenceCache.ROW_MAX:
            ref = self.cache.get((x64.tobytes(), target), lambda: row_reference(
                x64.copy(), [f], softmax, Workspace(), exact=exact))
        else:
            last = self.last
            if last is not None and last[1] == target and np.array_equal(last[0], x64,
                                                                         equal_nan=True):
                ref = last[2]
            else:
                ref = row_reference(x64, [f], softmax, self.ref_ws, exact=exact)
                self.last = (x64.copy(), target, ref)
        self._count(f.name, _kind_label(ref))
        return ref

    def _count(self, dtype: str, label: str) -> None:
        """One more row of ``dtype`` whose reference was obtained as ``label``."""
        kinds = self.ref_kinds[dtype]
        kinds[label] = kinds.get(label, 0) + 1

    def _transformed_reference(self, s: Series, x64: Any):
        """The exact reference of the exact x/T or k·x of the dtype's x."""
        from smoothcli.reference.fast import (MP_LOCK, RowReference, Workspace, mpmath_row,
                                              ziv_bound)

        values = s.transform.exact(x64, s.param)
        with MP_LOCK:
            if s.transform.name != "k":  # softmax of the exact x/T or k·x
                ref = mpmath_row(None, True, Workspace(), values=values)
            else:
                lse = _smooth_max_reference(values, s.param)
                ref = RowReference("mpmath", lse, ziv_bound(lse), lse_mpmath=True)
        self._count(s.dtype, f"mpmath ({s.transform.name})")
        return ref

    def _method(self, i: int, s: Series, f: FloatFormat, x: Any, x64: Any, over: bool,
                ref: Any) -> None:
        import numpy as np

        from smoothcli.measure.flags import input_facts, read_flags

        ws = self.ws
        if s.method in PEER_NAMES:
            out = self._peer(s, f, x)
            if out is None:
                return
            value, terms, sumexp = out, None, None
        else:
            from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS

            kernels = SOFTMAX_METHODS if self.plan.kind == SOFTMAX else LSE_METHODS
            top = float(s["max"][i]) if s.transform is None else math.nan
            trace = kernels[s.method](x, self.plan.acc, ws, top if math.isfinite(top) else None)
            value, terms, sumexp = trace.value, trace.terms, trace.sumexp
            if s.transform is not None:
                value = s.transform.finish(value, s.param, f)
        if ref is None:  # flags only: the exact result of finite inputs is finite
            ref_nan, ref_finite = False, True
        elif self.plan.kind == SOFTMAX:
            ref_nan = bool(np.isnan(ref.softmax_hi).any())
            ref_finite = not ref_nan
        else:
            import mpmath

            ref_nan, ref_finite = bool(mpmath.isnan(ref.lse)), bool(mpmath.isfinite(ref.lse))
        facts = input_facts(x64, over)
        fl = read_flags(facts, terms, sumexp, value, ref_nan, ref_finite, f,
                        ws.get("mask", np.bool_, x64.size))
        s["overflow"][i], s["underflow"][i], s["nan"][i] = fl.overflow, fl.underflow, fl.nan
        s["flushed_terms"][i] = fl.flushed
        s["sumexp"][i] = float(sumexp) if sumexp is not None else math.nan
        if ref is None:
            if not s.vector:
                s["value"][i] = float(value)
            return
        if s.vector:
            self._measure_vector(i, s, f, x64, value, ref)
        else:
            self._measure_scalars(np.array([i]), s, f, x64[None, :], np.asarray(value).reshape(1),
                                  [ref])

    def _peer(self, s: Series, f: FloatFormat, x: Any):
        from smoothcli.engine.peers import call

        try:
            value, returned, what, version = call(s.method, self.plan.kind, x, f)
        except Exception as e:  # a library that refuses a dtype: said in a note, no row
            failure = (s.method, s.dtype, f"{type(e).__name__}: {' '.join(str(e).split())}")
            if failure not in self.peer_failures:
                self.peer_failures.append(failure)
            return None
        s.peer, s.returned = (what, version), returned
        return value

    def _measure_vector(self, i: int, s: Series, f: FloatFormat, x64: Any, value: Any,
                        ref: Any) -> None:
        """:meth:`_measure_block` of row ``i`` alone."""
        import numpy as np

        value = np.asarray(value)
        if value.dtype != np.float64 and s.method in PEER_NAMES:
            value = value.astype(np.float64)  # (a library's result is measured as float64)
        hi = ref.softmax_hi
        lo = ref.softmax_lo if ref.softmax_lo is not None else np.zeros(hi.size)
        self._measure_block(np.array([i]), s, f, x64[None, :], value[None, :], [ref],
                            hi[None, :], lo[None, :])


# --- pointwise functions -------------------------------------------------------------------

def _store_checks(s: Series, rows: Any, chk: Any) -> None:
    """The bound checks ``chk`` (:class:`smoothcli.measure.bounds.BoundChecks`) of ``rows``."""
    a = s.arrays
    a["bound"][rows], a["error_u"][rows], a["exceeds_bound"][rows] = (
        chk.bound, chk.error_u, chk.exceeds)
    for r, i in enumerate(rows.tolist()):
        s.bound_rule[i] = chk.rule[r]


def _block_trace(kernel: Callable, x: Any, acc: Accumulation, ws: Any, top: Any):
    """A method on a block of rows: at once when its kernel takes blocks, else row by row
    (BHH's log1p and the online normaliser) into block arrays."""
    import numpy as np

    from smoothcli.methods.lse import Trace

    if getattr(kernel, "rows", False):
        return kernel(x, acc, ws, top)
    traces = [kernel(x[r], acc, None, top[r]) for r in range(x.shape[0])]
    return Trace(np.stack([np.asarray(t.value) for t in traces]),
                 np.stack([t.terms for t in traces]),
                 np.stack([np.asarray(t.sumexp) for t in traces]))


def points_of(plan: Plan, batch: Batch) -> int:
    """How many points a pointwise plan evaluates: every element (arity 1) or every row."""
    from smoothcli.methods.pointwise import pointwise

    return batch.rows * batch.n if pointwise(plan.kind).arity == 1 else batch.rows


def point_location(plan: Plan, batch: Batch, q: int) -> tuple[int, int | None]:
    """(input row, element or None) of point ``q``."""
    from smoothcli.methods.pointwise import pointwise

    if pointwise(plan.kind).arity == 1:
        i, j = divmod(q, batch.n)
        return i, j
    return q, None


def _evaluate_points(plan: Plan, batch: Batch) -> Evaluation:
    """A pointwise function (:mod:`smoothcli.methods.pointwise`) on every point of ``batch``.

    The same stages as a row of the LSE family, with the points of all rows as one column:
    round (each input row once, correctly, per dtype), evaluate every method as one vectorised
    call on the column in the dtype, then per point the exact reference (mpmath, cached per
    distinct rounded point: dtypes whose rounding agrees share it), the exact errors and
    Herbie bits (:mod:`smoothcli.measure.errors`, :mod:`smoothcli.measure.bounds`) and the
    flags (:func:`smoothcli.measure.flags.pointwise_flags`)."""
    import numpy as np

    from smoothcli.engine.sources import changed_mask
    from smoothcli.measure.bounds import bits
    from smoothcli.measure.errors import errors
    from smoothcli.measure.flags import pointwise_flags
    from smoothcli.methods.pointwise import pointwise
    from smoothcli.reference.exact import decimal_text, to_float

    spec = pointwise(plan.kind)
    R, n = batch.rows, batch.n
    if spec.arity != 1 and n != spec.arity:
        raise InputError(f"{spec.name} takes rows of {spec.arity} values; got {n}")
    P = R * n if spec.arity == 1 else R
    series: list[Series] = []
    cache = ReferenceCache()
    kinds: dict[str, dict[str, int]] = {f.name: {} for f in plan.dtypes}
    changed_total = {f.name: 0 for f in plan.dtypes}
    failures: list[tuple[str, str, str]] = []
    given = np.asarray(batch.data, dtype=np.float64)
    for f in plan.dtypes:
        X = np.empty((R, n), dtype=f.np)
        for i in range(R):
            batch.rounded(i, f, out=X[i])
        X64 = X.astype(np.float64)
        mask = np.stack([changed_mask(batch, i, X64[i], given[i]) for i in range(R)])
        with np.errstate(invalid="ignore"):
            over = np.isfinite(given) & ~np.isfinite(X64)  # a finite value beyond the range
        if spec.arity == 1:
            columns, points64 = (X.reshape(-1),), X64.reshape(-1, 1)
            n_changed, over_p = mask.reshape(-1).astype(np.int64), over.reshape(-1)
        else:
            columns, points64 = tuple(X[:, j] for j in range(n)), X64
            n_changed, over_p = mask.sum(axis=1).astype(np.int64), over.any(axis=1)
        changed_total[f.name] += int(mask.sum())
        hard = [spec.hard(*pt) for pt in points64.tolist()]  # the same for every method
        variants: list[tuple[Transform | None, float | None]] = (
            [(t, t.param(f)) for t in plan.transforms] if spec.param else [(None, None)])
        for t, p in variants:
            refs = []
            for q in range(P):
                key = (spec.name, points64[q].tobytes(), p)
                refs.append(cache.get(key, lambda q=q: spec.exact(
                    tuple(points64[q].tolist()), p)))
            kinds[f.name]["mpmath"] = kinds[f.name].get("mpmath", 0) + P
            pd = f.np.type(p) if p is not None else None
            for m in [*plan.methods, *plan.peers]:
                s = Series(P, f, m, t, p, False, plan.acc, False)
                s.function, s.extras = spec.name, [r[1] for r in refs]
                a = s.arrays
                if m in PEER_NAMES:
                    from smoothcli.engine.peers import call

                    try:
                        value, returned, what, version = call(m, plan.kind, columns[0], f)
                    except Exception as e:  # a library that refuses: said in a note, no row
                        failures.append((m, f.name, f"{type(e).__name__}: "
                                         f"{' '.join(str(e).split())}"))
                        continue
                    s.peer, s.returned = (what, version), returned
                    values = np.asarray(value, dtype=np.float64).reshape(-1)
                    exps, steps = None, []
                else:
                    trace = spec.run(m, columns, pd)
                    values = np.asarray(trace.value).astype(np.float64)
                    exps = np.asarray(trace.exp).astype(np.float64)
                    steps = [np.asarray(v).astype(np.float64) for v in trace.steps.values()]
                a["value"][:] = values
                a["x"][:] = points64[:, 0] if spec.arity == 1 else np.nan
                a["hard"][:] = hard
                if exps is not None:
                    a["exp"][:] = exps
                a["changed_inputs"][:] = n_changed
                a["inputs_overflowed"][:] = over_p
                for q in range(P):
                    ref, v = refs[q][0], float(values[q])
                    xq = float(points64[q].max()) if not np.isnan(points64[q]).any() else math.nan
                    fl = pointwise_flags(xq, [] if exps is None else exps[q],
                                         [st[q] for st in steps], v, ref, f)
                    err = errors(v, ref, f)
                    a["overflow"][q], a["underflow"][q], a["nan"][q] = (
                        fl.overflow or over_p[q], fl.underflow, fl.nan)
                    a["flushed_terms"][q] = fl.flushed
                    a["reference"][q] = to_float(ref)
                    a["abs_error"][q], a["rel_error"][q], a["ulp_error"][q] = (
                        err.abs_error, err.rel_error, err.ulp_error)
                    a["bits"][q] = bits(v, ref, f)
                    s.reference_decimal[q] = decimal_text(ref)
                    s.reference_mpf[q] = ref
                series.append(s)
    return Evaluation(plan, batch, series, kinds, changed_total, failures, points=P)


# --- vector gradients ------------------------------------------------------------------------

#: Rows of vector gradients are measured element by element against mpmath: at most this long.
VECTOR_MAX_N = 4096


def _evaluate_vectors(plan: Plan, batch: Batch) -> Evaluation:
    """The gradients of :mod:`smoothcli.methods.vjp` on every row: the same stages as a softmax
    row (rounding, every method in the dtype, the one flag rule set on its exponentials and
    sum), with an exact per-element reference (mpmath, Ziv's loop) that follows the limits the
    module states, and exact errors and bits per element."""
    import numpy as np

    from smoothcli.engine.sources import changed_mask
    from smoothcli.measure.bounds import bits
    from smoothcli.measure.errors import errors
    from smoothcli.measure.flags import input_facts, inputs_overflowed, read_flags
    from smoothcli.methods.vjp import VECTOR_FUNCTIONS
    from smoothcli.reference.exact import decimal_text, to_float

    spec = VECTOR_FUNCTIONS[plan.kind]
    R, n = batch.rows, batch.n
    if n > VECTOR_MAX_N:
        raise InputError(f"{spec.name} is measured element by element: rows of at most "
                         f"{VECTOR_MAX_N} values (this one has {n})")
    label = plan.aux if spec.aux == "label" else None
    if label is not None and not 0 <= label < n:
        raise InputError(f"--label {label} is not an index of a row of {n} values "
                         f"(0 … {n - 1})")
    if spec.aux == "cotangent" and plan.aux is not None and len(plan.aux) != n:
        raise InputError(f"--cotangent has {len(plan.aux)} values; the row has {n}")
    tr = plan.transforms[0] if plan.transforms else None  # "scale": the gradient at k·x
    series = [Series(R, f, m, tr, tr.param(f) if tr else None, True, plan.acc, True)
              for f in plan.dtypes for m in [*plan.methods, *plan.peers]]
    failures: list[tuple[str, str, str]] = []
    for s in series:
        s.function = spec.name
    cache = ReferenceCache()
    changed = {f.name: 0 for f in plan.dtypes}
    for i in range(R):
        given = np.asarray(batch.data[i], dtype=np.float64)
        for f in plan.dtypes:
            x = batch.rounded(i, f)
            x64 = x.astype(np.float64)
            n_changed = int(np.count_nonzero(changed_mask(batch, i, x64, given)))
            changed[f.name] += n_changed
            over = inputs_overflowed(x64, given)
            top = _top(x64)
            exact_in: list = x64.tolist()
            if tr is not None:  # k·x formed in the dtype; the reference at the exact k·x
                k = tr.param(f)
                x_in = tr.apply(x, k, f)
                over = over or bool((np.isfinite(x64) & ~np.isfinite(
                    x_in.astype(np.float64))).any())
                exact_in = tr.exact(x64, k)
                x = x_in
            if spec.aux == "cotangent":
                from smoothcli.core.rounding import round_number

                if plan.aux is not None:
                    g64 = [round_number(t, f) for t in plan.aux]
                elif spec.name == "softmax_vjp":  # the gradient of the largest probability
                    g64 = [1.0 if j == top[1] else 0.0 for j in range(n)]
                else:  # log-softmax: the gradient of Σ log-softmax
                    g64 = [1.0] * n
                aux_d, aux_key = np.array(g64, dtype=np.float64).astype(f.np), tuple(g64)
            else:
                aux_d, aux_key = label, label
            key = (x64.tobytes(), aux_key, tr.param(f) if tr else None)
            ref = cache.get(key, lambda: spec.exact(
                exact_in, list(aux_key) if spec.aux == "cotangent" else aux_key))
            ref_nan = [bool(r != r) for r in ref]
            facts = input_facts(x.astype(np.float64), over)
            for s in (s for s in series if s.dtype == f.name):
                if s.method in PEER_NAMES:
                    from smoothcli.engine.peers import call

                    try:
                        out, returned, what, version = call(s.method, plan.kind, x, f, aux_d)
                    except Exception as e:  # a library that refuses: a note, no row
                        failure = (s.method, f.name, f"{type(e).__name__}: "
                                   f"{' '.join(str(e).split())}")
                        if failure not in failures:
                            failures.append(failure)
                        continue
                    s.peer, s.returned = (what, version), returned
                    value = np.asarray(out, dtype=np.float64)
                    terms = sumexp = None
                else:
                    t = spec.methods[s.method](x, plan.acc, aux_d)
                    value, terms, sumexp = np.asarray(t.value), t.terms, t.sumexp
                v64 = value.astype(np.float64)
                fl = read_flags(facts, terms, sumexp, value, all(ref_nan), not any(ref_nan), f)
                a = s.arrays
                a["overflow"][i], a["underflow"][i], a["nan"][i] = fl.overflow, fl.underflow, fl.nan
                a["flushed_terms"][i] = fl.flushed
                a["sumexp"][i] = math.nan if sumexp is None else float(sumexp)
                a["max"][i], a["argmax"][i], a["ties"][i] = top
                a["undefined"][i] = all(ref_nan)
                a["inputs_overflowed"][i], a["changed_inputs"][i] = over, n_changed
                errs = [errors(float(v), r, f) for v, r in zip(v64, ref)]
                el_bits = np.array([bits(float(v), r, f) for v, r in zip(v64, ref)])
                abs_e = np.array([e.abs_error for e in errs])
                rel_e = np.array([e.rel_error for e in errs])
                ulp_e = np.array([e.ulp_error for e in errs])
                any_nan = bool(np.isnan(ulp_e).any())
                a["abs_error"][i] = math.nan if any_nan else float(abs_e.max())
                a["rel_error"][i] = math.nan if any_nan else float(rel_e.max())
                a["ulp_error"][i] = math.nan if any_nan else float(ulp_e.max())
                a["bits"][i] = math.nan if np.isnan(el_bits).any() else float(el_bits.max())
                refs = np.array([to_float(r) for r in ref])
                s.elements[i] = {
                    "value": v64, "reference": refs, "reference_lo": np.zeros(n),
                    "reference_decimal": [decimal_text(r) for r in ref],
                    "abs_errors": abs_e, "rel_errors": rel_e, "ulp_errors": ulp_e,
                    "element_bits": el_bits}
    failed = {(p, d) for p, d, _ in failures}
    series = [s for s in series if (s.method, s.dtype) not in failed]
    return Evaluation(plan, batch, series, {f.name: {"mpmath": R} for f in plan.dtypes},
                      changed, failures)


# --- metrics over a dataset ---------------------------------------------------------------

def _evaluate_metrics(plan: Plan, data: Any) -> Evaluation:
    """The hard and smooth metrics of :mod:`smoothcli.methods.metrics` over a
    :class:`~smoothcli.engine.sources.Dataset`: one Series (of one row) per (dtype, k, method,
    metric), ``function`` the metric's name.  The same stages: the logits rounded once per
    dtype and multiplied by k in it; every method in the dtype (sums by ``plan.acc``); the exact
    metrics of the dtype's logits and k (:func:`smoothcli.reference.metrics.metrics_reference`,
    one per distinct rounded batch), the exact errors and bits, and the flags."""
    import numpy as np

    from smoothcli.measure.bounds import bits
    from smoothcli.measure.errors import errors
    from smoothcli.measure.flags import pointwise_flags
    from smoothcli.methods import metrics as M
    from smoothcli.reference.exact import to_float
    from smoothcli.reference.metrics import good_enough, metrics_reference, reference_text

    import hashlib

    binary = data.task == "binary"
    names = M.BINARY_METRICS if binary else M.MULTICLASS_METRICS
    y = data.labels
    labels_key = hashlib.sha256(np.asarray(y, dtype=np.int64).tobytes()).hexdigest()
    series: list[Series] = []
    kinds: dict[str, dict[str, int]] = {f.name: {} for f in plan.dtypes}
    for f in plan.dtypes:
        x = data.logits.rounded(f)
        xs = x.astype(np.float64)
        if not np.isfinite(xs).all():
            i = int(np.flatnonzero(~np.isfinite(xs.reshape(-1)))[0])
            bad = float(xs.reshape(-1)[i])  # a Python float: 'inf', not 'np.float64(inf)'
            raise InputError(f"--logits: value {i} is {bad!r} in {f.name}: "
                             "logits must be finite (and within the dtype's range)")
        hard = M.binary_hard(xs.tolist(), y) if binary else M.multiclass_hard(xs.tolist(), y)
        t = np.array(y, dtype=np.float64).astype(f.np)
        for tr in plan.transforms:
            kd = tr.param(f)
            key = (hashlib.sha256(xs.tobytes()).hexdigest(), xs.shape, labels_key, kd, binary)
            ref = _METRICS_REFS.get(key, lambda: metrics_reference(xs, y, kd, binary, f),
                                    lambda r: not r.bounds or good_enough(r, f))
            label = ref.kind
            kinds[f.name][label] = kinds[f.name].get(label, 0) + 1
            k = f.np.type(kd)
            for m in plan.methods:
                got = (M.binary_computed(x, t, k, m, plan.acc, f.has_inf) if binary else
                       M.multiclass_computed(x, y, k, m, plan.acc, f.has_inf))
                for name in names:
                    s = Series(1, f, m, tr, kd, False, plan.acc, False)
                    s.function = name
                    a = s.arrays
                    h = hard[name]
                    a["hard"][0] = math.nan if h is None else h
                    exact = ref.values[name]
                    c = got[name]
                    a["value"][0] = c.value
                    if exact is None:  # the metric does not exist (a zero denominator)
                        s.reference_decimal[0] = ""
                        series.append(s)
                        continue
                    err = errors(c.value, exact, f)
                    # an intermediate's overflow is passed as an infinite step; the flush and
                    # NaN rules are pointwise_flags' own
                    fl = pointwise_flags(0.0, [], [math.inf] if c.overflow else [], c.value,
                                         exact, f)
                    a["overflow"][0], a["nan"][0] = fl.overflow, fl.nan
                    a["underflow"][0] = fl.underflow or (c.zero_denominator and not fl.overflow)
                    a["reference"][0] = to_float(exact)
                    a["abs_error"][0], a["rel_error"][0], a["ulp_error"][0] = (
                        err.abs_error, err.rel_error, err.ulp_error)
                    a["bits"][0] = bits(c.value, exact, f)
                    s.reference_decimal[0] = reference_text(ref, name)
                    s.reference_mpf[0] = exact
                    series.append(s)
    return Evaluation(plan, data, series, kinds, {f.name: 0 for f in plan.dtypes}, [])


_METRICS_REFS = ReferenceCache()
_METRICS_REFS.MAX_ENTRIES = METRICS_CACHE_ENTRIES


def typed_points(ev: Evaluation) -> dict:
    """(point, dtype) -> the exact value at the point *as typed* (an mpf), for the points of a
    typed row whose rounding to the dtype changed them; shown beside the exact value at the
    rounded point."""
    from smoothcli.engine.sources import exact_row
    from smoothcli.methods.pointwise import pointwise

    exact = exact_row(ev.batch, 0)
    if exact is None or not any(ev.changed.values()):
        return {}
    spec = pointwise(ev.plan.kind)
    cache: dict = {}
    out = {}
    for s in ev.series:
        for q in range(ev.rows):
            if s.arrays["changed_inputs"][q] <= 0:
                continue
            i, j = point_location(ev.plan, ev.batch, q)
            values = (exact[j],) if j is not None else tuple(exact)
            key = (values, s.param)
            if key not in cache:
                cache[key] = spec.exact(values, s.param)[0]
            out[(q, s.dtype)] = cache[key]
    return out


# --- helpers ------------------------------------------------------------------------------

def _top(x64: Any) -> tuple[float, int, int]:
    """(max, first argmax, number of tied maxima) of a row; NaN, -1, 0 with a NaN input (NaN
    has no place in an order)."""
    import numpy as np

    top = float(x64.max())
    if math.isnan(top):
        return math.nan, -1, 0
    return top, int(np.argmax(x64)), int(np.count_nonzero(x64 == top))


def _kind_label(ref: Any) -> str:
    label = ref.kind + (" (mpmath LSE)" if ref.lse_mpmath and ref.kind.startswith("fast")
                        else "")
    if ref.mpmath_elements and ref.kind != "mpmath":
        label += " (+mpmath elements)"
    return label


def _smooth_max_reference(products: list, k: float):
    """(1/k)·LSE(k·x) exactly, from the exact products k·x_i.

    (1/k)·LSE(k·x) = max + (LSE(k·x) − k·max)/k: lse_at_prec returns k·max + log1p(…) exactly,
    so the difference is exact and the gap keeps its precision (dividing the whole LSE by k
    would round (1/k)·LSE(1000·(2, 1.75, …)) = 2 + 2.7e-112 to 2)."""
    import mpmath

    from smoothcli.reference.exact import converge, lse_at_prec, to_mpf

    finite = [q for q in products if isinstance(q, Fraction)]
    if len(finite) != len(products):  # inf/nan among k·x: the scipy conventions
        return converge(lambda: lse_at_prec(products) / to_mpf(Fraction(k)))
    top_k = max(finite)
    top = top_k / Fraction(k)

    def smooth():
        tail = mpmath.fsub(lse_at_prec(products), to_mpf(top_k), exact=True)
        return mpmath.fadd(to_mpf(top), tail / to_mpf(Fraction(k)), exact=True)

    return converge(smooth)


def lse_text(ref: Any) -> str:
    """The exact LSE as decimal text: 17 digits when it came from the Ziv loop (which only
    stops once two precisions agree on those digits), else as many as its bound guarantees."""
    from smoothcli.reference.exact import decimal_text

    if ref.text is None:  # once per reference, whichever methods are measured against it
        if ref.lse_mpmath or ref.kind in ("mpmath", "exact", "special"):
            ref.text = decimal_text(ref.lse)
        else:
            ref.text = bounded_text(ref.lse, ref.lse_bound)
    return ref.text


def bounded_text(value: Any, bound: Any, digits: int = 17) -> str:
    """``value`` (an mpf) to at most ``digits`` significant digits, only as many as the error
    bound guarantees (both ends of [value − bound, value + bound] round to the same text)."""
    import mpmath

    from smoothcli.reference.exact import decimal_text

    if value is None:
        return ""
    if not mpmath.isfinite(value) or bound == 0:
        return decimal_text(value, digits)
    lo = mpmath.fsub(value, bound, exact=True)  # exact: mpmath's default 53 bits would round
    hi = mpmath.fadd(value, bound, exact=True)
    # Where to start.  With d digits the cells that round to one d-digit decimal are at most
    # c = 10·|value|·10**-d wide in value's decade.  The ends of [lo, hi] round alike only if
    # the interval is shorter than one cell, or, across a power of ten, than 5.5 cells (a cell
    # of the decade above is 10 times wider): 2·bound >= 55·|value|·10**-d is a sure failure,
    # and so is every d >= log10(|value| / 2·bound) + log10(55).  The loop starts below that
    # (1e-9: a margin for the float estimate).
    start = digits
    ratio = abs(float(value)) / (2 * float(bound)) if float(bound) > 0 else math.inf
    if 0 < ratio < math.inf:
        start = max(1, min(digits, math.floor(math.log10(ratio) + 1e-9) + 2))
    for d in range(start, 0, -1):
        text = decimal_text(value, d)
        if decimal_text(lo, d) == text == decimal_text(hi, d):
            return text
    return decimal_text(value, 1) + "?"


class ElementDecimals(list):
    """The exact softmax elements of a row as decimal text, each written when first read (a
    row of 262,144 elements costs ~10 s of decimal conversion, which only ``--json`` needs;
    the tables read a few).  17 digits from the mpmath row, else the digits the fast
    reference's relative bound guarantees.  A list, so that JSON writes it as one."""

    def __init__(self, ref: Any) -> None:
        import copy

        super().__init__()
        # a snapshot: a long row's reference lives in buffers the next row overwrites
        self._ref = copy.copy(ref)
        self._ref.softmax_hi = ref.softmax_hi.copy()
        self._ref.softmax_lo = None if ref.softmax_lo is None else ref.softmax_lo.copy()
        self._n = int(ref.softmax_hi.size)
        self._done: dict[int, str] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, j):  # type: ignore[override]
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(self._n))]
        j = j + self._n if j < 0 else j
        if not 0 <= j < self._n:
            raise IndexError(j)
        text = self._done.get(j)
        if text is None:
            text = self._done[j] = _element_decimal(self._ref, j)
        return text

    def __iter__(self):
        return (self[j] for j in range(self._n))

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def _element_decimal(ref: Any, j: int) -> str:
    import mpmath

    from smoothcli.reference.exact import decimal_text
    from smoothcli.reference.fast import MP_LOCK

    with MP_LOCK:
        if ref.softmax_mpf is not None:
            return decimal_text(ref.softmax_mpf[j])
        h = float(ref.softmax_hi[j])
        if not math.isfinite(h) or h == 0:
            return decimal_text(mpmath.mpf(h))
        with mpmath.workprec(160):
            lo = ref.softmax_lo
            y = mpmath.fadd(h, float(lo[j]), exact=True) if lo is not None else mpmath.mpf(h)
            return bounded_text(y, abs(y) * ref.softmax_rel_bound)


def _stored_format(batch: Batch):
    from smoothcli.core.formats import FORMATS

    return FORMATS.get(batch.stored) if batch.kind == "npy" else None


def _holds(fmt: FloatFormat, stored: FloatFormat) -> bool:
    """Every value of ``stored`` is a value of ``fmt`` (float16 ⊂ float32 ⊂ float64)."""
    return (fmt.name == stored.name or (
        fmt.precision >= stored.precision and fmt.emin <= stored.emin and
        fmt.emax >= stored.emax and fmt.has_inf >= stored.has_inf))


class _Progress:
    """A rich progress bar on stderr, only on a terminal and only for long runs."""

    def __init__(self, rows: int, elements: int, enabled: bool | None):
        if enabled is None:
            err = sys.stderr
            enabled = (elements >= PROGRESS_MIN_ELEMENTS and rows > 1 and hasattr(err, "isatty")
                       and err.isatty() and os.environ.get("TERM") != "dumb")
        self.enabled, self.rows = enabled, rows
        self._progress: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda k: None
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        self._progress = Progress(TextColumn("rows"), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=Console(stderr=True),
                                  transient=True)
        self._progress.start()
        task = self._progress.add_task("rows", total=self.rows)
        return lambda k: self._progress.advance(task, k)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def typed_reference(kind: str, values: Sequence[Any]):
    """The exact LSE (an mpf) or softmax (a list of mpf) of the inputs *as typed* (exact
    decimals), shown beside the references of each dtype's rounded inputs."""
    from smoothcli.reference.exact import lse_reference, softmax_reference

    return softmax_reference(values) if kind == SOFTMAX else lse_reference(values)
