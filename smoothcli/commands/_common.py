"""What every evaluating subcommand shares: its settings, and the run of the one engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.core.formats import FloatFormat


@dataclass
class Settings:
    """Options common to the evaluating subcommands."""

    dtypes: list[FloatFormat]
    methods: list[str]
    accumulation: Accumulation = field(default_factory=Accumulation)
    peers: list[str] = field(default_factory=list)  # --peer: scipy, torch, jax (engine.peers)
    saturate: bool = False  # --saturate: inputs beyond the range round to ±max_finite

    def as_json(self) -> dict[str, Any]:
        return {"dtypes": [f.name for f in self.dtypes], "methods": list(self.methods),
                "sum": self.accumulation.order, "acc": self.accumulation.acc,
                "peers": list(self.peers), "saturate": self.saturate}


#: A single row keeps its per-element arrays for the element table up to this length (about 56
#: bytes per element per (dtype, method)); --json keeps them whatever the length.
TABLE_ELEMENTS = 100_000


def run(kind: str, data: Any, settings: Settings, *, elements: bool = True,
        transforms: Sequence[Any] = (), keep_plain: bool = True):
    """(evaluation, batch, typed reference): ``data`` (Numbers or a Batch) through the engine.

    ``elements``: keep per-element arrays of vector results for every row (``--json``); a
    single row of up to TABLE_ELEMENTS values keeps them too (its table shows elements).  The typed reference is the
    exact result for the decimals as typed, when rounding changed some (one typed row)."""
    from smoothcli.engine.evaluate import Plan, evaluate, typed_reference
    from smoothcli.engine.sources import as_batch, exact_row

    batch = as_batch(data)
    if settings.saturate:
        from dataclasses import replace

        batch = replace(batch, saturate=True)
    plan = Plan(kind, list(settings.dtypes), list(settings.methods), settings.accumulation,
                list(settings.peers), list(transforms), keep_plain,
                elements=elements or (batch.rows == 1 and batch.n <= TABLE_ELEMENTS))
    ev = evaluate(plan, batch)
    typed = None
    exact = exact_row(batch, 0)
    if exact is not None and keep_plain and any(ev.changed.values()):
        typed = typed_reference(kind, exact)
    return ev, typed
