"""The Bolt app: thin listeners. Each acks first (or acks with modal errors), parses, calls the service, and
answers with one Slack call built by :mod:`chatops.slack.blocks`.

Anything the thread must record goes through the service's outbox, never from here; what is said only to the
actor (errors, refusals, confirmations) is sent here, privately.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from chatops.config import Settings
from chatops.domain.policy import Action
from chatops.domain.timeline import to_ts
from chatops.domain.windows import parse_date_time
from chatops.errors import ChatopsError, InputError, WindowError
from chatops.observability import ContextThreadPoolExecutor, proposal_id
from chatops.service import ProposalRequest, Service
from chatops.slack import after, blocks, forms, home, ids
from chatops.slack.commands import Command, Verb, parse_command
from chatops.slack.directory import Directory

logger = logging.getLogger(__name__)

SORRY = "Something went wrong on our side and nothing was changed; please try again in a minute."


def web_client(settings: Settings) -> WebClient:
    """A Web API client for interactive calls: retries connection errors and one rate-limit wait."""
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )


def _private(respond: Respond, message: dict[str, Any]) -> None:
    respond(response_type="ephemeral", replace_original=False, **message)


def _guard(respond: Respond, work: Callable[[], None]) -> None:
    """Run ``work``; a ChatopsError becomes a private message, anything else is logged and apologised for."""
    try:
        work()
    except ChatopsError as exc:
        _private(respond, blocks.error_message(str(exc)))
    except Exception:
        logger.exception("a Slack request failed")
        _private(respond, blocks.error_message(SORRY))


def _button_proposal(body: dict[str, Any]) -> int:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value", ""))
    if not value.isdigit() or len(value) > 18:
        raise InputError("that button does not name a change; reload the message and try again")
    return _acting_on(int(value))


def _acting_on(number: int) -> int:
    """Put the proposal in the log context of this listener (each runs in its own copy of the context)."""
    proposal_id.set(number)
    return number


def answer_command(
    command: dict[str, Any], *, service: Service, directory: Directory, client: WebClient
) -> dict[str, Any] | None:
    """Carry out one ``/maintenance`` command; return the private answer (None when a modal was opened)."""
    user = command["user_id"]
    try:
        parsed = parse_command(command.get("text") or "")
    except InputError as exc:
        return blocks.usage_message(str(exc))
    if parsed.verb is Verb.HELP:
        return blocks.usage_message()
    if parsed.verb is Verb.LIST:
        return blocks.list_message(
            service.upcoming(), total=service.upcoming_count(), at=to_ts(service.now())
        )
    if parsed.verb in (Verb.SENSITIVE_LIST, Verb.SENSITIVE_ADD, Verb.SENSITIVE_LIFT):
        return _sensitivity(parsed, user=user, service=service)
    if parsed.verb is Verb.PROPOSE_FORM:
        view = blocks.propose_modal(tz=directory.user_tz(user), initial_start=blocks.now_grid(service.now()))
        client.views_open(trigger_id=command["trigger_id"], view=view)
        return None
    assert parsed.window is not None
    zone_name = parsed.window.zone or directory.user_tz(user)
    start = parse_date_time(parsed.window.day, parsed.window.clock, tz=zone_name)
    if parsed.verb is Verb.CHECK:
        assumed = (
            f"times read in {zone_name}"
            if parsed.window.zone
            else f"no zone given: times read in {zone_name}, your Slack time zone"
        )
        return blocks.assessment_message(
            service.check(start, parsed.window.duration).document(),
            heading=f"Check ({assumed})",
            tz=zone_name,
        )
    trigger = command.get("trigger_id")
    outcome = service.propose(
        ProposalRequest(
            # Slack sends a retried command with the same trigger id: the same proposal comes back.
            idempotency_key=f"command:{trigger}" if trigger else None,
            proposer=user,
            title=parsed.title,
            start=start,
            duration=parsed.window.duration,
            input_tz=zone_name,
        )
    )
    return blocks.confirmation_message(outcome.proposal, created=outcome.created)


def _sensitivity(parsed: Command, *, user: str, service: Service) -> dict[str, Any]:
    note = ""
    if parsed.sensitive is not None:
        a = parsed.sensitive
        period = service.declare_sensitive(
            actor=user, region_id=a.region_id, start=a.start, end=a.end, reason=a.reason
        )
        note = f"Declared #{period.id}: {a.region_id} sensitive {a.start} – {a.end}."
    elif parsed.number is not None:
        lifted = service.lift_sensitive(parsed.number, actor=user)
        note = f"Lifted #{lifted.id} ({lifted.region_id} {lifted.start_date} – {lifted.end_date})."
    return blocks.sensitive_message(*service.sensitivity_overview(), note=note)


class _ClientGiven(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when it is given a client, then warns at every
    start that the token will be unused. The client is given on purpose (base URL, retries); drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_BOLT_LOGGER = logging.getLogger("chatops.bolt")
_BOLT_LOGGER.addFilter(_ClientGiven())


def build_app(settings: Settings, service: Service, directory: Directory, *, client: WebClient) -> App:
    # The work after an ack runs in this pool, in a copy of the request's log context (its request id).
    after_ack = ContextThreadPoolExecutor(max_workers=5, thread_name_prefix="chatops-listener")
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
        logger=_BOLT_LOGGER,
        # Listeners run in the request's thread and the response leaves as soon as they return: each acks,
        # hands its work to ``after_ack`` and returns. (Bolt's default runner runs them in a pool and polls
        # for the ack every 10 ms, which put 10 ms on every ack: benchmarks/ack.py, docs/performance.md.)
        # Modal submissions ack after their work, with any errors, as before.
        process_before_response=True,
        listener_executor=after_ack,
    )

    def later(respond: Respond, work: Callable[[], None]) -> None:
        after_ack.submit(_guard, respond, work)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        logger.exception("unhandled error in a listener", exc_info=error)
        return BoltResponse(status=200, body="")

    # -- /maintenance --------------------------------------------------------------------------------------

    @app.command(ids.COMMAND)
    def on_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            message = answer_command(command, service=service, directory=directory, client=client)
            if message is not None:
                _private(respond, message)

        later(respond, work)

    # -- buttons -------------------------------------------------------------------------------------------

    @app.action(ids.APPROVE)
    def on_approve(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            actor = body["user"]["id"]
            row = service.check_may(_button_proposal(body), actor=actor, action=Action.APPROVE)
            if row.flagged:  # a flagged window is approved only with a justification, in a modal
                client.views_open(trigger_id=body["trigger_id"], view=blocks.approve_modal(row))
            else:
                service.approve(row.id, actor=actor, clear_only=True)

        later(respond, work)

    def reason_modal_opener(
        action: Action, callback_id: str, title: str, submit: str, optional: bool
    ) -> Callable[..., None]:
        def on_click(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
            ack()

            def work() -> None:
                row = service.check_may(_button_proposal(body), actor=body["user"]["id"], action=action)
                view = blocks.reason_modal(
                    row, callback_id=callback_id, title=title, submit=submit, optional=optional
                )
                client.views_open(trigger_id=body["trigger_id"], view=view)

            later(respond, work)

        return on_click

    app.action(ids.REJECT)(
        reason_modal_opener(Action.REJECT, ids.REJECT_VIEW, "Reject change", "Reject", False)
    )
    app.action(ids.CANCEL)(
        reason_modal_opener(Action.CANCEL, ids.CANCEL_VIEW, "Cancel change", "Cancel change", True)
    )

    @app.action(ids.POSTPONE)
    def on_postpone(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            row = service.check_may(_button_proposal(body), actor=body["user"]["id"], action=Action.POSTPONE)
            options = [(to_ts(s.start), to_ts(s.end)) for s in service.postpone_options(row)]
            client.views_open(trigger_id=body["trigger_id"], view=blocks.postpone_modal(row, options))

        later(respond, work)

    # -- modals --------------------------------------------------------------------------------------------

    def submit(
        ack: Ack,
        work: Callable[[], dict[str, Any] | None],
        *,
        error_block: str,
        window_block: str | None = None,
    ) -> None:
        """Run a modal's work; errors go back into the modal, next to the field they are about."""
        try:
            result = work()
        except forms.FormErrors as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except WindowError as exc:
            ack(response_action="errors", errors={window_block or error_block: str(exc)})
            return
        except ChatopsError as exc:
            ack(response_action="errors", errors={error_block: str(exc)})
            return
        except Exception:
            logger.exception("a modal submission failed")
            ack(response_action="errors", errors={error_block: SORRY})
            return
        if result is None:
            ack()
        else:
            ack(response_action="update", view=result)

    @app.view(ids.PROPOSE_VIEW)
    def on_propose_view(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> dict[str, Any]:
            form = forms.read_propose(view["state"]["values"])
            outcome = service.propose(
                ProposalRequest(
                    idempotency_key=f"view:{view['id']}",
                    proposer=body["user"]["id"],
                    title=form.title,
                    start=form.window.start,
                    duration=form.window.duration,
                    input_tz=form.zone,
                    description=form.description,
                    rollback_plan=form.rollback_plan,
                    ticket_url=form.ticket_url,
                )
            )
            return blocks.done_modal(
                blocks.confirmation_message(outcome.proposal, created=outcome.created)["text"]
            )

        submit(ack, work, error_block=ids.TITLE, window_block=ids.START)

    def reason_view(close: Callable[..., Any], *, required: bool) -> Callable[..., None]:
        """Reject and cancel: read the reason, close the change; errors go back into the modal."""

        def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
            def work() -> None:
                reason = forms.read_reason(view["state"]["values"], required=required)
                close(_acting_on(forms.proposal_id(view)), actor=body["user"]["id"], reason=reason)

            submit(ack, work, error_block=ids.REASON)

        return on_submit

    app.view(ids.REJECT_VIEW)(reason_view(service.reject, required=True))
    app.view(ids.CANCEL_VIEW)(reason_view(service.cancel, required=False))

    @app.view(ids.APPROVE_VIEW)
    def on_approve_view(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            justification = forms.read_justification(view["state"]["values"])
            service.approve(
                _acting_on(forms.proposal_id(view)),
                actor=body["user"]["id"],
                justification=justification,
                expected_round=forms.expected_round(view),
            )

        submit(ack, work, error_block=ids.JUSTIFICATION)

    @app.view(ids.POSTPONE_VIEW)
    def on_postpone_view(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            window, reason = forms.read_postpone(view["state"]["values"])
            service.postpone(
                _acting_on(forms.proposal_id(view)),
                actor=body["user"]["id"],
                start=window.start,
                duration=window.duration,
                reason=reason,
                expected_version=forms.expected_version(view),
            )

        submit(ack, work, error_block=ids.REASON, window_block=ids.START)

    home.register(app, service=service, directory=directory, client=client)
    after.register(app, service=service)
    return app
