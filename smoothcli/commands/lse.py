"""``smooth lse``: LogSumExp by each method in each dtype, against the exact value."""

from __future__ import annotations

from typing import Sequence

from smoothcli.commands._common import (Settings, evaluation_section, inputs_json,
                                        inputs_section, sum_caption)
from smoothcli.methods.registry import LSE_METHODS
from smoothcli.core.numbers import Number
from smoothcli.engine.pipeline import evaluate_lse_like, exact_values, round_inputs
from smoothcli.reference.exact import decimal_text, lse_reference
from smoothcli.report.model import Report


def lse_report(numbers: Sequence[Number], settings: Settings) -> Report:
    """Evaluate LSE(x) for every (dtype, method) of ``settings``."""
    from smoothcli.engine.pipeline import ReferenceCache

    refs = ReferenceCache(lse_reference)
    rounded = [round_inputs(numbers, fmt) for fmt in settings.dtypes]
    typed_ref = None
    if any(r.any_changed for r in rounded):
        typed_ref = lse_reference(exact_values(numbers))
    rows, peer_notes = [], []
    for fmt, inputs in zip(settings.dtypes, rounded):
        ref = refs(inputs.values)
        mine = evaluate_lse_like(inputs, fmt, LSE_METHODS, settings.methods,
                                 settings.accumulation, ref)
        if settings.peers:  # --peer scipy/torch (smoothcli.engine.peers)
            from smoothcli.engine.peers import peer_lse_rows

            extra, said = peer_lse_rows(inputs, fmt, ref, settings.peers)
            mine, peer_notes = mine + extra, peer_notes + said
        for row in mine:
            if inputs.any_changed and typed_ref is not None:
                row.reference_typed = float(typed_ref)
            rows.append(row)
    sections = [s for s in (inputs_section(numbers, rounded),) if s is not None]
    sections.append(evaluation_section(f"LSE of {len(numbers)} value(s)", rows, settings,
                                       "LSE"))
    notes = [sum_caption(settings), *peer_notes]
    if typed_ref is not None:
        notes.append(f"exact LSE of the inputs as typed: {decimal_text(typed_ref)} "
                     "(the reference column is exact for each dtype's rounded inputs)")
    return Report("lse", rows, sections, notes,
                  {"settings": settings.as_json(), "inputs": inputs_json(numbers, rounded),
                   "reference_typed": None if typed_ref is None else float(typed_ref)})
