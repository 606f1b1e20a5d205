"""Listeners for what follows approval: the Done and Extend buttons on an approved change's message, and the
Extend modal. Done is stored before Slack is answered (a 200 means it is recorded); Extend opens its modal
right after the ack (the trigger id lasts about 3 s), and its submission is stored before the modal closes. Private
answers follow the ack, in the app's after-ack pool (``chatops.slack.later``).
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, Respond

from chatops.domain.policy import Action, Status
from chatops.domain.windows import parse_duration
from chatops.errors import ChatopsError, InputError, NotAllowedError
from chatops.service import Service
from chatops.slack import blocks, forms, ids
from chatops.slack.later import acked_then

logger = logging.getLogger(__name__)

SORRY = "Something went wrong on our side and nothing was changed; please try again in a minute."
PROBLEM = "chatops_problem"  # context key: what the acknowledging listener leaves to say after the ack


def _proposal(body: dict[str, Any]) -> int:
    actions = body.get("actions") or [{}]
    parsed = blocks.parse_button_value(actions[0].get("value") if isinstance(actions[0], dict) else None)
    if parsed is None:
        raise InputError("that button does not name a change; reload the message and try again")
    return parsed[0]


def _private(respond: Respond, problem: str) -> None:
    respond(response_type="ephemeral", replace_original=False, **blocks.error_message(problem))


def read_extra(values: dict[str, Any]) -> tuple[timedelta, str]:
    """The Extend modal: the extra time and the optional reason, or FormErrors by block."""
    raw = ((values.get(ids.EXTRA) or {}).get(ids.EXTRA) or {}).get("value") or ""
    reason = ((values.get(ids.REASON) or {}).get(ids.REASON) or {}).get("value") or ""
    try:
        extra = parse_duration(str(raw))
    except ChatopsError as exc:
        raise forms.FormErrors({ids.EXTRA: str(exc)}) from exc
    return extra, str(reason)


def register(app: App, *, service: Service, executor: Executor) -> None:
    """Done and Extend; what follows their acks runs in ``executor`` (the app's after-ack pool)."""

    def done_now(ack: Ack, body: dict[str, Any], context: BoltContext, request: BoltRequest) -> None:
        number: int | None = None
        try:
            number = _proposal(body)
            service.complete(number, actor=body["user"]["id"])
        except ChatopsError as exc:
            known = isinstance(exc, NotAllowedError) and number is not None
            row = service.store.get_proposal(number) if known and number is not None else None
            if not (
                request.headers.get("x-slack-retry-num") and row is not None and row.status is Status.DONE
            ):
                context[PROBLEM] = str(
                    exc
                )  # else Slack retried a click already recorded: nothing more to say
        except Exception:
            logger.exception("marking a change done failed")
            context[PROBLEM] = SORRY
        ack()

    def tell(context: BoltContext, respond: Respond) -> None:
        problem = context.get(PROBLEM)
        if isinstance(problem, str):
            _private(respond, problem)

    app.action(ids.DONE)(acked_then(executor, done_now, tell))

    def just_ack(ack: Ack) -> None:
        ack()

    def open_extend(body: dict[str, Any], respond: Respond, client: Any) -> None:
        try:
            row = service.check_after(_proposal(body), actor=body["user"]["id"], action=Action.EXTEND)
            client.views_open(trigger_id=body["trigger_id"], view=blocks.extend_modal(row))
        except ChatopsError as exc:
            _private(respond, str(exc))
        except Exception:
            logger.exception("opening the extend form failed")
            _private(respond, SORRY)

    app.action(ids.EXTEND)(acked_then(executor, just_ack, open_extend))

    @app.view(ids.EXTEND_VIEW)
    def on_extend_view(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            extra, reason = read_extra(view["state"]["values"])
            service.extend(
                forms.proposal_id(view),
                actor=body["user"]["id"],
                extra=extra,
                reason=reason,
                expected_version=forms.expected_version(view),
            )
        except forms.FormErrors as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except ChatopsError as exc:
            ack(response_action="errors", errors={ids.EXTRA: str(exc)})
            return
        except Exception:
            logger.exception("extending a change failed")
            ack(response_action="errors", errors={ids.EXTRA: SORRY})
            return
        ack()
