"""The Bolt app: thin listeners. Whatever decides (a proposal, an approval, a rejection…) is committed before
Slack gets its acknowledgement; what only informs (private answers, refusals, modals to open) follows the ack in the
app's after-ack pool (``chatops.slack.later``). Modal submissions ack after their work, with any errors, back into
the modal.

Anything the thread must record goes through the service's outbox, never from here; what is said only to the
actor (errors, refusals, confirmations) is sent here, privately.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from chatops.config import Settings
from chatops.domain.policy import Action
from chatops.domain.timeline import to_ts
from chatops.domain.windows import parse_date_time
from chatops.errors import (
    ChatopsError,
    ConflictError,
    InputError,
    NotAllowedError,
    NotFoundError,
    WindowError,
)
from chatops.observability import ContextThreadPoolExecutor, proposal_id
from chatops.service import (
    EmergencyRequest,
    NeedsJustification,
    ProposalRequest,
    Seen,
    Service,
    Superseded,
)
from chatops.slack import after, blocks, forms, home, ids
from chatops.slack.commands import Command, Verb, parse_command
from chatops.slack.directory import Directory, Workspace
from chatops.slack.http import PooledWebClient
from chatops.slack.kept import install as over_kept_connections
from chatops.slack.later import acked_then

logger = logging.getLogger(__name__)

SORRY = "Something went wrong on our side and nothing was changed; please try again in a minute."
STALE_BUTTON = (
    "this message is out of date (its buttons do not say which state of the change they are for); "
    "nothing was recorded; look at the change's current message"
)
# Context keys: what the acknowledging listener leaves for what answers after the ack.
NOTE = "chatops_note"  # a private message to send
SUPERSEDED = "chatops_superseded"  # the id of a change the clicker saw in an older state
LATER = "chatops_later"  # the command is informative: carried out after the ack
JUSTIFY = "chatops_justify"  # the id of a flagged change whose Approve opens the justification modal

# Commands that change something: carried out before the ack. The others only inform, after the ack.
DECIDING = frozenset({Verb.PROPOSE, Verb.EMERGENCY, Verb.SENSITIVE_ADD, Verb.SENSITIVE_LIFT})


def web_client(settings: Settings) -> WebClient:
    """A Web API client for interactive calls: retries connection errors and one rate-limit wait. Its calls go
    over kept-alive connections (``chatops.slack.http``)."""
    return PooledWebClient(
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


# A private answer: ready, finished after the ack (a callable that reads what only informs), or none.
Answer = dict[str, Any] | Callable[[], dict[str, Any]] | None


def _finish(answer: Answer) -> dict[str, Any] | None:
    return answer() if callable(answer) else answer


def _attempt(
    work: Callable[[], Answer],
    *,
    refused: Callable[[ChatopsError], dict[str, Any] | None] | None = None,
) -> Answer:
    """Run deciding ``work`` before the ack; return the private answer to send after it (None: nothing).
    ``refused`` may turn a refusal into another answer ({}: say nothing)."""
    try:
        return work()
    except ChatopsError as exc:
        other = refused(exc) if refused is not None else None
        return other if other is not None else blocks.error_message(str(exc))
    except Exception:
        logger.exception("a Slack request failed")
        return blocks.error_message(SORRY)


def _actor(body: dict[str, Any]) -> str:
    user = body.get("user")
    actor = user.get("id") if isinstance(user, dict) else None
    if not isinstance(actor, str) or not actor:
        raise InputError("this request does not say who sent it")
    return actor


def _button(body: dict[str, Any]) -> tuple[int, Seen]:
    """The change a button names and the state (round, version) its message showed."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    value = first.get("value")
    parsed = blocks.parse_button_value(value)
    if parsed is None:
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
            raise InputError(STALE_BUTTON)  # an id alone: a message from before buttons said more
        raise InputError("that button does not name a change; reload the message and try again")
    number, round_, version = parsed
    return _acting_on(number), Seen(round=round_, version=version)


