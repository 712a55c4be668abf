"""Batches: many rows (or one long row) of logits, evaluated row by row with numpy arrays inside
and summaries in the report.

The per-element pipeline of issue 2 (``Evaluation`` / ``SoftmaxEvaluation`` with Python lists, an
mpmath reference per element) is right for a handful of numbers and hopeless for 64 × 262,144.
Here each row is rounded to each dtype into reusable buffers, each method is evaluated with the
same numpy operations as :mod:`smoothcli.methods.lse` (``out=`` buffers; tests check the results are
bit-identical), the reference comes from :mod:`smoothcli.reference.fast` (vectorised, with a proven bound,
mpmath where the bound says so), and per row only a few numbers are kept: the value, the errors
(the worst element for softmax), the flags and the sum of exponentials.  Memory is a small multiple
of one row whatever the number of rows.

What a (dtype, method) summary holds — :class:`BatchEvaluation`, one JSON row each — keeps the keys
of issue 2's rows (``dtype``, ``method``, ``value``, ``reference``, ``abs_error``, ``rel_error``,
``ulp_error``, ``overflow``, ``underflow``, ``nan``...) with batch meanings (worst row, any row) and
adds the counts, the median, the worst row and per-row arrays (README, "Files, stdin and batches").
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from smoothcli.core.accumulation import SEQUENTIAL, Accumulation
from smoothcli.commands._common import Settings, sum_caption
from smoothcli.core.formats import FloatFormat
from smoothcli.reference.fast import TAU, RowReference, Workspace, row_reference
from smoothcli.engine.inputs import Batch
from smoothcli.report.model import Column, Report, Section

#: Show a progress bar (on a terminal only) when a batch has at least this many elements.
PROGRESS_MIN_ELEMENTS = 1 << 20

KINDS = {"lse": "LSE", "softmax": "softmax", "bounds": "max ≤ LSE ≤ max + log n",
         "underflow": "naive vs shifted LSE (Σ exp underflow)"}


@dataclass
class BatchEvaluation:
    """One (dtype, method) over every row of a batch: worst/any summaries plus per-row arrays."""

    dtype: str
    method: str
    value: list | None  # per-row LSE values (lse, bounds, underflow); None for softmax
    reference: list | None  # per-row exact LSE (float64 nearest); None for softmax
    abs_error: float  # worst over rows (and elements)
    rel_error: float
    ulp_error: float  # worst over rows (NaN rows excluded; they are counted in nan_rows)
    overflow: bool  # in any row
    underflow: bool
    nan: bool
    flushed_terms: int  # over all rows
    accumulation: str
    rows_evaluated: int
    overflow_rows: int
    underflow_rows: int
    nan_rows: int
    median_ulp_error: float
    worst_row: int | None  # 0-based index of the row with the largest ULP error
    outside_rows: int | None = None  # bounds: rows whose LSE lies outside [max, max + log n]
    per_row: dict = field(default_factory=dict)  # name -> list, one entry per row

    def problems(self, max_ulp: float | None) -> list[str]:
        where = f"{self.dtype} {self.method}"
        out = []
        for flag, count in (("overflow", self.overflow_rows), ("underflow", self.underflow_rows),
                            ("nan", self.nan_rows)):
            if count:
                first = self.per_row[flag].index(True)
                out.append(f"{where}: {flag} in {count} of {self.rows_evaluated} rows "
                           f"(first: row {first})")
        if self.outside_rows:
            first = self.per_row["inside"].index(False)
            out.append(f"{where}: LSE outside [max, max + log n] in {self.outside_rows} rows "
                       f"(first: row {first})")
        if max_ulp is not None and not math.isnan(self.ulp_error) and self.ulp_error > max_ulp:
            out.append(f"{where}: {self.ulp_error:.3g} ULP > --max-ulp {max_ulp:g} "
                       f"(row {self.worst_row})")
        return out


class _Stats:
    """Per-row results of one (dtype, method), in preallocated arrays."""

    def __init__(self, rows: int, softmax: bool, bounds: bool):
        import numpy as np

        self.value = np.full(rows, np.nan)
        self.reference = np.full(rows, np.nan)
        self.ref_mpf: list = [None] * rows
        self.ref_bound: list = [0.0] * rows
        self.abs = np.full(rows, np.nan)
        self.rel = np.full(rows, np.nan)
        self.ulp = np.full(rows, np.nan)
        self.overflow = np.zeros(rows, dtype=bool)
        self.underflow = np.zeros(rows, dtype=bool)
        self.nan = np.zeros(rows, dtype=bool)
        self.flushed = np.zeros(rows, dtype=np.int64)
        self.sumexp = np.full(rows, np.nan)
        self.softmax = softmax
        if softmax:
            self.output_sum = np.full(rows, np.nan)
            self.sum_error = np.full(rows, np.nan)
        self.inside = np.ones(rows, dtype=bool) if bounds else None


# --- evaluation: the methods of smoothcli.methods.lse, with out= buffers -----------------------

def _sum(acc: Accumulation, terms, ws: Workspace, name: str):
    import numpy as np

    if acc.order == SEQUENTIAL:
        # as Accumulation.sum: ufunc.accumulate rounds every partial sum to the dtype
        buf = ws.get(name, terms.dtype, terms.size)
        np.add.accumulate(terms, out=buf)
        return buf[-1]
    return acc.sum(terms)


def evaluate(kind: str, method: str, x, acc: Accumulation, ws: Workspace, tag: str,
             xmax: Any = None):
    """(value, terms, sumexp) of ``method`` on ``x``, as :mod:`smoothcli.methods.lse` computes it.

    The buffered kernels cover naive and shifted; any other method registered in logsumexp is
    called as is (allocating its temporaries)."""
    import numpy as np

    from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS

    softmax = kind == "softmax"
    if method not in ("naive", "shifted") or not _plain(x.dtype, acc):
        trace = (SOFTMAX_METHODS if softmax else LSE_METHODS)[method](x, acc)
        return trace.value, trace.terms, trace.sumexp
    terms = ws.get("k_terms" + tag, x.dtype, x.size)
    with np.errstate(all="ignore"):
        if method == "naive":
            np.exp(x, out=terms)
            m = None
        else:
            # np.max(x), taken from the float64 copy when given (numpy's float16 max is slow)
            m = np.max(x) if xmax is None else x.dtype.type(xmax)
            if not np.isfinite(m):  # as logsumexp._shift: m = 0 for an inf/nan max
                m = x.dtype.type(0)
            np.subtract(x, m, out=terms)
            np.exp(terms, out=terms)
        s = _sum(acc, terms, ws, "k_acc" + tag)
        if softmax:
            value = ws.get("k_value" + tag, x.dtype, x.size)
            np.divide(terms, s, out=value)
        elif m is None:
            value = np.log(s)
        else:
            value = m + np.log(s)
    return value, terms, s


def _plain(dtype, acc: Accumulation) -> bool:
    """True when the buffered kernels reproduce logsumexp exactly: a numpy float dtype (not
    ml_dtypes') whose sums accumulate in the dtype itself (no wider --acc)."""
    name = dtype.name
    if name not in ("float16", "float32", "float64"):
        return False
    acc_dtype = getattr(acc, "acc_dtype", None)
    return acc_dtype is None or acc_dtype(name) == name


@dataclass
class _Facts:
    """What the flags need to know about one row's inputs in one dtype."""

    all_finite: bool
    has_nan: bool
    has_posinf: bool
    sum_nonzero: bool  # some input > -inf: the exact Σ exp is not zero
    finite: Any = None  # mask, only when not all_finite
    x: Any = None  # the row (for smoothcli.measure.errors.flags on the general path)


def input_facts(x, x64=None) -> _Facts:
    """Facts about ``x``; min/max are read from its exact float64 copy ``x64`` when given."""
    import numpy as np

    src = x if x64 is None else x64
    lo, hi = src.min(), src.max()
    if np.isfinite(lo) and np.isfinite(hi):
        return _Facts(True, False, False, True, x=x)
    finite = np.isfinite(x)
    return _Facts(False, bool(np.isnan(x).any()), bool((x == np.inf).any()),
                  bool((x > -np.inf).any()), finite, x)


def inputs_overflowed(x64, raw64) -> bool:
    """:attr:`smoothcli.engine.pipeline.RoundedInputs.overflowed` for a row: rounding to the dtype made
    a finite input infinite (or NaN), or every input -inf, while the values as stored/typed give a
    finite result."""
    import numpy as np

    if np.isfinite(x64.min()) and np.isfinite(x64.max()):
        return False
    same = (x64 == raw64) | (np.isnan(x64) & np.isnan(raw64))
    if ((same & (np.isnan(x64) | (x64 == np.inf))).any()):
        return False
    changed = ~same
    up = bool((changed & ~np.isfinite(x64) & (x64 != -np.inf)).any())
    return up or (bool((x64 == -np.inf).all()) and bool(changed.any()))


def flags(facts: _Facts, terms, s, value, ref_is_nan: bool, ref_finite: bool, fmt: FloatFormat,
          ws: Workspace):
    """(overflow, underflow, nan, flushed): :func:`smoothcli.measure.errors.flags`, read without
    float64 copies of the row (tests check both agree)."""
    import numpy as np

    if not (fmt.has_inf and _plain(terms.dtype, Accumulation()) and
            np.asarray(s).dtype == terms.dtype):
        from smoothcli.measure.errors import flags as measure_flags

        fl = measure_flags(facts.x, terms, s, value, ref_is_nan, ref_finite, fmt)
        return fl.overflow, fl.underflow, fl.nan, fl.flushed
    if facts.all_finite:
        # exp of a finite number is never NaN; elementwise tests into a reused mask (numpy's
        # float16 min/max reductions are ~30x slower than these)
        mask = ws.get("k_bool", np.bool_, terms.size)
        flushed = int(np.count_nonzero(np.equal(terms, 0, out=mask)))
        term_inf = bool(np.isinf(terms, out=mask).any())
    else:
        tf = terms[facts.finite]
        flushed = int(np.count_nonzero(tf == 0))
        term_inf = bool(np.isinf(tf).any())
    if facts.has_nan:
        return False, False, False, flushed
    s = float(s)
    vals = np.asarray(value)
    if vals.ndim:
        mask = ws.get("k_bool", np.bool_, vals.size)
        v_inf = bool(np.isinf(vals, out=mask).any())
        v_nan = bool(np.isnan(vals, out=mask).any())
    else:
        v_inf, v_nan = bool(np.isinf(vals)), bool(np.isnan(vals))
    overflow = term_inf
    if not facts.has_posinf:
        overflow |= math.isinf(s)
        if ref_finite and s != 0:
            overflow |= v_inf
    underflow = facts.sum_nonzero and not facts.has_posinf and (
        s == 0 or abs(s) < float(fmt.smallest_normal))
    nan = v_nan and not ref_is_nan
    return bool(overflow), bool(underflow), bool(nan), flushed


# --- errors of a softmax row against the (hi, lo) reference ------------------------------------

def ulp_scale(ref: RowReference, fmt: FloatFormat, ws: Workspace, tag: str):
    """k_i with ulp_fmt(y_i) = 2**-k_i, for the reference softmax y = hi + lo (exact binade:
    a hi that is a power of two with lo < 0 belongs to the binade below)."""
    import numpy as np

    hi, lo = ref.softmax_hi, ref.softmax_lo
    n = hi.size
    ex = ws.get("k_ex" + tag, np.int32, n)
    if ref.frexp is not None:  # fastref already split hi into mantissas and exponents
        mant = ref.frexp[0]
        np.subtract(ref.frexp[1], 1, out=ex)
    else:
        mant = ws.get("k_mant", np.float64, n)
        np.frexp(hi, out=(mant, ex))
        np.subtract(ex, 1, out=ex)  # floor(log2 |hi|)
    if lo is not None:
        ex -= ((mant == 0.5) & (lo < 0)).astype(np.int32)
    if ref.has_zero is None:
        ref.has_zero = bool((hi == 0).any())
    if ref.has_zero:
        ex[hi == 0] = fmt.emin
    np.maximum(ex, fmt.emin, out=ex)
    np.subtract(fmt.precision - 1, ex, out=ex)  # k = p - 1 - e
    return ex


def element_errors(value, ref: RowReference, x64, k, ws: Workspace, fmt: FloatFormat, v64=None):
    """Per-element (abs, ULP, rel) errors of a softmax row against the reference, as arrays
    (workspace buffers).  Same conventions as :func:`smoothcli.measure.errors`; rel is 1 for an
    element computed as 0 whose exact value is below 2**-1074 (stored as 0 in the reference),
    and inf if such an element is computed nonzero."""
    import numpy as np

    from smoothcli.reference.fast import TINY_SCALE

    n = value.size
    diff = ws.get("k_diff", np.float64, n)
    ulp = ws.get("k_work", np.float64, n)
    rel = ws.get("k_rel", np.float64, n)
    if v64 is None:  # value widened to float64 (exact), unless the caller has it already
        v64 = value if value.dtype == np.float64 else ws.get("k_v64", np.float64, n)
        if v64 is not value:
            np.copyto(v64, value)
    tiny = ref.tiny if (ref.tiny is not None and fmt.emin - fmt.precision + 1 < -1000) else None
    if tiny is not None:  # the scaled copies: |v - y| * 2**TINY_SCALE, exactly
        idx, hs, ls = tiny
        ds = np.abs(np.ldexp(v64[idx], TINY_SCALE) - hs - ls)
        m_s, e_s = np.frexp(hs)
        e = e_s - 1 - ((m_s == 0.5) & (ls < 0)) - TINY_SCALE  # floor(log2 y)
        ulp_tiny = np.ldexp(ds, fmt.precision - 1 - np.maximum(e, fmt.emin) - TINY_SCALE)
        rel_tiny = ds / hs
    with np.errstate(all="ignore"):
        np.subtract(v64, ref.softmax_hi, out=diff)
        if ref.softmax_lo is not None and fmt.precision > 24:
            # |lo| <= 2**-53 |y|: below 2**-29 ULP of a format of at most 24 bits, so only
            # wider targets need it (the binade, which lo can decide, is ulp_scale's business)
            np.subtract(diff, ref.softmax_lo, out=diff)
        np.abs(diff, out=diff)
        if tiny is not None:
            diff[idx] = np.ldexp(ds, -TINY_SCALE)
        np.ldexp(diff, k, out=ulp)
        if tiny is not None:
            ulp[idx] = ulp_tiny
        np.divide(diff, ref.softmax_hi, out=rel)  # softmax references are >= 0
        if ref.has_zero:
            zero = ref.softmax_hi == 0
            exact_zero = zero & (x64 == -np.inf)  # exp(-inf) = 0 exactly: 0/0 counts as 0
            small = zero & ~exact_zero
            rel[exact_zero & (diff == 0)] = 0.0
            rel[small] = np.where(diff[small] == 0, 1.0, np.inf)
        if tiny is not None:
            rel[idx] = rel_tiny
    return diff, ulp, rel


def softmax_errors(value, ref: RowReference, x64, k, ws: Workspace, fmt: FloatFormat, v64=None):
    """(worst abs, worst rel, worst ULP) of one softmax row, NaN when any element is NaN
    (as issue 2's ``_worst``)."""
    import numpy as np

    diff, ulp, rel = element_errors(value, ref, x64, k, ws, fmt, v64)
    return float(np.max(diff)), float(np.max(rel)), float(np.max(ulp))


def widened(value, ws: Workspace):
    """``value`` as float64 (exact), in a reused buffer unless it is float64 already."""
    import numpy as np

    if value.dtype == np.float64:
        return value
    v = ws.get("k_v64", np.float64, value.size)
    np.copyto(v, value)
    return v


def output_sum(value, ws: Workspace, v64=None) -> float:
    """Σ of the computed outputs: exact-high-part sum (fastref), within 2**-52 relative."""
    import mpmath
    import numpy as np

    from smoothcli.reference.fast import _G64, _split_sum

    v = widened(value, ws) if v64 is None else v64
    top = float(v.max())  # NaN propagates; softmax outputs t / s are never negative
    if not math.isfinite(top):
        return float(np.sum(v))
    if value.dtype == np.float16 and value.size <= 1 << 28 and top <= 1:
        # float16 values are multiples of 2**-24: any order of float64 additions of at most
        # 2**28 of them in [0, 1] is exact (the sum needs at most 28 + 24 bits)
        return float(np.sum(v))
    if top > 1:  # the high-part grid assumes |v| <= 1
        return math.fsum(v.tolist())
    H, L = _split_sum(v, _G64, ws, "k_sum")
    return float(mpmath.fadd(H, L, exact=True))


# --- the row loop ------------------------------------------------------------------------------

@dataclass
class _Group:
    """Target dtypes whose rounded inputs are identical in this row: they share a reference."""

    x64: Any
    formats: list


#: Worker threads for large batches: numpy releases the GIL inside its loops, so two rows are
#: evaluated at once on a 2-core machine.  mpmath is not thread-safe (its precision is global):
#: every mpmath step runs under fastref.MP_LOCK.
THREADS = 2
#: Rows shorter than this run on one thread (per-row Python overhead dominates there).
THREAD_MIN_N = 1 << 14


def run(kind: str, batch: Batch, settings: Settings, show_rows: bool = False,
        progress: bool | None = None, threads: int | None = None) -> Report:
    """Evaluate every row of ``batch`` for ``kind`` (lse, softmax, bounds, underflow)."""
    from smoothcli.core.errors import InputError

    if getattr(settings, "peers", None):
        raise InputError("--peer is not supported for batches (2-D or long input)")
    softmax = kind == "softmax"
    fmts, methods = settings.dtypes, settings.methods
    R, n = batch.rows, batch.n
    stats = {(f.name, mth): _Stats(R, softmax, kind == "bounds") for f in fmts for mth in methods}
    parallel = threads != 1 and THREADS > 1 and (os.cpu_count() or 1) > 1 and n >= THREAD_MIN_N
    if threads is None:
        threads = THREADS if (R > 1 and parallel) else 1
    workers = [_RowWorker(kind, batch, settings, stats) for _ in range(max(1, threads))]
    if R == 1 and parallel:
        workers[0].split_groups = True  # one long row: its dtype groups in parallel
    with _progress(R, R * n, progress) as advance:
        if len(workers) == 1:
            for i in range(R):
                workers[0].row(i)
                advance(1)
        else:
            import threading

            errors: list[BaseException] = []

            def work(w: _RowWorker, rows: range) -> None:
                try:
                    for i in rows:
                        if errors:
                            return
                        w.row(i)
                        advance(1)
                except BaseException as e:  # re-raised in the main thread
                    errors.append(e)

            pool = [threading.Thread(target=work, args=(w, range(k, R, len(workers))),
                                     daemon=True) for k, w in enumerate(workers)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            if errors:
                raise errors[0]
    ref_kinds: dict = {f.name: {} for f in fmts}
    changed = {f.name: 0 for f in fmts}
    for w in workers:
        for name, kinds in w.ref_kinds.items():
            for label, count in kinds.items():
                ref_kinds[name][label] = ref_kinds[name].get(label, 0) + count
        for name, count in w.changed.items():
            changed[name] += count
    argmax = None
    if softmax:
        argmax = {f.name: [None] * R for f in fmts}
        for w in workers:
            for (name, i), a in w.argmax.items():
                argmax[name][i] = a
    rows = [_summary(kind, f, mth, stats[(f.name, mth)], settings.accumulation)
            for f in fmts for mth in methods]
    return _report(kind, batch, settings, rows, stats, ref_kinds, argmax, changed, show_rows)


class _RowWorker:
    """Evaluates whole rows with its own buffers; results go to row i of the shared stats."""

    def __init__(self, kind: str, batch: Batch, settings: Settings, stats: dict):
        self.kind, self.batch, self.settings, self.stats = kind, batch, settings, stats
        self.ws = Workspace()
        self.ref_kinds: dict = {f.name: {} for f in settings.dtypes}
        self.changed = {f.name: 0 for f in settings.dtypes}
        self.argmax: dict = {}
        stored = _stored_format(batch)
        # formats that hold every stored value exactly get the stored values unchanged
        self.exact = {f.name: stored is not None and _holds(f, stored) for f in settings.dtypes}
        self.split_groups = False  # set by run() for a single long row
        self.group_ws: list[Workspace] = []
        import threading

        self.lock = threading.Lock()

    def row(self, i: int) -> None:
        import numpy as np

        ws, batch, n = self.ws, self.batch, self.batch.n
        softmax = self.kind == "softmax"
        raw64 = ws.get("raw64", np.float64, n)
        np.copyto(raw64, batch.data[i])
        groups: list[_Group] = []
        exact_group: _Group | None = None
        xs, x64s, tops, overflowed = {}, {}, {}, {}
        for f in self.settings.dtypes:
            x = batch.rounded(i, f, out=ws.get("x_" + f.name, f.np, n))
            xs[f.name] = x
            if self.exact[f.name]:
                x64 = raw64  # exact widening of the stored values: nothing changed
                tops[f.name] = None
                overflowed[f.name] = False
                if exact_group is None:
                    exact_group = _Group(raw64, [])
                    groups.append(exact_group)
                exact_group.formats.append(f)
            else:
                x64 = ws.get("x64_" + f.name, np.float64, n)
                np.copyto(x64, x)
                self.changed[f.name] += _count_changed(x64, raw64)
                overflowed[f.name] = inputs_overflowed(x64, raw64)
                for g in groups:
                    if _same(g.x64, x64):
                        g.formats.append(f)
                        break
                else:
                    groups.append(_Group(x64, [f]))
            x64s[f.name] = x64
        if self.split_groups and len(groups) > 1:
            # one long row: its groups (e.g. float16 | float32 + float64) on threads of their own
            import threading

            while len(self.group_ws) < len(groups):
                self.group_ws.append(Workspace())
            errors: list[BaseException] = []

            def work(g: _Group, w: Workspace) -> None:
                try:
                    self._group(i, g, w, xs, x64s, overflowed)
                except BaseException as e:  # re-raised below
                    errors.append(e)

            pool = [threading.Thread(target=work, args=(g, w), daemon=True)
                    for g, w in zip(groups, self.group_ws)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            if errors:
                raise errors[0]
        else:
            for g in groups:
                self._group(i, g, ws, xs, x64s, overflowed)

    def _group(self, i: int, g: "_Group", ws: Workspace, xs, x64s, overflowed) -> None:
        """The reference for one group of dtypes sharing inputs, then each dtype's methods."""
        import numpy as np

        softmax = self.kind == "softmax"
        ref = row_reference(g.x64, g.formats, softmax, ws)
        for f in g.formats:
            label = ref.kind + (" (mpmath LSE)" if ref.lse_mpmath and
                                ref.kind.startswith("fast") else "")
            if softmax and ref.mpmath_elements and ref.kind != "mpmath":
                label += " (+mpmath elements)"
            with self.lock:
                kinds = self.ref_kinds[f.name]
                kinds[label] = kinds.get(label, 0) + 1
            x64 = x64s[f.name]
            _evaluate_row(self.kind, i, xs[f.name], x64, f, self.settings.methods,
                          self.settings.accumulation, ref, self.stats, ws, overflowed[f.name])
            if softmax:
                nan_in = np.isnan(x64.max())
                self.argmax[(f.name, i)] = None if nan_in else int(np.argmax(x64))


def _stored_format(batch: Batch):
    from smoothcli.core.formats import FORMATS

    return FORMATS.get(batch.stored) if batch.kind == "npy" else None


def _holds(fmt: FloatFormat, stored: FloatFormat) -> bool:
    """Every value of ``stored`` is a value of ``fmt`` (float16 ⊂ float32 ⊂ float64)."""
    return (fmt.name == stored.name or (
        fmt.precision >= stored.precision and fmt.emin <= stored.emin and
        fmt.emax >= stored.emax and fmt.has_inf >= stored.has_inf))


def _count_changed(x64, raw64) -> int:
    import numpy as np

    k = int(np.count_nonzero(x64 != raw64))
    if k and np.isnan(raw64.max()):  # NaN != NaN: a NaN that stayed NaN did not change
        k -= int(np.count_nonzero(np.isnan(x64) & np.isnan(raw64)))
    return k


def _same(a, b) -> bool:
    """Exact equality of two float64 rows (NaN equal to NaN), with a cheap early exit."""
    import numpy as np

    head = min(a.size, 64)
    if not np.array_equal(a[:head], b[:head], equal_nan=True):
        return False
    return bool(np.array_equal(a, b, equal_nan=True))


def _evaluate_row(kind, i, x, x64, fmt: FloatFormat, methods, acc, ref: RowReference, stats, ws,
                  overflowed: bool = False):
    import mpmath
    import numpy as np

    from smoothcli.reference.fast import MP_LOCK
    from smoothcli.measure.errors import errors

    softmax = kind == "softmax"
    facts = input_facts(x, x64)
    xmax = x64.max()
    ref_is_nan = ref.nan if not softmax else bool(np.isnan(ref.softmax_hi.max()))
    ref_finite = bool(mpmath.isfinite(ref.lse)) if not softmax else not ref_is_nan
    k = ulp_scale(ref, fmt, ws, fmt.name) if softmax else None
    if kind == "bounds":
        with MP_LOCK:
            top, hi_bound = _bounds_for_row(x64, fmt)
    for mth in methods:
        st = stats[(fmt.name, mth)]
        value, terms, s = evaluate(kind, mth, x, acc, ws, fmt.name, xmax)
        ov, un, nan, flushed = flags(facts, terms, s, value, ref_is_nan, ref_finite, fmt, ws)
        st.overflow[i], st.underflow[i], st.nan[i], st.flushed[i] = ov or overflowed, un, nan, \
            flushed
        st.sumexp[i] = float(s)
        if softmax:
            v64 = widened(value, ws)
            st.output_sum[i] = output_sum(value, ws, v64)
            a, r, u = softmax_errors(value, ref, x64, k, ws, fmt, v64)
            st.sum_error[i] = abs(st.output_sum[i] - 1.0)
        else:
            v = float(value)
            with MP_LOCK:
                err = errors(v, ref.lse, fmt)
            a, r, u = err.abs_error, err.rel_error, err.ulp_error
            st.value[i] = v
            st.reference[i] = float(ref.lse)
            st.ref_mpf[i] = ref.lse
            st.ref_bound[i] = ref.lse_bound
            if kind == "bounds":
                st.inside[i] = bool(top <= v <= hi_bound)
        st.abs[i], st.rel[i], st.ulp[i] = a, r, u


def _bounds_for_row(x64, fmt: FloatFormat):
    """max and max + log n rounded to the dtype (as smoothcli.commands.bounds does)."""
    import mpmath

    from smoothcli.core.errors import InputError
    from smoothcli.reference.exact import converge, exact_fraction, to_mpf
    from smoothcli.core.rounding import round_fraction

    top = float(x64.max())
    if not math.isfinite(top) or not math.isfinite(float(x64.min())):
        raise InputError(f"bounds needs finite values; a row holds inf or nan in {fmt.name}")
    upper = converge(lambda: to_mpf(top) + mpmath.log(x64.size))
    return top, round_fraction(exact_fraction(upper), fmt)


def _summary(kind: str, fmt: FloatFormat, method: str, st: _Stats, acc: Accumulation
             ) -> BatchEvaluation:
    import numpy as np

    R = st.ulp.size
    ulp = np.where(st.nan, np.nan, st.ulp)
    finite_rows = ~np.isnan(ulp)
    if finite_rows.any():
        worst_row = int(np.nanargmax(ulp))
        worst = float(ulp[worst_row])
        median = float(np.nanmedian(ulp))
        worst_abs = float(np.nanmax(np.where(st.nan, np.nan, st.abs)))
        worst_rel = float(np.nanmax(np.where(st.nan, np.nan, st.rel)))
    else:
        worst_row = None
        worst = median = worst_abs = worst_rel = math.nan
    per_row: dict[str, list] = {
        "ulp_error": st.ulp.tolist(), "abs_error": st.abs.tolist(), "rel_error": st.rel.tolist(),
        "overflow": st.overflow.tolist(), "underflow": st.underflow.tolist(),
        "nan": st.nan.tolist(), "flushed_terms": st.flushed.tolist(),
        "sumexp": st.sumexp.tolist()}
    if st.softmax:
        per_row["output_sum"] = st.output_sum.tolist()
        per_row["sum_error"] = st.sum_error.tolist()
    if st.inside is not None:
        per_row["inside"] = st.inside.tolist()
    softmax = kind == "softmax"
    return BatchEvaluation(
        dtype=fmt.name, method=method,
        value=None if softmax else st.value.tolist(),
        reference=None if softmax else st.reference.tolist(),
        abs_error=worst_abs, rel_error=worst_rel, ulp_error=worst,
        overflow=bool(st.overflow.any()), underflow=bool(st.underflow.any()),
        nan=bool(st.nan.any()), flushed_terms=int(st.flushed.sum()),
        accumulation=acc.describe(fmt.name), rows_evaluated=R,
        overflow_rows=int(st.overflow.sum()), underflow_rows=int(st.underflow.sum()),
        nan_rows=int(st.nan.sum()), median_ulp_error=median, worst_row=worst_row,
        outside_rows=None if st.inside is None else int((~st.inside).sum()), per_row=per_row)


# --- the report ---------------------------------------------------------------------------------

def bounded_text(value: Any, bound: Any, digits: int = 17) -> str:
    """``value`` to at most ``digits`` significant digits, only as many as the error bound
    guarantees (both ends of [value - bound, value + bound] round to the same text)."""
    import mpmath

    from smoothcli.reference.exact import decimal_text

    if value is None:
        return "—"
    if not mpmath.isfinite(value) or bound == 0:
        return decimal_text(value, digits)
    for d in range(digits, 0, -1):
        text = decimal_text(value, d)
        if decimal_text(value - bound, d) == text == decimal_text(value + bound, d):
            return text
    return decimal_text(value, 1) + "?"


def _report(kind, batch: Batch, settings: Settings, rows: list[BatchEvaluation], stats,
            ref_kinds, argmax, changed, show_rows: bool) -> Report:
    softmax = kind == "softmax"
    R, n = batch.rows, batch.n
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("dtype", "dtype"), Column("method", "method"),
            Column("rows", "rows", "int"), Column("overflow_rows", "overflow", "int"),
            Column("underflow_rows", "underflow", "int"), Column("nan_rows", "NaN", "int")]
    if kind == "bounds":
        cols.append(Column("outside_rows", "outside", "int"))
    cols += [Column("ulp_error", "worst ULP", "error"),
             Column("median_ulp_error", "median ULP", "error"),
             Column("worst_row", "worst row", "int"), Column("flushed_terms", "exp→0", "int"),
             Column("flags", "flags", "flags")]
    table = [{"dtype": r.dtype, "method": r.method, "rows": r.rows_evaluated,
              "overflow_rows": r.overflow_rows, "underflow_rows": r.underflow_rows,
              "nan_rows": r.nan_rows, "outside_rows": r.outside_rows,
              "ulp_error": r.ulp_error, "median_ulp_error": r.median_ulp_error,
              "worst_row": "—" if r.worst_row is None else r.worst_row,
              "flushed_terms": r.flushed_terms,
              "flags": [f for f in ("overflow", "underflow", "nan") if getattr(r, f)]}
             for r in rows]
    title = f"{KINDS[kind]}: {R} row(s) of {n} — {batch.describe()}"
    sections = [Section(title, cols, table)]
    if show_rows or R == 1:
        sections.append(_per_row_section(kind, rows, stats, digits, argmax))
    notes = ["worst / median ULP: over the rows, of each row's ULP error (softmax: the row's "
             "worst element); rows with a NaN result are counted, not ranked",
             sum_caption(settings), _reference_note(ref_kinds)]
    what = (f"{batch.stored} values" if batch.kind == "npy" else
            "decimal text (compared here with its nearest float64)")
    notes.append(f"inputs: {what}, rounded once and correctly to each dtype: " + ", ".join(
        f"{k} {v} of {R * n} changed" for k, v in changed.items()))
    if R > 1 and not show_rows:
        notes.append("--rows shows every row; --json has per-row arrays")
    extra: dict[str, Any] = {
        "settings": settings.as_json(), "batch": True,
        "input": {"source": batch.source, "format": batch.kind, "stored_dtype": batch.stored,
                  "shape": list(batch.shape), "axis": batch.axis, "rows": R, "n": n},
        "reference_method": ref_kinds, "reference_bound_ulp": TAU}
    if softmax:
        extra["argmax"] = argmax
    return Report(kind, rows, sections, notes, extra)


def _reference_note(ref_kinds) -> str:
    parts = []
    for dtype, kinds in ref_kinds.items():
        parts.append(f"{dtype}: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    return ("reference per row: " + "; ".join(parts) + f" (fast = vectorised with a proven bound "
            f"≤ 1/{round(1 / TAU)} ULP of the dtype; mpmath where the bound is not enough)")


def _per_row_section(kind, rows: list[BatchEvaluation], stats, digits, argmax) -> Section:
    softmax = kind == "softmax"
    cols = [Column("row", "row", "int"), Column("dtype", "dtype"), Column("method", "method")]
    if softmax:
        cols += [Column("argmax", "argmax", "int"), Column("ulp_error", "worst ULP", "error"),
                 Column("abs_error", "worst abs", "error"),
                 Column("output_sum", "Σ out", "value"),
                 Column("sum_error", "|Σ out − 1|", "error")]
    else:
        cols += [Column("value", "LSE", "value"), Column("reference", "reference", "reference"),
                 Column("ulp_error", "ULP err", "error")]
        if kind == "bounds":
            cols.append(Column("inside", "inside", "bool"))
    cols += [Column("sumexp", "Σ exp", "value"), Column("flushed_terms", "exp→0", "int"),
             Column("flags", "flags", "flags")]
    table = []
    R = rows[0].rows_evaluated if rows else 0
    for i in range(R):
        for r in rows:
            st = stats[(r.dtype, r.method)]
            line: dict[str, Any] = {
                "row": i, "dtype": r.dtype, "method": r.method, "ulp_error": st.ulp[i],
                "sumexp": st.sumexp[i], "flushed_terms": int(st.flushed[i]),
                "flags": [f for f, arr in (("overflow", st.overflow), ("underflow", st.underflow),
                                           ("nan", st.nan)) if arr[i]],
                "_digits": digits[r.dtype]}
            if softmax:
                a = argmax[r.dtype][i]
                line.update(argmax="—" if a is None else a, abs_error=st.abs[i],
                            output_sum=st.output_sum[i], sum_error=st.sum_error[i])
            else:
                line.update(value=st.value[i],
                            reference=bounded_text(st.ref_mpf[i], st.ref_bound[i]))
                if st.inside is not None:
                    line["inside"] = bool(st.inside[i])
            table.append(line)
    return Section("row by row", cols, table)


class _progress:
    """A rich progress bar on stderr, only on a terminal and only for long runs."""

    def __init__(self, rows: int, elements: int, enabled: bool | None):
        if enabled is None:
            err = sys.stderr
            enabled = (elements >= PROGRESS_MIN_ELEMENTS and rows > 1 and hasattr(err, "isatty")
                       and err.isatty() and os.environ.get("TERM") != "dumb")
        self.enabled = enabled
        self.rows = rows
        self._progress = None

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
        return lambda k: self._progress.advance(task, k)  # type: ignore[union-attr]

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def dispatch(kind: str, data: Any, settings: Settings, show_rows: bool, small: Callable,
             unsupported: dict | None = None) -> Report:
    """A :class:`~smoothcli.engine.inputs.Batch` is evaluated here; numbers (or None) by ``small``, the
    per-element report of issue 2, called as ``small(data, settings)``."""
    from smoothcli.core.errors import InputError

    if not isinstance(data, Batch):
        return small(data, settings)
    for option, value in (unsupported or {}).items():
        if value:
            raise InputError(f"--{option} is not supported for batches (2-D or long input); "
                             f"it needs at most {_limit()} values in one row")
    return run(kind, data, settings, show_rows)


def _limit() -> int:
    from smoothcli.engine.inputs import ELEMENTWISE_LIMIT

    return ELEMENTWISE_LIMIT


run_batch = run  # the name exported by smoothcli/__init__.py

__all__ = ["run", "run_batch", "dispatch", "BatchEvaluation", "evaluate", "flags", "input_facts", "bounded_text"]
