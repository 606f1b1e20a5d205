"""Rules about windows and decisions. Each returns a value with reasons or raises a clear error; none reads a clock."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from chatops.domain.models import Policy, Window
from chatops.domain.windows import format_duration
from chatops.errors import WindowError


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    DONE = "done"
    """Approved, and its proposer (or an approver) marked the work done."""
    NEEDS_REAPPROVAL = "needs_reapproval"
    """Was approved, then became flagged (or gained flagged regions) with fewer approvals than that needs: open
    for approvals again, the earlier ones still counted."""

    @property
    def is_open(self) -> bool:
        return self in (Status.PENDING, Status.NEEDS_REAPPROVAL)


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    POSTPONE = "postpone"
    CANCEL = "cancel"
    DONE = "done"
    EXTEND = "extend"


class Decision(BaseModel):
    """Whether an actor may take an action, and why not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    reason: str = ""


def check_window(window: Window, *, policy: Policy, at: datetime | None = None) -> None:
    """Refuse a window longer than the policy allows, or (given ``at``, the present) one that starts before it."""
    if window.duration > policy.max_window:
        raise WindowError(
            f"the window lasts {format_duration(window.duration)}, longer than the "
            f"{format_duration(policy.max_window)} allowed; split the work into shorter windows"
        )
    if at is not None and window.start < at:
        raise WindowError(
            f"the window starts in the past ({window.start:%Y-%m-%d %H:%M} UTC); propose a start in the future"
        )


_DONE = {Action.APPROVE: "approved", Action.REJECT: "rejected"}


def may_act(
    action: Action,
    *,
    actor: str,
    proposer: str,
    approvers: frozenset[str],
    status: Status,
    already_approved: bool = False,
    ended: bool = False,
) -> Decision:
    """Who may do what to a proposal in ``status``.

    Approvers approve, reject and postpone; the proposer may also postpone and, alone, cancel. An approved
    change can still be postponed (it needs approval again), rejected or cancelled; the proposer or an approver
    marks it done or extends it. Nobody approves their own change or the same window twice; nobody approves or
    rejects a window that has ended.
    """
    if action in (Action.DONE, Action.EXTEND):
        if status is not Status.APPROVED:
            verb = "marked done" if action is Action.DONE else "extended"
            return Decision(
                allowed=False, reason=f"this change is {status.value}; only an approved change can be {verb}"
            )
        if actor != proposer and actor not in approvers:
            what = "mark this change done" if action is Action.DONE else "extend this change"
            return Decision(allowed=False, reason=f"only the proposer or an approver can {what}")
        return Decision(allowed=True)
    if status is Status.APPROVED and action is not Action.APPROVE:
        pass  # an approved change can still be moved, called off or revoked (its reminders go with it)
    elif not status.is_open:
        return Decision(allowed=False, reason=f"this change is already {status.value}")
    if action is Action.CANCEL:
        if actor != proposer:
            return Decision(allowed=False, reason="only the proposer can cancel this change")
        return Decision(allowed=True)
    if action is Action.POSTPONE and actor == proposer:
        return Decision(allowed=True)
    if action is Action.APPROVE and actor == proposer:
        return Decision(allowed=False, reason="you proposed this change, so you cannot approve it yourself")
    if actor not in approvers:
        return Decision(
            allowed=False, reason=f"you are not an approver, so you cannot {action.value} this change"
        )
    if action is Action.APPROVE and already_approved:
        return Decision(allowed=False, reason="you have already approved this window")
    if action in (Action.APPROVE, Action.REJECT) and ended:
        return Decision(
            allowed=False,
            reason=f"this window has already ended, so it cannot be {_DONE[action]} any more; "
            "postpone the change to a new one (or its proposer can cancel it)",
        )
    return Decision(allowed=True)
