"""The typed records: every stored event document parses to its kind's model and back to the same document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chatops.domain.policy import Status
from chatops.domain.records import (
    Approved,
    EvaluationSnapshot,
    EventKind,
    Proposed,
    WindowDoc,
    parse_payload,
    payload_data,
)

FIXTURE = Path(__file__).parents[1] / "audit" / "fixtures" / "v1_chain.jsonl"
WINDOW = WindowDoc(start="2026-12-01T06:00:00+00:00", end="2026-12-01T07:00:00+00:00")


def test_documents_written_before_the_models_parse_and_round_trip() -> None:
    for line in FIXTURE.read_text().splitlines():
        record = json.loads(line)
        payload = parse_payload(record["kind"], record["data"])
        assert payload.kind == record["kind"]
        assert (
            payload_data(payload) == record["data"]
        )  # so the stored (hashed) document is what a model gives


def test_unknown_kinds_and_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        parse_payload("commented", {"note": "x"})
    with pytest.raises(ValidationError):
        parse_payload("rejected", {"round": 1, "approvals": 0, "window": WINDOW.model_dump(), "extra": 1})


def test_the_snapshot_tolerates_fields_colleagues_add() -> None:
    snapshot = EvaluationSnapshot.model_validate(
        {
            "window": WINDOW.model_dump(),
            "flagged": True,
            "tzdata": "2025b",
            "regions": [
                {
                    "id": "ir",
                    "name": "Iran",
                    "timezone": "Asia/Tehran",
                    "local_start": "2026-12-01T09:30:00+03:30",
                    "local_end": "2026-12-01T10:30:00+03:30",
                    "sensitive": True,
                    "peak_overlap_minutes": 60,
                    "sensitive_peak_minutes": 60,
                    "flagged": True,
                    "reasons": ["election"],
                }
            ],
        }
    )
    assert snapshot.flagged_ids == ("ir",) and snapshot.tzdata == "2025b"
    later = EvaluationSnapshot.model_validate(
        {**snapshot.model_dump(), "engine": "v9"}
    )  # a field added later
    assert later.model_dump()["engine"] == "v9" and later != snapshot
    proposed = Proposed(window=WINDOW, input_tz="UTC", evaluation=snapshot, title="t")
    assert parse_payload("proposed", payload_data(proposed)) == proposed


@given(
    round_=st.integers(1, 50),
    approvals=st.integers(0, 20),
    required=st.integers(1, 20),
    flagged=st.booleans(),
    regions=st.lists(st.text(min_size=1, max_size=8), max_size=5),
    status=st.sampled_from(list(Status)),
    justification=st.none() | st.text(max_size=40),
)
def test_approved_round_trips(
    round_: int,
    approvals: int,
    required: int,
    flagged: bool,
    regions: list[str],
    status: Status,
    justification: str | None,
) -> None:
    payload = Approved(
        round=round_,
        approvals=approvals,
        required=required,
        flagged=flagged,
        window=WINDOW,
        flagged_regions=tuple(regions),
        status_after=status,
        justification=justification,
    )
    data = payload_data(payload)
    assert "kind" not in data and json.loads(json.dumps(data)) == data
    assert parse_payload(EventKind.APPROVED, data) == payload