def _acting_on(number: int) -> int:
    """Put the proposal in the log context of this listener (each runs in its own copy of the context)."""
    proposal_id.set(number)
    return number


def _is_retry(request: BoltRequest) -> bool:
    return bool(request.headers.get("x-slack-retry-num"))


def answer_command(
    command: dict[str, Any], *, service: Service, directory: Directory, client: WebClient
) -> Answer:
    """Carry out one ``/maintenance`` command; return the private answer (None when a modal was opened)."""
    user = command["user_id"]
    try:
        parsed = parse_command(command.get("text") or "")
    except InputError as exc:
        return blocks.usage_message(str(exc))
    if parsed.verb is Verb.HELP:
        return blocks.usage_message()
    if parsed.verb is Verb.LIST:
        shown, total = service.upcoming_page()
        return blocks.list_message(shown, total=total, at=to_ts(service.now()))
    if parsed.verb in (Verb.SENSITIVE_LIST, Verb.SENSITIVE_ADD, Verb.SENSITIVE_LIFT):
        return _sensitivity(parsed, user=user, service=service)
    if parsed.verb is Verb.PROPOSE_FORM:
        view = blocks.propose_modal(tz=directory.user_tz(user), initial_start=blocks.now_grid(service.now()))
        client.views_open(trigger_id=command["trigger_id"], view=view)
        return None
    if parsed.verb is Verb.EMERGENCY:
        assert parsed.emergency is not None
        trigger = command.get("trigger_id")
        outcome = service.emergency(
            EmergencyRequest(
                idempotency_key=f"command:{trigger}" if trigger else None,
                proposer=user,
                title=parsed.title,
                duration=parsed.emergency.duration,
                incident_url=parsed.emergency.incident_url,
                reason=parsed.emergency.reason,
                input_tz=directory.user_tz(user),
                services=parsed.services,
            )
        )
        return blocks.confirmation_message(outcome.proposal, created=outcome.created)
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
            services=parsed.services,
        )
    )
    row, created = outcome.proposal, outcome.created
    # The open changes it overlaps only inform: looked up after the ack.
    return lambda: blocks.confirmation_message(row, created=created, conflicts=service.conflicts(row))


def decides(command: dict[str, Any]) -> bool:
    """Whether the command changes something (and so is carried out before the ack)."""
    try:
        return parse_command(command.get("text") or "").verb in DECIDING
    except InputError:
        return False


def _sensitivity(parsed: Command, *, user: str, service: Service) -> Callable[[], dict[str, Any]]:
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
    # The overview only informs: read after the ack.
    return lambda: blocks.sensitive_message(*service.sensitivity_overview(), note=note)


def _superseded_note(number: int, *, service: Service, client: WebClient) -> dict[str, Any]:
    row = service.store.get_proposal(number)
    if row is None:
        return blocks.error_message(f"there is no change #{number}; it may have been removed")
    permalink = None
    if row.message_ts:
        try:
            permalink = str(
                client.chat_getPermalink(channel=row.channel, message_ts=row.message_ts)["permalink"]
            )
        except Exception as exc:  # the note still names the channel
            logger.warning("could not get the permalink of CHG-%s (%s)", row.id, exc.__class__.__name__)
    return blocks.superseded_message(row, permalink)


