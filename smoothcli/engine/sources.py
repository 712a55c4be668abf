"""Every input as rows × n: the numbers typed, a file, standard input, a sweep's grid.

The engine (:mod:`smoothcli.engine.evaluate`) reads rows through one interface, the
:class:`~smoothcli.engine.inputs.Batch` of a file: ``rows``, ``n``, ``rounded(i, fmt)`` (row i
rounded once, correctly, to a dtype) and ``given(i)`` (row i as given, as float64: exact for
float files, the nearest double of a decimal otherwise).  A typed vector is a batch of one row
(:func:`arguments`); a sweep is a batch whose rows are its points (:class:`SweepBatch` in
:mod:`smoothcli.engine.sweep`).

Decimal rows also keep their exact values (``numbers``), so that "changed by rounding" compares
with the decimal itself (0.1 changes in float64 too) and the exact value of the inputs *as typed*
can be given beside the reference of each dtype's rounded inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.core.numbers import Number
from smoothcli.engine.inputs import Batch


def arguments(numbers: Sequence[Number], source: str = "arguments") -> Batch:
    """The numbers typed on the command line (or short decimal text) as a batch of one row."""
    import numpy as np

    values = np.array([[float(x.exact) if x.exact is not None else x.special
                        for x in numbers]], dtype=np.float64)
    for j, x in enumerate(numbers):  # float(Fraction) rounds to nearest; keep -0's sign
        if x.exact == 0 and x.negative:
            values[0, j] = -0.0
    fixes = {(0, j): x.exact for j, x in enumerate(numbers)
             if x.exact is not None and x.exact != Fraction(values[0, j])}
    return Batch(source, "arguments" if source == "arguments" else "text", "decimal",
                 (len(numbers),), -1, values, fixes, numbers=list(numbers))


def as_batch(data: Any) -> Batch:
    """A Batch as it is; a list of Numbers (typed values) as a batch of one row."""
    return data if isinstance(data, Batch) else arguments(data)


def changed_mask(batch: Batch, i: int | slice, x64: Any, given64: Any) -> Any:
    """Which elements of row i (or of the rows of a slice i, 2-D) rounding to the dtype changed
    (x64: the row in the dtype, as float64).  Decimal rows compare with their exact decimal
    values; NaN stays NaN."""
    import numpy as np

    same = (x64 == given64) | (np.isnan(x64) & np.isnan(given64))
    if batch.exact_fixes:  # decimals with no float64 value: changed in every dtype
        rows = range(i.start, i.stop) if isinstance(i, slice) else [i]
        for k, r in enumerate(rows):
            for j in fixes_in_row(batch, r):
                if isinstance(i, slice):
                    same[k, j] = False
                else:
                    same[j] = False
    return ~same


def fixes_in_row(batch: Any, i: int) -> list[int]:
    """The columns of row i whose exact value is not the float64 in ``batch.data`` (indexed
    once per batch: a sweep of 10,001 points may have that many)."""
    index = getattr(batch, "_fix_index", None)
    if index is None:
        index = {}
        for (r, j) in batch.exact_fixes:
            index.setdefault(r, []).append(j)
        try:
            batch._fix_index = index
        except AttributeError:  # a frozen object: index again next time
            pass
    return index.get(i, [])


def exact_row(batch: Batch, i: int) -> list | None:
    """Row i's exact values (Fractions; floats for inf/nan) when the row is decimal text kept
    exactly, else None (binary floats are exact as float64 already)."""
    if batch.numbers is None or i != 0:
        return None
    return [x.exact if x.exact is not None else x.special for x in batch.numbers]



@dataclass
class Dataset:
    """The inputs of ``smooth metrics``: logits (n binary logits, or n rows of C classes) and
    their labels, evaluated as one batch (the metrics are sums over all samples, so the whole
    dataset is the engine's single row).  ``logits`` rounds itself to a dtype
    (``logits.rounded(fmt)``: an array of the dtype, shape (n,) or (n, C))."""

    logits: Any
    labels: list  # 0/1 (binary) or class indices
    task: str  # binary | multiclass
    source: str = "metrics"
    kind, stored, axis = "dataset", "decimal", -1
    numbers = None
    exact_fixes: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return 1

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple:
        return tuple(self.logits.shape)
