"""Every action id, callback id and block id the app sends to Slack and expects back, in one place."""

COMMAND = "/maintenance"

# Buttons on the proposal message; the button value is the proposal id.
APPROVE = "chatops_approve"
POSTPONE = "chatops_postpone"
REJECT = "chatops_reject"
CANCEL = "chatops_cancel"
DECISION_ACTIONS = (APPROVE, POSTPONE, REJECT, CANCEL)
# On an approved change's message: the work is finished, or needs more time.
DONE = "chatops_done"
EXTEND = "chatops_extend"
ACTIONS_BLOCK = "chatops_decisions"
# An emergency's follow-up review (on its parent message and in its thread); the value is the proposal id.
MARK_REVIEWED = "chatops_mark_reviewed"
REVIEW_BLOCK = "chatops_review"

# Modals (callback ids); private_metadata holds {"proposal": id, "version": n} or the proposer's defaults.
PROPOSE_VIEW = "chatops_propose_view"
REJECT_VIEW = "chatops_reject_view"
POSTPONE_VIEW = "chatops_postpone_view"
CANCEL_VIEW = "chatops_cancel_view"
APPROVE_VIEW = "chatops_approve_view"  # approving a flagged window: confirm, with a justification
EXTEND_VIEW = "chatops_extend_view"  # how much longer an approved window needs

# Input blocks and their elements (block id == action id, to keep state lookups simple).
TITLE = "title"
START = "start"
DURATION = "duration"
ZONE = "zone"
DESCRIPTION = "description"
ROLLBACK = "rollback"
TICKET = "ticket"
SERVICES = "services"
REASON = "reason"
JUSTIFICATION = "justification"
EXTRA = "extra"
