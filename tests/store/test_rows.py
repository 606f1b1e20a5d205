"""The row types the store hands out: a proposal's evaluation kept as stored, read when asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from slackfake.app_setup import regions_file

from chatops.config import load_regions
from chatops.domain import Window, evaluate
from chatops.domain.policy import Status
from chatops.domain.records import EvaluationSnapshot
from chatops.service import Assessment
from chatops.store import ProposalRow, canonical_json

EVALUATION = {"regions": [{"id": "ir", "flagged": True}], "window": {"start": "2026-01-01T00:00:00+00:00"}}


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7,
        "idempotency_key": None,
        "title": "Core network upgrade",
        "description": "",
        "rollback_plan": "",
        "ticket_url": "",
        "proposer": "U0PROPOSER",
        "channel": "C0CHANGES",
        "input_tz": "Asia/Tehran",
        "start_ts": 1_700_000_000,
        "end_ts": 1_700_003_600,
        "status": Status.PENDING,
        "flagged": True,
        "approvals_required": 1,
        "round": 1,
        "version": 1,
        "message_ts": None,
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_000,
    }
    return {**base, **overrides}


def test_a_row_built_from_a_dict_equals_the_row_read_from_its_stored_json() -> None:
    given = ProposalRow(**fields(evaluation=EVALUATION))
    stored = ProposalRow(**fields(evaluation_json=canonical_json(EVALUATION)))
    assert given == stored
    assert given.evaluation_json == canonical_json(EVALUATION)
    assert stored.evaluation == EVALUATION
    assert stored == given  # asking for the evaluation does not change what the row equals


def test_the_evaluation_is_read_when_first_asked_for_and_must_be_an_object() -> None:
    row = ProposalRow(**fields(evaluation_json="[1, 2]"))  # built without reading it
    with pytest.raises(ValueError, match="not an object"):
        _ = row.evaluation
    assert ProposalRow(**fields(evaluation_json="{}")).evaluation == {}


def test_a_row_takes_its_evaluation_once() -> None:
    with pytest.raises(ValidationError, match="not both"):
        ProposalRow(**fields(evaluation=EVALUATION, evaluation_json="{}"))
    with pytest.raises(ValidationError, match="evaluation_json"):
        ProposalRow(**fields())


def test_the_rows_repr_leaves_the_stored_json_out() -> None:
    assert "evaluation_json" not in repr(ProposalRow(**fields(evaluation=EVALUATION)))


def test_flagged_region_ids_are_the_typed_snapshots_without_validating_it(tmp_path: Path) -> None:
    """An approval records the flagged regions' ids read straight from the stored document: the same ids, in the
    same order, as the typed snapshot gives, for windows flagged and not."""
    today = date(2026, 6, 1)
    config = load_regions(regions_file(tmp_path / "regions.toml", today=today))
    seen: set[tuple[str, ...]] = set()
    for hour in range(0, 24, 3):
        window = Window.of(datetime(2026, 6, 2, hour, 30, tzinfo=UTC), timedelta(hours=2))
        document = Assessment(evaluation=evaluate(window, regions=config.regions), choices=()).document()
        # Flagged as the service stores it: the snapshot's own.
        row = ProposalRow(**fields(evaluation=document, flagged=document["flagged"]))
        assert row.flagged_region_ids == EvaluationSnapshot.model_validate(document).flagged_ids
        seen.add(row.flagged_region_ids)
    assert () in seen and ("ir",) in seen  # both kinds of window were tried


def test_a_window_not_flagged_has_no_flagged_region_and_its_snapshot_is_not_read() -> None:
    row = ProposalRow(**fields(evaluation_json="not read", flagged=False))
    assert row.flagged_region_ids == ()
    assert "evaluation" not in row.__dict__  # the snapshot was never parsed (it would not parse)
    flagged = ProposalRow(**fields(evaluation=EVALUATION, flagged=True))
    assert flagged.flagged_region_ids == ("ir",)
