"""``smooth metrics``: hard vs smooth accuracy / precision / recall / F1 / cross-entropy over a
batch, each smooth value computed in each dtype and measured against its exact value.

The numerics are in :mod:`smoothcli.methods.metrics`.  Inputs: ``--logits`` and ``--labels`` are either
numbers on the command line (``"2.5,-1,0.3"``; rows of a multi-class batch separated by ``;``:
``"1.1,3.4,2.5; 0.2,0.1,-1"``) or a file: ``.npy`` (loaded with ``allow_pickle=False``) or text
(``.txt`` / ``.csv``: numbers separated by commas or whitespace, one sample per line;
pipes and ``<(...)`` are read once, to the end).  Logit files
go through :func:`smoothcli.engine.inputs.load` (float data only, exact values); label files may also hold
integers or booleans (class indices, one-hot rows): the shared loader returns those arrays as
they are when asked (``int_labels``), and refuses them for logits.

Shapes: logits ``(n,)`` or ``(n, 1)`` are n binary logits (one column, e.g. ``"1;2"`` or a
model's ``(n, 1)`` output); ``(n, C)`` with C >= 2 is a multi-class batch.

JSON: one row per (dtype, k, metric[, method]) with ``dtype``, ``k``, ``metric``, ``method``,
``hard``, ``soft``, ``reference`` (null when undefined, with the reason in ``undefined``),
``abs_error``, ``rel_error``, ``ulp_error`` and the flags.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.commands._common import Settings
from smoothcli.core.errors import InputError
from smoothcli.measure.errors import errors
from smoothcli.measure.flags import pointwise_flags
from smoothcli.methods.metrics import (BINARY_METRICS, MULTICLASS_METRICS, UNDEFINED, binary_computed,
                               binary_hard, binary_reference, multiclass_computed,
                               multiclass_hard, multiclass_reference)
from smoothcli.core.numbers import Number, parse_number
from smoothcli.reference.exact import decimal_text
from smoothcli.report.family import WRAP
from smoothcli.report.model import Column, Report, Section, flag_names
from smoothcli.core.rounding import round_number

FILE_SUFFIXES = (".npy", ".txt", ".csv")
TASKS = ("auto", "binary", "multiclass")


@dataclass
class MetricRow:
    """One metric for one k in one (dtype, method): hard, smooth as computed, exact."""

    dtype: str
    k: float  # k as rounded to the dtype
    metric: str
    method: str
    task: str  # binary | multiclass
    hard: float | None  # σ → H (binary), softmax → hardmax (multi-class); None: undefined
    soft: float | None  # computed in the dtype; None when the exact value is undefined
    reference: float | None  # the exact smooth value; None when undefined
    reference_decimal: str | None
    abs_error: float | None
    rel_error: float | None
    ulp_error: float | None
    overflow: bool
    underflow: bool
    nan: bool
    undefined: str | None  # why hard / soft / reference is null, if any is

    def problems(self, max_ulp: float | None) -> list[str]:
        where = f"{self.dtype} {self.method} k={self.k:g} {self.metric}"
        out = [f"{where}: {f}" for f in ("overflow", "underflow", "nan") if getattr(self, f)]
        u = self.ulp_error
        if max_ulp is not None and u is not None and not self.nan and not math.isnan(u) \
                and u > max_ulp:
            out.append(f"{where}: {u:.3g} ULP > --max-ulp {max_ulp:g}")
        return out


# --- input -------------------------------------------------------------------------------------

@dataclass
class Grid:
    """Numbers given for --logits or --labels: shape (n,) or (n, C).

    Small inputs are exact :class:`Number` s (``numbers``, row-major); file batches keep the
    loader's :class:`smoothcli.engine.inputs.Batch` (rounded per dtype by numpy casts) or, for integer
    label files, the integer array itself (``ints``)."""

    source: str
    shape: tuple
    numbers: list[Number] | None = None
    batch: Any = None
    ints: Any = None

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))

    def rounded(self, fmt) -> Any:
        """The values rounded once, correctly, to ``fmt`` (numpy array of its dtype)."""
        import numpy as np

        if self.numbers is not None:
            vals = [round_number(x, fmt) for x in self.numbers]
            return np.array(vals, dtype=np.float64).astype(fmt.np).reshape(self.shape)
        if self.ints is not None:
            return self.ints.astype(np.float64).astype(fmt.np).reshape(self.shape)
        b = self.batch
        rows = np.empty((b.rows, b.n), dtype=fmt.np)
        for i in range(b.rows):
            b.rounded(i, fmt, rows[i])
        return rows.reshape(self.shape)

    def exact_labels(self) -> list:
        """Every value as an exact Fraction (labels), row-major."""
        import numpy as np

        if self.numbers is not None:
            out = []
            for x in self.numbers:
                if x.exact is None:
                    raise InputError(f"--labels: {x.text!r} is not a label (0/1 or a class "
                                     "index)")
                out.append(x.exact)
            return out
        if self.ints is not None:
            return [Fraction(int(v)) for v in self.ints.reshape(-1)]
        data = np.asarray(self.batch.data, dtype=np.float64).reshape(-1)
        if not np.isfinite(data).all():
            raise InputError(f"--labels: {self.source} holds inf or nan: not a label")
        return [Fraction(float(v)) for v in data]


def read_grid(spec: str | None, what: str) -> Grid:
    """``--logits`` / ``--labels``: a file path (.npy/.txt/.csv, or any existing file) or numbers
    separated by commas/whitespace, rows separated by ';'."""
    if spec is None:
        raise InputError(f"metrics needs {what} (numbers such as \"2.5,-1,0.3\", or a .npy, .txt "
                         "or .csv file)")
    text = spec.strip()
    if text.lower().endswith(FILE_SUFFIXES) or _is_input_file(text):
        return _read_file(text, what)
    rows = [r for r in text.split(";")]
    if len(rows) > 1 and not rows[-1].strip():
        rows = rows[:-1]  # "1,2,3;" : one row of a 2-D batch
    parsed = []
    for i, r in enumerate(rows):
        if "," in r and r.strip():
            # as in CSV files: an empty field is a missing value, never silently dropped
            for col, fld in enumerate(r.split(","), start=1):
                if not fld.strip():
                    where = f"row {i}, " if len(rows) > 1 else ""
                    raise InputError(f"{what}: empty field ({where}value {col}) in {spec!r}; "
                                     "write every value")
        tokens = [t for t in r.replace(",", " ").split() if t]
        if not tokens:
            raise InputError(f"{what}: empty {'row' if len(rows) > 1 else 'list'} in {spec!r}"
                             + ("" if len(rows) > 1 else ": empty batch"))
        try:
            parsed.append([parse_number(t) for t in tokens])
        except InputError as e:
            raise InputError(f"{what}: {e}") from None
    if len(rows) == 1 and ";" not in text:
        return Grid(what, (len(parsed[0]),), numbers=parsed[0])
    widths = {len(r) for r in parsed}
    if len(widths) > 1:
        bad = next(i for i, r in enumerate(parsed) if len(r) != len(parsed[0]))
        raise InputError(f"{what}: ragged rows: row {bad} has {len(parsed[bad])} values, row 0 "
                         f"has {len(parsed[0])}")
    return Grid(what, (len(parsed), len(parsed[0])), numbers=[x for r in parsed for x in r])


def _is_input_file(text: str) -> bool:
    """Whether ``text`` names something to read rather than numbers: an existing file, directory,
    pipe, FIFO or device (``--logits <(...)`` is /dev/fd/63, ``--labels /dev/stdin``).  Numbers
    never contain '/', so only a bare name that exists (a file called ``1``) is ambiguous, and the
    file wins, as before."""
    if not text:
        return False
    try:
        # lexists: a dangling link or a link loop is a path too, and the loader names the problem
        return os.path.lexists(text)
    except (OSError, ValueError):  # e.g. an embedded NUL byte: not a path, so numbers
        return False


def _read_file(path: str, what: str) -> Grid:
    import numpy as np

    from smoothcli.engine.inputs import Batch, load, show_path

    source = show_path(path)
    try:
        # Opened and read once: a pipe (<(...)) cannot be peeked at and then read again.
        got = load(path, int_labels=what == "--labels")
    except InputError as e:
        raise InputError(f"{what}: {e}") from None
    if isinstance(got, np.ndarray):  # integer / boolean labels from a .npy file
        return Grid(source, tuple(int(s) for s in got.shape), ints=_check_int_labels(got, source))
    if isinstance(got, Batch):
        shape = tuple(got.shape) if len(got.shape) == 1 else (got.rows, got.n)
        return Grid(source, shape, batch=got)
    return Grid(source, (len(got),), numbers=list(got))


def _check_int_labels(arr, source: str):
    """An integer / boolean .npy of labels (never unpickled: the loader refuses object arrays)."""
    import numpy as np

    if arr.ndim not in (1, 2):
        raise InputError(f"--labels: {source} is a {arr.ndim}-D array {arr.shape}; give a vector "
                         "of labels or n one-hot rows")
    if arr.size == 0:
        raise InputError(f"--labels: {source} is empty: empty batch")
    return np.asarray(arr).astype(np.int64)


# --- validation --------------------------------------------------------------------------------

def _task(logits: Grid, task: str) -> str:
    key = task.strip().lower()
    if key not in TASKS:
        raise InputError(f"unknown --task {task!r} (choose from {', '.join(TASKS)})")
    two_d = len(logits.shape) == 2 and logits.shape[1] > 1
    if key == "auto":
        return "multiclass" if two_d else "binary"
    if key == "binary" and two_d:
        raise InputError(f"--task binary needs one logit per sample; --logits has shape "
                         f"{_shape(logits.shape)} (use --task multiclass)")
    return key


def _shape(shape: tuple) -> str:
    return "×".join(str(s) for s in shape)


def _binary_labels(labels: Grid, n: int) -> list[int]:
    if len(labels.shape) == 2 and labels.shape[1] != 1:
        raise InputError(f"--labels: binary labels are one 0/1 per sample; got shape "
                         f"{_shape(labels.shape)}")
    vals = labels.exact_labels()
    if len(vals) != n:
        raise InputError(f"--labels has {len(vals)} value(s) but --logits has {n}: lengths must "
                         "match")
    out = []
    for i, v in enumerate(vals):
        if v not in (0, 1):
            raise InputError(f"--labels: label {i} is {_frac(v)}: binary labels must be 0 or 1")
        out.append(int(v))
    return out


def _class_labels(labels: Grid, n: int, classes: int) -> list[int]:
    vals = labels.exact_labels()
    one_hot = (len(labels.shape) == 2 and labels.shape[1] == classes and classes > 1) or (
        n == 1 and len(labels.shape) == 1 and labels.shape[0] == classes and classes > 1)
    if one_hot:
        if len(vals) != n * classes:
            raise InputError(f"--labels has {len(vals) // classes} one-hot row(s) but --logits "
                             f"has {n}: lengths must match")
        out = []
        for i in range(n):
            row = vals[i * classes:(i + 1) * classes]
            if any(v not in (0, 1) for v in row) or sum(row) != 1:
                shown = ", ".join(_frac(v) for v in row)
                raise InputError(f"--labels: one-hot row {i} is [{shown}]: it needs exactly one "
                                 f"1 and {classes - 1} zeros")
            out.append(row.index(1))
        return out
    if len(labels.shape) == 2 and labels.shape[1] != 1:
        raise InputError(f"--labels: shape {_shape(labels.shape)} fits neither class indices "
                         f"({n}) nor one-hot rows ({n}×{classes})")
    if len(vals) != n:
        raise InputError(f"--labels has {len(vals)} value(s) but --logits has {n} sample(s): "
                         "lengths must match")
    out = []
    for i, v in enumerate(vals):
        if v.denominator != 1 or not 0 <= v < classes:
            raise InputError(f"--labels: label {i} is {_frac(v)}: class indices are integers "
                             f"0 … {classes - 1} (0-based)")
        out.append(int(v))
    return out


def _frac(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else repr(float(v))


# --- the report --------------------------------------------------------------------------------

#: The most logits ``smooth metrics`` accepts: its mpmath reference costs ~0.1 ms per logit and
#: dtype (100,000 binary samples in three dtypes: ~26 s), so 2**20 is about 5 minutes a dtype.
MAX_LOGITS = 1 << 20

def metrics_report(logits: Grid, labels: Grid, ks: Sequence[Number], settings: Settings,
                   task: str = "auto", full: bool = False) -> Report:
    """Every metric for every k and (dtype, method) of ``settings``; ``full``: every column
    instead of the compact view."""
    import numpy as np

    if logits.size == 0:
        raise InputError("--logits: empty batch")
    if logits.size > MAX_LOGITS:
        raise InputError(f"--logits: {logits.size:,} logits are more than the {MAX_LOGITS:,} "
                         "smooth metrics evaluates (its exact reference is computed sample by "
                         "sample, about 0.1 ms each per dtype); evaluate a sample of the batch")
    kind = _task(logits, task)
    if kind == "binary":
        if len(logits.shape) == 2:  # (n, 1): one logit per sample, as a column
            logits = Grid(logits.source, (logits.size,), logits.numbers, logits.batch,
                          logits.ints)
        n, classes = logits.size, 2
        y = _binary_labels(labels, n)
    else:
        if len(logits.shape) == 1:  # --task multiclass with one row: one sample
            logits = Grid(logits.source, (1, logits.shape[0]), logits.numbers, logits.batch,
                          logits.ints)
        n, classes = logits.shape
        if classes < 2:
            raise InputError("--task multiclass needs at least 2 logits per sample")
        y = _class_labels(labels, n, classes)
    rows: list[MetricRow] = []
    cache: dict[tuple, Any] = {}
    names = BINARY_METRICS if kind == "binary" else MULTICLASS_METRICS
    for fmt in settings.dtypes:
        x = logits.rounded(fmt)
        xs = x.astype(np.float64)
        if not np.isfinite(xs).all():
            i = int(np.flatnonzero(~np.isfinite(xs.reshape(-1)))[0])
            bad = float(xs.reshape(-1)[i])  # a Python float: 'inf', not 'np.float64(inf)'
            raise InputError(f"--logits: value {i} is {bad!r} in {fmt.name}: "
                             "logits must be finite (and within the dtype's range)")
        flat = xs.reshape(-1).tolist()
        hard = binary_hard(flat, y) if kind == "binary" else multiclass_hard(xs.tolist(), y)
        t = np.array(y, dtype=np.float64).astype(fmt.np)
        for kn in ks:
            kd = round_number(kn, fmt)
            if kd == 0 or not math.isfinite(kd):
                raise InputError(f"--k {kn.text} is {kd!r} in {fmt.name}: k must stay finite "
                                 "and > 0 there")
            key = (kind, kd, tuple(flat), tuple(y))
            if key not in cache:
                cache[key] = (binary_reference(flat, y, kd) if kind == "binary" else
                              multiclass_reference(xs.tolist(), y, kd))
            ref = cache[key]
            k = fmt.np.type(kd)
            for method in settings.methods:
                if kind == "binary":
                    got = binary_computed(x, t, k, method, settings.accumulation, fmt.has_inf)
                else:
                    got = multiclass_computed(x, y, k, method, settings.accumulation,
                                              fmt.has_inf)
                for name in names:
                    rows.append(_row(fmt, kd, name, method, kind, hard[name], got[name],
                                     ref[name]))
    positives = sum(y) if kind == "binary" else None
    notes = _notes(kind, settings, rows, positives)
    report = Report("metrics", rows, (_sections if full else _compact_sections)(
                        rows, settings, names),
                    notes,
                    {"settings": settings.as_json(), "task": kind, "n": n,
                     "classes": classes, "positives": positives,
                     "k": [float(k.exact) for k in ks],
                     "logits": logits.source, "labels": labels.source})
    report.wrap = None if full else WRAP
    return report


def _row(fmt, kd: float, name: str, method: str, kind: str, hard: Any, got: Any,
         ref: Any) -> MetricRow:
    reasons = []
    if ref is None:
        reasons.append(UNDEFINED.get(name, "undefined"))
    elif hard is None:
        reasons.append("hard: " + {"precision": "no sample predicted positive, Σ H(s) = 0",
                                   "f1": "Σt + Σ H(s) = 0"}.get(name, "undefined"))
    if ref is None:
        return MetricRow(fmt.name, kd, name, method, kind, hard, None, None, None, None, None,
                         None, False, False, False, "; ".join(reasons) or None)
    v = got.value
    err = errors(v, ref, fmt)
    # overflow of an intermediate is passed as an infinite "step"; the flush rule and the NaN
    # rule are pointwise_flags' own.
    fl = pointwise_flags(0.0, [], [math.inf] if got.overflow else [], v, ref, fmt)
    underflow = fl.underflow or (got.zero_denominator and not fl.overflow)
    return MetricRow(fmt.name, kd, name, method, kind, hard, v, float(ref), decimal_text(ref),
                     err.abs_error, err.rel_error, err.ulp_error, fl.overflow, underflow,
                     fl.nan, "; ".join(reasons) or None)


def _sections(rows: list[MetricRow], settings: Settings, names: Sequence[str]) -> list[Section]:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    order = {m: i for i, m in enumerate(names)}
    cols = [Column("metric", "metric"), Column("k", "k", "value"), Column("dtype", "dtype"),
            Column("method", "method"), Column("hard", "hard", "text"),
            Column("soft", "smooth", "value"), Column("reference", "reference", "reference"),
            Column("abs_error", "abs err", "error"), Column("ulp_error", "ULP err", "error"),
            Column("flags", "flags", "flags"), Column("undefined", "undefined", "text")]
    table = [{"metric": r.metric, "k": r.k, "dtype": r.dtype, "method": r.method,
              "hard": "—" if r.hard is None else repr(r.hard), "soft": r.soft,
              "reference": r.reference_decimal if r.reference_decimal else "undefined",
              "abs_error": r.abs_error, "ulp_error": r.ulp_error, "flags": flag_names(r),
              "undefined": r.undefined or "", "_digits": digits.get(r.dtype, 17)}
             for r in sorted(rows, key=lambda r: (order[r.metric], r.k))]
    return [Section("hard vs smooth metrics over the batch", cols, table,
                    "— : undefined (the reason is in the last column)")]


def _compact_sections(rows: list[MetricRow], settings: Settings,
                      names: Sequence[str]) -> list[Section]:
    """The default view: per (metric, k, dtype, method) the hard value, the smooth value, its ULP
    error and flags (or "undefined"), and the exact smooth value once; the reasons below."""

    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    order = {m: i for i, m in enumerate(names)}
    cols = [Column("metric", "metric"), Column("k", "k", "value"), Column("dtype", "dtype"),
            Column("method", "method"), Column("hard", "hard", "text"),
            Column("soft", "smooth", "value"), Column("ulp_error", "ULP err", "error"),
            Column("flags", "flags", "flags"), Column("exact", "exact", "reference")]
    table = []
    reasons: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: (order[r.metric], r.k)):
        flags = flag_names(r) + (["undefined"] if r.undefined else [])
        if r.undefined:
            reasons.setdefault(r.metric, r.undefined)
        table.append({"metric": r.metric, "k": r.k, "dtype": r.dtype, "method": r.method,
                      "hard": "—" if r.hard is None else _short(r.hard),
                      "soft": r.soft, "ulp_error": r.ulp_error, "flags": flags,
                      "exact": r.reference_decimal or "—", "_digits": digits.get(r.dtype, 17),
                      "group": (r.metric, r.k)})
    exact_once(table, "group")
    title = "hard vs smooth metrics over the batch"
    if len({r.k for r in rows}) == 1:  # one k: said once in the title
        cols = [c for c in cols if c.key != "k"]
        title += f", k = {rows[0].k:g}"
    if len(settings.methods) == 1:
        cols = [c for c in cols if c.key != "method"]
        title += f", method {settings.methods[0]}"
    caption = "\n".join([f"{m}: undefined — {why}" for m, why in reasons.items()] + [
        "--full: every column (abs error, the hard value in full, why a value is undefined); "
        "--json: every field"])
    return [Section(title, cols, table, caption)]


def exact_once(table: list[dict], group: str) -> None:
    """Blank a table's ``exact`` cells that repeat the one above them for the same ``group``
    value (the compact view shows each exact value once)."""
    seen: set = set()
    for line in table:
        key = (line[group], line["exact"])
        if key in seen:
            line["exact"] = ""
        seen.add(key)


def _notes(kind: str, settings: Settings, rows: list[MetricRow], positives) -> list[str]:
    notes = []
    if kind == "binary":
        notes += [
            "binary: one logit s per sample (the negative class's logit fixed at 0); hard = the "
            "same formula with σ(s) replaced by the unit step H(s) (0, ½ at s = 0, 1)",
            "tp, fp, fn, Σσ(s) and Σt are summed over the batch before dividing: precision = "
            "Σσt/Σσ, recall = Σσt/Σt, F1 = 2Σσt/(Σt + Σσ)",
            "accuracy = mean((1 − t)(1 − σ(s)) + t·σ(s)) — the expression the seed calls "
            "AccuracyLoss; accuracy_loss = 1 − accuracy is the quantity to minimise",
            "bce = mean(softplus(s) − t·s), from logits; its hard limit is inf as soon as one "
            "sample is misclassified"]
        if positives == 0:
            notes.append("no positive labels (Σt = 0): recall is undefined; F1 = 2Σσt/(Σt + Σσ) "
                         "is still defined (= 0) since Σσ(s) > 0")
    else:
        notes += [
            "multi-class: hard accuracy = mean(hardmax(x)·onehot(y)), a tie split evenly between "
            "the tied classes (the k → ∞ limit of softmax(kx)); smooth accuracy = "
            "mean(softmax(x)_y); accuracy_loss = 1 − accuracy; cross_entropy = mean(LSE(x) − x_y)",
            "precision / recall / F1 are binary only (the seed: with several positive classes "
            "they do not vectorise)"]
    if "stable" in settings.methods:
        notes.append("stable: 1 − σ(s) as σ(−s), accuracy_loss summed directly, bce with "
                     "max(s, 0) + log1p(e^(−|s|)), softmax shifted, cross-entropy "
                     "(m − x_y) + log1p(Σ_{j≠argmax} e^(x_j − m))")
    if "naive" in settings.methods:
        notes.append("naive: σ(s) = 1/(1 + e^(−s)), 1 − σ(s) by subtraction, logs of σ and "
                     "1 − σ as written, exp(x)/Σ exp(x), log Σ exp(x) − x_y, 1 − accuracy")
    notes.append("logits are multiplied by k in the dtype (k·s rounded, as a user's code "
                 "would); the reference is exact for the dtype's rounded logits and k")
    acc = settings.accumulation
    how = ("left to right, every partial sum rounded" if acc.order == "sequential" else
           "numpy's np.sum (pairwise)")
    where = (f"in {acc.acc} when that is wider than the row's dtype (--acc)"
             if getattr(acc, "acc", None) else "in the row's dtype")
    notes.append(f"every Σ over the batch: --sum {acc.order}, {how}, {where}; the mean divides "
                 "by n in the dtype of the sum (a strict float16 sum of values ≤ 1 stalls at "
                 "2048: use --sum pairwise or --acc float32 for large batches)")
    return notes


def _short(v: float) -> str:
    """A hard metric to 6 significant digits, marked as a float (the compact view)."""
    text = format(v, ".6g")
    return text + ".0" if text.lstrip("-").isdigit() else text
