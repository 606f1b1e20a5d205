"""Every stored evaluation says which time-zone rules it was made under (source and IANA version)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import tzdata  # type: ignore[import-untyped]

from chatops import tzdb
from chatops.config import parse_regions
from chatops.domain.records import EvaluationSnapshot, TzdataDoc
from chatops.service import ProposalRequest, Service
from chatops.store.sql import SqlStore

NOW = datetime(2009, 6, 10, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n',
    source="test",
)


def make_service(store: SqlStore) -> Service:
    return Service(store=store, config=CONFIG, channel="C1", approvers=lambda: {"UA"}, clock=lambda: NOW)


def request() -> ProposalRequest:
    return ProposalRequest(
        idempotency_key="k1",
        proposer="UP",
        title="Core network upgrade",
        start=datetime(2009, 6, 16, 5, 0, tzinfo=UTC),
        duration=timedelta(hours=1),
        input_tz="America/Los_Angeles",
    )


def test_the_proposal_and_its_audit_event_record_the_tz_rules(store: SqlStore) -> None:
    row = make_service(store).propose(request()).proposal
    expected = {"source": "package", "version": tzdata.IANA_VERSION, "package_version": tzdata.__version__}
    assert row.evaluation["tzdata"] == expected
    proposed = store.events(row.id)[0]
    assert proposed.data["evaluation"]["tzdata"] == expected
    # The typed snapshot reads it back as a record, not a bare dict.
    assert EvaluationSnapshot.model_validate(row.evaluation).tzdata == TzdataDoc(**expected)


def test_the_rules_recorded_follow_the_rules_in_use(store: SqlStore) -> None:
    host = tzdb.use("host")
    try:
        row = make_service(store).propose(request()).proposal
    finally:
        tzdb.use("package")
    assert row.evaluation["tzdata"] == {"source": "host", "version": host.version, "path": host.path}
