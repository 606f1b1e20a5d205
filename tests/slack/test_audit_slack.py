"""`chatops audit verify --slack` against the stand-in: the thread replies' metadata hashes anchor the record
outside the database, so even a consistent rewrite of the database (events, approvals, status) is seen."""

from __future__ import annotations

import io

import pytest
from conftest import APPROVER_1, CHANNEL, PROPOSER, TOKEN, Server, next_week, parent_of
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn
from sqlalchemy import delete, update

from chatops.cli import main
from chatops.slack import ids
from chatops.store.schema import approvals, events, proposals
from chatops.store.sql import SqlStore


def verify_slack(server: Server) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify", "--slack", "--database-url", server.database_url], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_verify_slack_sees_a_consistent_rewrite_of_the_database(
    slack: SlackClientSim, standin: SlackStandIn, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", standin.url)
    slack.command(f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
    parent = parent_of(standin)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 1, message="proposed reply")
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 2, message="approval reply")

    code, out, err = verify_slack(server)
    assert code == 0 and not err and "Slack threads" in out, out + err

    # Remove the approval everywhere in the database, consistently: the local checks cannot tell.
    store = SqlStore.open(server.database_url, migrate=False)
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(events).where(events.c.seq == 2))
            conn.execute(delete(approvals))
            conn.execute(update(proposals).values(status="pending"))
    finally:
        store.close()
    out_local, err_local = io.StringIO(), io.StringIO()
    assert main(["audit", "verify", "--database-url", server.database_url], out=out_local, err=err_local) == 0

    code, out, _ = verify_slack(server)
    assert code == 1
    assert "CHG-1: Slack's thread tells event 2, which the database lacks" in out


def test_verify_slack_needs_a_token(server: Server) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify", "--slack", "--database-url", server.database_url], out=out, err=err)
    assert code == 2 and "SLACK_BOT_TOKEN" in err.getvalue() and err.getvalue().count("\n") == 1
