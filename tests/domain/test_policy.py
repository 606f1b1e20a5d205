"""Policy: which windows may be proposed, and who may do what to a proposal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatops.domain.models import Policy, Window
from chatops.domain.policy import Action, Status, check_window, may_act
from chatops.errors import WindowError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def window(start: datetime, hours: float) -> Window:
    return Window.of(start, timedelta(hours=hours))


def test_a_window_up_to_the_maximum_is_accepted() -> None:
    check_window(window(NOW, 7 * 24), policy=Policy(), at=NOW)
    check_window(window(NOW, 2), policy=Policy(max_window_days=1 / 12), at=NOW)


def test_a_window_longer_than_the_maximum_is_refused_with_both_lengths() -> None:
    with pytest.raises(WindowError) as info:
        check_window(window(NOW, 7 * 24 + 0.25), policy=Policy(), at=NOW)
    assert str(info.value) == (
        "the window lasts 7d15m, longer than the 7d allowed; split the work into shorter windows"
    )


def test_a_window_starting_before_now_is_refused_only_when_now_is_given() -> None:
    past = window(NOW - timedelta(minutes=1), 1)
    with pytest.raises(WindowError, match=r"starts in the past \(2026-06-01 11:59 UTC\)"):
        check_window(past, policy=Policy(), at=NOW)
    check_window(past, policy=Policy())  # the CLI's what-ifs and audits
    check_window(window(NOW, 1), policy=Policy(), at=NOW)  # starting right now is fine


APPROVERS = frozenset({"U_ALICE", "U_BOB"})


@pytest.mark.parametrize(
    ("action", "actor", "proposer", "status", "already", "allowed", "reason"),
    [
        (Action.APPROVE, "U_ALICE", "U_CAROL", Status.PENDING, False, True, ""),
        (Action.APPROVE, "U_ALICE", "U_ALICE", Status.PENDING, False, False, "cannot approve it yourself"),
        (Action.APPROVE, "U_EVE", "U_CAROL", Status.PENDING, False, False, "you are not an approver"),
        (Action.APPROVE, "U_ALICE", "U_CAROL", Status.PENDING, True, False, "already approved this window"),
        (Action.REJECT, "U_BOB", "U_CAROL", Status.PENDING, False, True, ""),
        (Action.REJECT, "U_EVE", "U_CAROL", Status.PENDING, False, False, "cannot reject this change"),
        (Action.REJECT, "U_ALICE", "U_ALICE", Status.PENDING, False, True, ""),
        (Action.POSTPONE, "U_CAROL", "U_CAROL", Status.PENDING, False, True, ""),
        (Action.POSTPONE, "U_BOB", "U_CAROL", Status.PENDING, False, True, ""),
        (Action.POSTPONE, "U_EVE", "U_CAROL", Status.PENDING, False, False, "cannot postpone this change"),
        (Action.CANCEL, "U_CAROL", "U_CAROL", Status.PENDING, False, True, ""),
        (Action.CANCEL, "U_ALICE", "U_CAROL", Status.PENDING, False, False, "only the proposer can cancel"),
        (Action.APPROVE, "U_ALICE", "U_CAROL", Status.APPROVED, False, False, "already approved"),
        (Action.REJECT, "U_ALICE", "U_CAROL", Status.REJECTED, False, False, "already rejected"),
        (Action.CANCEL, "U_CAROL", "U_CAROL", Status.CANCELLED, False, False, "already cancelled"),
        (Action.POSTPONE, "U_CAROL", "U_CAROL", Status.APPROVED, False, True, ""),
        (Action.CANCEL, "U_CAROL", "U_CAROL", Status.APPROVED, False, True, ""),
        (Action.REJECT, "U_ALICE", "U_CAROL", Status.APPROVED, False, True, ""),
        (Action.POSTPONE, "U_CAROL", "U_CAROL", Status.DONE, False, False, "already done"),
        (Action.DONE, "U_CAROL", "U_CAROL", Status.APPROVED, False, True, ""),
        (Action.DONE, "U_ALICE", "U_CAROL", Status.APPROVED, False, True, ""),
        (Action.DONE, "U_EVE", "U_CAROL", Status.APPROVED, False, False, "only the proposer or an approver"),
        (Action.DONE, "U_CAROL", "U_CAROL", Status.PENDING, False, False, "only an approved change"),
        (Action.EXTEND, "U_CAROL", "U_CAROL", Status.APPROVED, False, True, ""),
        (Action.EXTEND, "U_CAROL", "U_CAROL", Status.DONE, False, False, "only an approved change"),
    ],
)
def test_may_act(
    action: Action, actor: str, proposer: str, status: Status, already: bool, allowed: bool, reason: str
) -> None:
    decision = may_act(
        action, actor=actor, proposer=proposer, approvers=APPROVERS, status=status, already_approved=already
    )
    assert decision.allowed is allowed
    if allowed:
        assert decision.reason == ""
    else:
        assert reason in decision.reason


def test_only_pending_and_needs_reapproval_are_open() -> None:
    assert [s for s in Status if s.is_open] == [Status.PENDING, Status.NEEDS_REAPPROVAL]


@pytest.mark.parametrize(
    ("action", "actor", "allowed"),
    [
        (Action.APPROVE, "UA", False),
        (Action.REJECT, "UA", False),  # like Approve: a window that is over is not decided any more
        (Action.POSTPONE, "UA", True),
        (Action.CANCEL, "UP", True),
    ],
)
def test_an_ended_window_can_be_moved_or_cancelled_but_not_decided(
    action: Action, actor: str, allowed: bool
) -> None:
    decision = may_act(
        action, actor=actor, proposer="UP", approvers=frozenset({"UA"}), status=Status.PENDING, ended=True
    )
    assert decision.allowed is allowed
    if not allowed:
        assert "already ended" in decision.reason
