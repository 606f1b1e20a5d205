"""The row types the store hands out: a proposal's evaluation kept as stored, read when asked for."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chatops.domain.policy import Status
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
