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

The metrics are evaluated by the one engine (:func:`smoothcli.engine.evaluate.evaluate` on a
:class:`~smoothcli.engine.sources.Dataset`); JSON rows are rows of the one row model, one per
(dtype, k, method, metric) with ``function`` the metric's name, ``hard`` its hard value (null
when undefined), and a status (``undefined`` when the exact metric does not exist), reason and
verified advice.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.commands._common import Settings
from smoothcli.core.errors import InputError
from smoothcli.core.numbers import Number, parse_number
from smoothcli.core.rounding import round_number
from smoothcli.report.model import Report

FILE_SUFFIXES = (".npy", ".txt", ".csv")
#: Why a hard metric has no value while its smooth form has one.
HARD_UNDEFINED = {"precision": "no sample predicted positive, Σ H(s) = 0",
                  "f1": "Σt + Σ H(s) = 0"}
TASKS = ("auto", "binary", "multiclass")


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


def _valid_array(labels: Grid, ok) -> list[int] | None:
    """The labels of a file as ints when every one passes ``ok`` (a vectorised test on a float64
    array of exact values), else None (the exact, element-by-element path names the bad one)."""
    import numpy as np

    if labels.ints is not None:
        arr = labels.ints.reshape(-1).astype(np.float64)  # exact: |label| < 2**53 checked below
        if np.abs(labels.ints).max(initial=0) >= 2**53:
            return None
    elif labels.batch is not None:
        arr = np.asarray(labels.batch.data, dtype=np.float64).reshape(-1)
    else:
        return None
    if not np.isfinite(arr).all() or not ok(arr).all():
        return None
    return arr.astype(np.int64).tolist()


def _binary_labels(labels: Grid, n: int) -> list[int]:
    if len(labels.shape) == 2 and labels.shape[1] != 1:
        raise InputError(f"--labels: binary labels are one 0/1 per sample; got shape "
                         f"{_shape(labels.shape)}")
    fast = _valid_array(labels, lambda a: (a == 0) | (a == 1))
    if fast is not None and len(fast) == n:
        return fast
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
    """Every metric for every k and (dtype, method) of ``settings``, through the one engine;
    ``full``: every column instead of the compact view."""
    from smoothcli.engine.evaluate import Plan, Transform, evaluate
    from smoothcli.engine.sources import Dataset
    from smoothcli.report.metrics import section
    from smoothcli.report.pointwise import Part, build

    if logits.size == 0:
        raise InputError("--logits: empty batch")
    if logits.size > MAX_LOGITS:
        raise InputError(f"--logits: {logits.size:,} logits are more than the {MAX_LOGITS:,} "
                         "smooth metrics evaluates; evaluate a sample of the batch")
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
    data = Dataset(logits, y, kind, f"{logits.source} / {labels.source}")
    plan = Plan("metrics", list(settings.dtypes), list(settings.methods),
                settings.accumulation, transforms=[Transform("k", k) for k in ks],
                keep_plain=False)
    ev = evaluate(plan, data)
    positives = sum(y) if kind == "binary" else None
    notes = _notes(kind, settings, positives)
    for name, why in HARD_UNDEFINED.items():
        if any(s.function == name and math.isnan(s.arrays["hard"][0]) and
               not math.isnan(s.arrays["reference"][0]) for s in ev.series):
            notes.append(f"hard {name}: undefined — {why}")
    return build("metrics", [Part(ev)], settings, notes,
                 {"task": kind, "n": n, "classes": classes, "positives": positives,
                  "k": [float(k.exact) for k in ks], "logits": logits.source,
                  "labels": labels.source,
                  "reference_method": {d: dict(c) for d, c in ev.reference_kinds.items()}},
                 full, section)


def _notes(kind: str, settings: Settings, positives) -> list[str]:
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