class _ClientGiven(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when it is given a client, then warns at every
    start that the token will be unused. The client is given on purpose (base URL, retries); drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_BOLT_LOGGER = logging.getLogger("chatops.bolt")
_BOLT_LOGGER.addFilter(_ClientGiven())


def build_app(
    settings: Settings,
    service: Service,
    directory: Directory,
    *,
    client: WebClient,
    workspace: Workspace | None = None,
) -> App:
    # What follows an ack (chatops.slack.later) runs in this pool, in a copy of the request's log context.
    after_ack = ContextThreadPoolExecutor(max_workers=5, thread_name_prefix="chatops-listener")
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
        logger=_BOLT_LOGGER,
        # Listeners run in the request's thread and the response leaves as soon as they return: each stores
        # what decides, acks, and leaves what only informs to after the ack (chatops.slack.later). (Bolt's
        # default runner polls for the ack every 10 ms, which put 10 ms on every ack: benchmarks/ack.py,
        # docs/performance.md.)
        process_before_response=True,
        listener_executor=after_ack,
    )

    over_kept_connections(app)  # the listeners' client and respond() too

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        logger.exception("unhandled error in a listener", exc_info=error)
        return BoltResponse(status=200, body="")

    if workspace is not None:
        workspace.share_with(app)  # one auth.test for Bolt's authorization and this check

        @app.middleware
        def only_this_workspace(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
            refusal = workspace.refusal(team_id=context.team_id, enterprise_id=context.enterprise_id)
            if refusal is not None:
                logger.warning("refused a request: %s", refusal)
                return BoltResponse(status=403, body="this app is not installed in your workspace\n")
            return next()

    def tell(context: BoltContext, respond: Respond, client: WebClient) -> None:
        """After the ack: the private answer the acknowledging listener left, if any."""
        superseded = context.get(SUPERSEDED)
        note = context.get(NOTE)
        if isinstance(superseded, int):
            note = _superseded_note(superseded, service=service, client=client)
        try:
            message = _finish(note)
            if message:
                _private(respond, message)
        except Exception as exc:
            logger.warning("could not send a private answer (%s)", exc.__class__.__name__)

    # -- /maintenance --------------------------------------------------------------------------------------

    def command_now(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        if decides(command):
            context[NOTE] = _attempt(
                lambda: answer_command(command, service=service, directory=directory, client=client)
            )
        else:
            context[LATER] = True
        ack()

    def command_later(
        command: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
    ) -> None:
        if not context.get(LATER):
            tell(context, respond, client)
            return

        def work() -> None:
            message = _finish(answer_command(command, service=service, directory=directory, client=client))
            if message is not None:
                _private(respond, message)

        _guard(respond, work)

    app.command(ids.COMMAND)(acked_then(after_ack, command_now, command_later))

    # -- buttons -------------------------------------------------------------------------------------------

    def approve_now(ack: Ack, body: dict[str, Any], context: BoltContext, request: BoltRequest) -> None:
        state: dict[str, Any] = {}

        def work() -> None:
            state["actor"] = _actor(body)
            state["proposal"], seen = _button(body)
            # One transaction: checked, and recorded if the window is clear; a flagged one is approved only
            # with a justification, in a modal opened after the ack.
            try:
                service.approve(state["proposal"], actor=state["actor"], clear_only=True, seen=seen)
            except NeedsJustification as flagged:
                context[JUSTIFY] = flagged.row.id

        def refused(exc: ChatopsError) -> dict[str, Any] | None:
            if isinstance(exc, Superseded):
                context[SUPERSEDED] = exc.row.id
                return {}
            if isinstance(exc, NotAllowedError):
                if _is_retry(request) and service.has_approved(state["proposal"], actor=state["actor"]):
                    return {}  # Slack retried a click whose approval is stored: nothing more to say
                note = directory.unreadable_note()
                if note:
                    return blocks.error_message(f"{exc} {note}")
            return None

        context[NOTE] = _attempt(work, refused=refused)
        ack()

    def approve_later(
        body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
    ) -> None:
        number = context.get(JUSTIFY)
        if not isinstance(number, int):
            tell(context, respond, client)
            return

        def work() -> None:
            row = service.store.get_proposal(number)
            if row is None:
                raise NotFoundError(f"there is no change #{number}; it may have been removed")
            client.views_open(trigger_id=body["trigger_id"], view=blocks.approve_modal(row))

        _guard(respond, work)

    app.action(ids.APPROVE)(acked_then(after_ack, approve_now, approve_later))

    def just_ack(ack: Ack) -> None:
        ack()

    def reason_modal_opener(
        action: Action, callback_id: str, title: str, submit: str, optional: bool
    ) -> Callable[..., None]:
        def open_modal(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
            def work() -> None:
                number, seen = _button(body)
                row = service.check_may(number, actor=_actor(body), action=action, seen=seen)
                view = blocks.reason_modal(
                    row, callback_id=callback_id, title=title, submit=submit, optional=optional
                )
                client.views_open(trigger_id=body["trigger_id"], view=view)

            _opener_guard(respond, client, work)

        return open_modal

    def _opener_guard(respond: Respond, client: WebClient, work: Callable[[], None]) -> None:
        try:
            work()
        except Superseded as exc:
            _private(respond, _superseded_note(exc.row.id, service=service, client=client))
        except NotAllowedError as exc:
            note = directory.unreadable_note()
            _private(respond, blocks.error_message(f"{exc} {note}" if note else str(exc)))
        except ChatopsError as exc:
            _private(respond, blocks.error_message(str(exc)))
        except Exception:
            logger.exception("a Slack request failed")
            _private(respond, blocks.error_message(SORRY))

    for action_id, opener in (
        (ids.REJECT, reason_modal_opener(Action.REJECT, ids.REJECT_VIEW, "Reject change", "Reject", False)),
        (
            ids.CANCEL,
            reason_modal_opener(Action.CANCEL, ids.CANCEL_VIEW, "Cancel change", "Cancel change", True),
        ),
    ):
        app.action(action_id)(acked_then(after_ack, just_ack, opener))

    def open_postpone(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        def work() -> None:
            number, seen = _button(body)
            row = service.check_may(number, actor=_actor(body), action=Action.POSTPONE, seen=seen)
            options = [(to_ts(s.start), to_ts(s.end)) for s in service.postpone_options(row)]
            client.views_open(trigger_id=body["trigger_id"], view=blocks.postpone_modal(row, options))

        _opener_guard(respond, client, work)

    app.action(ids.POSTPONE)(acked_then(after_ack, just_ack, open_postpone))

    def review_now(ack: Ack, body: dict[str, Any], context: BoltContext, request: BoltRequest) -> None:
        """Mark an emergency reviewed (stored before the ack); the button's round and version do not matter:
        the review is about the emergency, whatever happened to it since."""
        state: dict[str, Any] = {}

        def work() -> None:
            state["actor"] = _actor(body)
            state["proposal"], _seen = _button(body)
            service.mark_reviewed(state["proposal"], actor=state["actor"])

        def refused(exc: ChatopsError) -> dict[str, Any] | None:
            if isinstance(exc, ConflictError) and _is_retry(request):
                row = service.store.get_proposal(state["proposal"])
                if row is not None and row.reviewed_by == state["actor"]:
                    return {}  # Slack retried a click whose review is stored
            return None

        context[NOTE] = _attempt(work, refused=refused)
        ack()

    app.action(ids.MARK_REVIEWED)(acked_then(after_ack, review_now, tell))

    # -- modals --------------------------------------------------------------------------------------------

    def submit(
        ack: Ack,
        work: Callable[[], dict[str, Any] | None],
        *,
        error_block: str,
        window_block: str | None = None,
        fields: frozenset[str] = frozenset(),
        stored_already: Callable[[], bool] = lambda: False,
    ) -> None:
        """Run a modal's work; errors go back into the modal, next to the field they are about. A refusal
        because ``stored_already()`` (Slack retried a submission whose decision is stored) closes the modal."""
        try:
            result = work()
        except (NotAllowedError, ConflictError) as exc:
            if stored_already():
                ack()
            else:
                ack(response_action="errors", errors={error_block: str(exc)})
            return
        except forms.FormErrors as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except WindowError as exc:
            ack(response_action="errors", errors={window_block or error_block: str(exc)})
            return
        except InputError as exc:
            block = exc.field if exc.field in fields else error_block
            ack(response_action="errors", errors={block: str(exc)})
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
                    proposer=_actor(body),
                    title=form.title,
                    start=form.window.start,
                    duration=form.window.duration,
                    input_tz=form.zone,
                    description=form.description,
                    rollback_plan=form.rollback_plan,
                    ticket_url=form.ticket_url,
                    services=form.services,
                )
            )
            return blocks.done_modal(
                blocks.confirmation_message(outcome.proposal, created=outcome.created)["text"]
            )

        submit(
            ack,
            work,
            error_block=ids.TITLE,
            window_block=ids.START,
            fields=frozenset({ids.TITLE, ids.DESCRIPTION, ids.ROLLBACK, ids.TICKET, ids.SERVICES}),
        )

    def retried_and_stored(
        request: BoltRequest, body: dict[str, Any], view: dict[str, Any], kind: str
    ) -> Callable[[], bool]:
        """For a Slack retry: whether the change's last event is this actor's ``kind`` (the first attempt
        stored it and its answer was lost)."""

        def check() -> bool:
            if not _is_retry(request):
                return False
            number = forms.metadata(view).get("proposal")
            if not isinstance(number, int) or isinstance(number, bool):
                return False
            events = service.store.events(number)
            user = body.get("user")
            actor = user.get("id") if isinstance(user, dict) else None
            return bool(events) and events[-1].kind == kind and events[-1].actor == actor

        return check

    def reason_view(close: Callable[..., Any], *, required: bool, kind: str) -> Callable[..., None]:
        """Reject and cancel: read the reason, close the change if it is still the version the form was
        opened for; errors go back into the modal."""

        def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], request: BoltRequest) -> None:
            def work() -> None:
                reason = forms.read_reason(view["state"]["values"], required=required)
                close(
                    _acting_on(forms.proposal_id(view)),
                    actor=_actor(body),
                    reason=reason,
                    expected_version=forms.expected_version(view),
                )

            submit(
                ack,
                work,
                error_block=ids.REASON,
                stored_already=retried_and_stored(request, body, view, kind),
            )

        return on_submit

    app.view(ids.REJECT_VIEW)(reason_view(service.reject, required=True, kind="rejected"))
    app.view(ids.CANCEL_VIEW)(reason_view(service.cancel, required=False, kind="cancelled"))

    @app.view(ids.APPROVE_VIEW)
    def on_approve_view(ack: Ack, body: dict[str, Any], view: dict[str, Any], request: BoltRequest) -> None:
        def work() -> None:
            justification = forms.read_justification(view["state"]["values"])
            expected_round = forms.expected_round(view)
            service.approve(
                _acting_on(forms.proposal_id(view)),
                actor=_actor(body),
                justification=justification,
                expected_round=expected_round,
                seen=Seen(round=expected_round, version=forms.expected_version(view, block=ids.JUSTIFICATION))
                if expected_round is not None
                else None,
            )

        submit(
            ack,
            work,
            error_block=ids.JUSTIFICATION,
            stored_already=retried_and_stored(request, body, view, "approved"),
        )

    @app.view(ids.POSTPONE_VIEW)
    def on_postpone_view(ack: Ack, body: dict[str, Any], view: dict[str, Any], request: BoltRequest) -> None:
        def work() -> None:
            window, reason = forms.read_postpone(view["state"]["values"])
            service.postpone(
                _acting_on(forms.proposal_id(view)),
                actor=_actor(body),
                start=window.start,
                duration=window.duration,
                reason=reason,
                expected_version=forms.expected_version(view),
            )

        submit(
            ack,
            work,
            error_block=ids.REASON,
            window_block=ids.START,
            stored_already=retried_and_stored(request, body, view, "postponed"),
        )

    home.register(app, service=service, directory=directory, client=client)
    after.register(app, service=service, executor=after_ack)
    return app
