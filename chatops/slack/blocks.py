"""Block Kit, built by pure functions from service results. No Slack calls, no clock, no store.

Every builder returns the keyword arguments for one Slack call (``text`` and ``blocks``, or a ``view``), keeps
Slack's limits (50 blocks a message, 100 a modal, 3000 characters a section, 24 a modal title, 2000 a button
value) and escapes user text so that it cannot mention anyone, ping a channel or forge a link.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    UrlInputElement,
)
from slack_sdk.models.views import View

from chatops.domain.policy import Status
from chatops.domain.records import (
    Approved,
    Cancelled,
    EvaluationSnapshot,
    PeriodDoc,
    Postponed,
    Proposed,
    Rejected,
    Reopened,
    SensitiveDeclared,
    SensitiveLifted,
    SensitivityChanged,
    WindowDoc,
)
from chatops.domain.timeline import from_ts
from chatops.domain.windows import format_duration
from chatops.slack import ids
from chatops.store import EventRow, ProposalRow, SensitiveRow

SECTION_MAX = 3000
DETAIL_REGIONS = 10
_STATUS_LABEL = {
    Status.PENDING: ":hourglass_flowing_sand: Pending approval",
    Status.APPROVED: ":white_check_mark: Approved",
    Status.REJECTED: ":no_entry: Rejected",
    Status.CANCELLED: ":heavy_multiplication_x: Cancelled",
    Status.NEEDS_REAPPROVAL: ":rotating_light: Needs re-approval",
}


def escape(text: str) -> str:
    """Escape user text for mrkdwn: ``&``, ``<`` and ``>`` (Slack's own rule), so ``<!channel>`` stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def date_token(ts: int, fmt: str = "{date_short_pretty} {time}") -> str:
    """A ``<!date>`` token: each reader sees their own local time; the fallback is UTC."""
    fallback = f"{from_ts(ts):%Y-%m-%d %H:%M} UTC"
    return f"<!date^{ts}^{fmt}|{fallback}>"


def window_text(start_ts: int, end_ts: int) -> str:
    duration = format_duration(from_ts(end_ts) - from_ts(start_ts))
    return f"{date_token(start_ts)} → {date_token(end_ts)} ({duration})"


def _utc(ts: int) -> str:
    return f"{from_ts(ts):%Y-%m-%d %H:%M} UTC"


def proposal_ref(row: ProposalRow) -> str:
    return f"CHG-{row.id}"


def _ts_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def _local_span(region: dict[str, Any]) -> str:
    start = datetime.fromisoformat(region["local_start"])
    end = datetime.fromisoformat(region["local_end"])
    offset = start.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}"
    if start.date() == end.date():
        return f"{start:%a %d %b %H:%M}–{end:%H:%M} ({offset})"
    return f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M} ({offset})"


def region_lines(evaluation: dict[str, Any]) -> tuple[list[str], str]:
    """Detail lines for the regions a window hits (flagged first, then sensitive, then those at their peak), and
    a one-line summary of the rest."""
    regions = evaluation.get("regions", [])
    hit = sorted(
        (r for r in regions if r["flagged"] or r["sensitive"] or r["peak_overlap_minutes"] > 0),
        key=lambda r: (not r["flagged"], not r["sensitive"], -r["peak_overlap_minutes"], r["name"]),
    )
    lines = []
    for r in hit[:DETAIL_REGIONS]:
        icon = (
            ":red_circle:"
            if r["flagged"]
            else (":large_yellow_circle:" if r["sensitive"] else ":white_circle:")
        )
        why = "; ".join(escape(x) for x in r["reasons"])
        lines.append(
            f"{icon} *{escape(r['name'])}* — {_local_span(r)} · {r['peak_overlap_minutes']} peak min"
            + (f" · _{clip(why, 300)}_" if why else "")
        )
    rest: list[str] = []
    unshown = hit[DETAIL_REGIONS:]
    if unshown:
        sensitive = sum(1 for r in unshown if r["sensitive"])
        names = ", ".join(escape(r["name"]) for r in unshown[:8])
        more = f" and {len(unshown) - 8} more" if len(unshown) > 8 else ""
        rest.append(
            f"…and {len(unshown)} more region{'s' if len(unshown) != 1 else ''} at their peak or sensitive"
            f" ({sensitive} sensitive): {names}{more}."
        )
    quiet = len(regions) - len(hit)
    if quiet:
        rest.append(f"{quiet} region{'s' if quiet != 1 else ''} outside peak hours and not sensitive.")
    return lines, " ".join(rest)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_MAX))])


def _there(suggestion: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """`` — 01:30 in Iran``: where a suggested window starts for the (first two) flagged regions."""
    start = datetime.fromisoformat(suggestion["start"])
    places = [
        f"{start.astimezone(ZoneInfo(r['timezone'])):%H:%M} in {escape(r['name'])}"
        for r in evaluation.get("regions", [])
        if r.get("flagged")
    ][:2]
    return f" — {', '.join(places)}" if places else ""


def evaluation_blocks(evaluation: dict[str, Any]) -> list[Block]:
    """The regions table and, when flagged, the suggestions."""
    lines, summary = region_lines(evaluation)
    blocks: list[Block] = []
    if evaluation.get("flagged"):
        blocks.append(
            _section(":warning: *Flagged*: this window hits the daytime peak of a sensitive region.")
        )
    if lines:
        blocks.append(_section("\n".join(lines)))
    if summary:
        blocks.append(_context(summary))
    suggestions = evaluation.get("suggestions", [])
    if evaluation.get("flagged"):
        if suggestions:
            text = "\n".join(
                f"{i}. {window_text(_ts_of(s['start']), _ts_of(s['end']))}{_there(s, evaluation)}"
                for i, s in enumerate(suggestions, 1)
            )
            blocks.append(_section(f"*Nearest windows that flag nothing:*\n{text}"))
        else:
            blocks.append(_section("No unflagged window of this length was found within the horizon."))
    return blocks


def progress_text(row: ProposalRow, approvals: Sequence[str]) -> str:
    why = "flagged window" if row.flagged else "clear window"
    who = ", ".join(f"<@{u}>" for u in approvals)
    count = (
        f"{len(approvals)} of {row.approvals_required} approval{'s' if row.approvals_required != 1 else ''}"
    )
    return f"{count} ({why})" + (f": {who}" if who else "")


def proposal_message(row: ProposalRow, approvals: Sequence[str]) -> dict[str, Any]:
    """The parent message in the changes channel, for the proposal's current state."""
    flag = " :warning: FLAGGED" if row.flagged else ""
    text = (
        f"{proposal_ref(row)} {row.status.value}: {escape(clip(row.title, 200))} ({_utc(row.start_ts)}){flag}"
    )
    details = [
        f"*Proposed by* <@{row.proposer}>",
        f"*Window* {window_text(row.start_ts, row.end_ts)}",
        f"*Zone given* {escape(row.input_tz)}",
    ]
    if row.ticket_url:
        details.append(f"*Ticket* <{row.ticket_url}|{escape(clip(row.ticket_url, 80))}>")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"{proposal_ref(row)}: {row.title}", 150), emoji=False)),
        _section("\n".join(details)),
    ]
    if row.description:
        blocks.append(_section(f"*Description, risk*\n{escape(row.description)}"))
    if row.rollback_plan:
        blocks.append(_section(f"*Rollback plan*\n{escape(row.rollback_plan)}"))
    blocks.append(DividerBlock())
    blocks.extend(evaluation_blocks(row.evaluation))
    blocks.append(DividerBlock())
    blocks.append(_section(f"*Status* {_STATUS_LABEL[row.status]} · {progress_text(row, approvals)}"))
    if row.status.is_open:
        value = str(row.id)
        blocks.append(
            ActionsBlock(
                block_id=ids.ACTIONS_BLOCK,
                elements=[
                    ButtonElement(text="Approve", action_id=ids.APPROVE, value=value, style="primary"),
                    ButtonElement(text="Postpone", action_id=ids.POSTPONE, value=value),
                    ButtonElement(text="Reject", action_id=ids.REJECT, value=value, style="danger"),
                    ButtonElement(text="Cancel", action_id=ids.CANCEL, value=value),
                ],
            )
        )
    blocks.append(_context("Decisions are recorded in this thread."))
    return {"text": text, "blocks": [b.to_dict() for b in blocks]}


def zoned_window(window: WindowDoc, tz: str) -> str:
    """A window in a zone, with the zone's abbreviation and offset, then in UTC: the same text for every reader,
    so a screenshot or a forwarded reply stays unambiguous."""
    start, end = datetime.fromisoformat(window.start), datetime.fromisoformat(window.end)
    try:
        zone = ZoneInfo(tz)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    utc_start, utc_end = start.astimezone(UTC), end.astimezone(UTC)

    def span(a: datetime, b: datetime, label: str) -> str:
        tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %Y-%m-%d %H:%M}"
        return f"{a:%a %Y-%m-%d %H:%M}–{tail} {label}"

    offset = local_start.strftime("%z")
    label = f"{local_start.tzname()} (UTC{offset[:3]}:{offset[3:]})"
    duration = format_duration(end - start)
    yours = f" · your time: {date_token(int(start.timestamp()))}"
    if tz == "UTC" or zone.key == "UTC":
        return f"{span(utc_start, utc_end, 'UTC')} ({duration}){yours}"
    return f"{span(local_start, local_end, label)} = {span(utc_start, utc_end, 'UTC')} ({duration}){yours}"


def _regions_named(ids_: Sequence[str], evaluation: EvaluationSnapshot) -> str:
    names = {r.id: r.name for r in evaluation.regions}
    return ", ".join(escape(names.get(i, i)) for i in ids_) or "none"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _period_text(period: PeriodDoc | None, change: str | None) -> str:
    if period is None:
        return ""
    who = f" by <@{period.declared_by}>" if period.declared_by else ""
    region = escape(period.region_name or period.region_id)
    return (
        f"\n>*Why:* {region} {'declared sensitive' if change != 'lifted' else 'no longer sensitive'} "
        f"{period.start_date} – {period.end_date} (period #{period.period_id}, declared{who}): "
        f"{escape(clip(period.reason, 300))}"
    )


def thread_reply(row: ProposalRow, event: EventRow) -> dict[str, Any]:
    """One audit event as a thread reply: who, what, when, why, and the window it is about (in the proposer's zone
    and UTC), readable without the parent. Every decision mentions the proposer."""
    actor = f"<@{event.actor}>"
    proposer = "" if event.actor == row.proposer else f" cc <@{row.proposer}>"
    when = date_token(event.at)
    reason = f"\n>*Reason:* {escape(event.reason)}" if event.reason else ""
    tz = row.input_tz
    try:
        payload = event.payload
    except ValueError:
        return {"text": clip(f"{actor}: {escape(event.kind)} on {when}.{reason}", SECTION_MAX)}
    match payload:
        case Proposed(evaluation=evaluation, window=window):
            flagged = evaluation.flagged_regions
            verdict = (
                ":warning: flagged: "
                + "; ".join(
                    f"{escape(r.name)} ({r.peak_overlap_minutes} min in its peak hours, "
                    f"{escape(', '.join(r.reasons))})"
                    for r in flagged[:DETAIL_REGIONS]
                )
                + (f" and {len(flagged) - DETAIL_REGIONS} more" if len(flagged) > DETAIL_REGIONS else "")
                if flagged
                else "clear: no sensitive region at its peak"
            )
            text = (
                f":memo: {actor} proposed {proposal_ref(row)} on {when}\n*Window:* {zoned_window(window, tz)}\n"
                f"{verdict}."
            )
        case Approved() as approved:
            text = (
                f":white_check_mark: {actor} approved {proposal_ref(row)} on {when} "
                f"({approved.approvals} of {approved.required}"
                f"{', flagged window' if approved.flagged else ''}){proposer}.\n"
                f"*Window:* {zoned_window(approved.window, tz)}"
            )
            if approved.justification:
                text += f"\n>*Justification:* {escape(approved.justification)}"
            if approved.status_after is Status.APPROVED:
                text += "\n*The change is now approved.*"
        case Rejected(window=window):
            text = (
                f":no_entry: {actor} rejected {proposal_ref(row)} on {when}{proposer}.\n"
                f"*Window:* {zoned_window(window, tz)}{reason}"
            )
        case Cancelled(window=window):
            text = (
                f":heavy_multiplication_x: {actor} cancelled {proposal_ref(row)} on {when}{proposer}.\n"
                f"*Window:* {zoned_window(window, tz)}{reason}"
            )
        case Postponed() as postponed:
            verdict = (
                ":warning: the new window is flagged"
                if postponed.evaluation.flagged
                else "the new window is clear"
            )
            reset = postponed.approvals_reset
            text = (
                f":calendar: {actor} postponed {proposal_ref(row)} on {when}{proposer}\n"
                f"*from* {zoned_window(postponed.from_, tz)}\n"
                f"*to* {zoned_window(postponed.to, tz)}\n"
                f"{verdict}; {_plural(reset, 'earlier approval')} reset, "
                f"now needs {postponed.required}.{reason}"
            )
        case Reopened() as reopened:
            text = (
                f":arrows_counterclockwise: {actor} reopened {proposal_ref(row)} on {when}{proposer}; "
                f"it needs {reopened.required}.\n*Window:* {zoned_window(reopened.window, tz)}{reason}"
            )
        case SensitivityChanged() as changed:
            text = _sensitivity_text(row, event, changed, actor=actor, proposer=proposer, when=when)
        case SensitiveDeclared() | SensitiveLifted():
            text = f"{actor}: {escape(event.kind)} on {when}.{reason}"
    return {"text": clip(text, SECTION_MAX)}


def _sensitivity_text(
    row: ProposalRow, event: EventRow, changed: SensitivityChanged, *, actor: str, proposer: str, when: str
) -> str:
    evaluation = changed.evaluation
    after = changed.flagged_after if changed.flagged_after is not None else evaluation.flagged_ids
    before = changed.flagged_before
    if before is None:
        verdict = (
            ":warning: *this window is now flagged*"
            if changed.flagged
            else "this window is no longer flagged"
        )
    elif not after:
        verdict = f"this window is no longer flagged (it was for {_regions_named(before, evaluation)})"
    else:
        gained = [r for r in after if r not in before]
        lost = [r for r in before if r not in after]
        parts = []
        if gained:
            parts.append(f"now flagged for {_regions_named(gained, evaluation)}")
        if lost:
            parts.append(f"no longer flagged for {_regions_named(lost, evaluation)}")
        verdict = f":warning: *this window is {' and '.join(parts)}*; flagged regions: " + _regions_named(
            after, evaluation
        )
    text = (
        f":rotating_light: {verdict} (re-evaluated by {actor} on {when}){proposer}.\n"
        f"*Window:* {zoned_window(evaluation.window, row.input_tz)}\n"
        f"It needs {_plural(changed.required, 'approval')} and has {changed.approvals}."
    )
    status_before = changed.status_before
    match changed.status_after:
        case Status.NEEDS_REAPPROVAL if status_before is not Status.NEEDS_REAPPROVAL:
            missing = changed.required - changed.approvals
            text += (
                f" *It was approved; it now needs re-approval* ({_plural(missing, 'more approval')}); "
                "the earlier approvals still count."
            )
        case Status.NEEDS_REAPPROVAL:
            text += " It still needs re-approval."
        case Status.APPROVED if status_before is Status.APPROVED:
            text += " It stays approved."
        case Status.APPROVED if status_before is None and changed.flagged:
            text += " It was approved already: consider postponing it."
        case Status.APPROVED:
            text += " *The change is now approved.*"
        case _:
            pass
    if changed.period is not None:
        text += _period_text(changed.period, changed.change)
    elif event.reason:
        text += f"\n>*Why:* {escape(event.reason)}"
    return text


def assessment_message(evaluation: dict[str, Any], *, heading: str) -> dict[str, Any]:
    """``/maintenance check``: the evaluation, for the asker only."""
    window = evaluation["window"]
    verdict = "flagged" if evaluation["flagged"] else "clear"
    head = f"{heading}: {window_text(_ts_of(window['start']), _ts_of(window['end']))} is *{verdict}*."
    blocks: list[Block] = [_section(head), *evaluation_blocks(evaluation)]
    if not evaluation["flagged"]:
        blocks.append(_context("No sensitive region is at its peak during this window."))
    return {"text": f"The window is {verdict}.", "blocks": [b.to_dict() for b in blocks[:50]]}


USAGE = (
    "*Usage*\n"
    "• `/maintenance propose <YYYY-MM-DD> <HH:MM> [zone] <duration> <title…>`: propose a window, e.g. "
    "`/maintenance propose 2026-12-07 22:00 America/Los_Angeles 1h Core network upgrade`. Without a zone, "
    "your Slack time zone is used.\n"
    "• `/maintenance propose`: the same, in a form.\n"
    "• `/maintenance check <YYYY-MM-DD> <HH:MM> [zone] <duration>`: see how a window looks, only to you.\n"
    "• `/maintenance list`: pending and upcoming approved windows.\n"
    "• `/maintenance sensitive [list]`, and for admins `/maintenance sensitive add <region> <YYYY-MM-DD> "
    "[<YYYY-MM-DD>] <reason…>` and `/maintenance sensitive lift <number>`.\n"
    "Durations: `90m`, `1h`, `1h30m`, `2d`. Zones: IANA names such as `Europe/Berlin`, or `UTC`."
)


def sensitive_message(
    declared: Sequence[SensitiveRow], configured: Sequence[tuple[str, str, str, str]], *, note: str = ""
) -> dict[str, Any]:
    """Current and coming sensitive periods: declared ones (numbered, liftable) and the regions file's."""
    lines = [f"{escape(note)}\n"] if note else []
    lines.append("*Declared in Slack* (admins: `/maintenance sensitive lift <number>`):")
    declared_lines = [
        f"• #{p.id} *{escape(p.region_id)}* {p.start_date} – {p.end_date}: {escape(clip(p.reason, 200))} "
        f"(by <@{p.declared_by}>)"
        for p in declared[:40]
    ]
    lines.extend(declared_lines or ["• none"])
    lines.append("*From the regions file:*")
    configured_lines = [
        f"• *{escape(region)}* {start} – {end}: {escape(clip(reason, 200))}"
        for region, start, end, reason in configured[:40]
    ]
    lines.extend(configured_lines or ["• none"])
    text = clip("\n".join(lines), SECTION_MAX)
    return {"text": text, "blocks": [_section(text).to_dict()]}


def usage_message(problem: str | None = None) -> dict[str, Any]:
    text = f":warning: {escape(problem)}\n\n{USAGE}" if problem else USAGE
    return {"text": text, "blocks": [_section(text).to_dict()]}


def error_message(problem: str) -> dict[str, Any]:
    text = f":warning: {escape(problem)}"
    return {"text": text, "blocks": [_section(text).to_dict()]}


def confirmation_message(row: ProposalRow, *, created: bool) -> dict[str, Any]:
    verdict = ":warning: flagged" if row.flagged else "clear"
    lead = "Proposed" if created else "Already proposed"
    text = (
        f"{lead} {proposal_ref(row)} *{escape(row.title)}* for {window_text(row.start_ts, row.end_ts)} "
        f"({verdict}); it is posted in <#{row.channel}> for approval."
    )
    return {"text": text, "blocks": [_section(text).to_dict()]}


def list_message(rows: Sequence[ProposalRow]) -> dict[str, Any]:
    if not rows:
        text = "No pending or upcoming approved windows."
        return {"text": text, "blocks": [_section(text).to_dict()]}
    lines = [
        f"• {proposal_ref(r)} *{escape(clip(r.title, 80))}*: {window_text(r.start_ts, r.end_ts)} · "
        f"{r.status.value}{' · :warning: flagged' if r.flagged else ''}"
        for r in rows
    ]
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_MAX - 100:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    return {"text": f"{len(rows)} pending or upcoming windows.", "blocks": [b.to_dict() for b in blocks[:50]]}


def _metadata(**values: Any) -> str:
    return json.dumps(values, separators=(",", ":"))


def propose_modal(*, tz: str, initial_start: int) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=ids.PROPOSE_VIEW,
        title=PlainTextObject(text="Propose maintenance"),
        submit=PlainTextObject(text="Propose"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=_metadata(tz=tz),
        blocks=[
            InputBlock(
                block_id=ids.TITLE,
                label="Title",
                element=PlainTextInputElement(action_id=ids.TITLE, max_length=150),
            ),
            InputBlock(
                block_id=ids.START,
                label="Start (in your Slack time zone)",
                element=DateTimePickerElement(action_id=ids.START, initial_date_time=initial_start),
            ),
            InputBlock(
                block_id=ids.DURATION,
                label="Duration",
                hint="90m, 1h, 1h30m, 2d",
                element=PlainTextInputElement(action_id=ids.DURATION, initial_value="1h", max_length=20),
            ),
            InputBlock(
                block_id=ids.ZONE,
                label="Time zone to show the window in",
                hint="An IANA name such as America/Los_Angeles, or UTC",
                element=PlainTextInputElement(action_id=ids.ZONE, initial_value=tz, max_length=64),
            ),
            InputBlock(
                block_id=ids.DESCRIPTION,
                label="Description and risk",
                optional=True,
                element=PlainTextInputElement(action_id=ids.DESCRIPTION, multiline=True, max_length=2000),
            ),
            InputBlock(
                block_id=ids.ROLLBACK,
                label="Rollback plan",
                optional=True,
                element=PlainTextInputElement(action_id=ids.ROLLBACK, multiline=True, max_length=2000),
            ),
            InputBlock(
                block_id=ids.TICKET,
                label="Ticket link",
                optional=True,
                element=UrlInputElement(action_id=ids.TICKET),
            ),
        ],
    )
    return view.to_dict()


def reason_modal(
    row: ProposalRow, *, callback_id: str, title: str, submit: str, optional: bool
) -> dict[str, Any]:
    """The modal that asks why a change is rejected or cancelled."""
    view = View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=clip(title, 24)),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Back"),
        private_metadata=_metadata(proposal=row.id, version=row.version),
        blocks=[
            _section(
                f"{proposal_ref(row)} *{escape(clip(row.title, 150))}*\n{window_text(row.start_ts, row.end_ts)}"
            ),
            InputBlock(
                block_id=ids.REASON,
                label="Reason (recorded in the thread)",
                optional=optional,
                element=PlainTextInputElement(action_id=ids.REASON, multiline=True, max_length=500),
            ),
        ],
    )
    return view.to_dict()


def postpone_modal(row: ProposalRow, suggestions: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Pre-filled with the first suggested window; lists the others."""
    initial = suggestions[0][0] if suggestions else row.start_ts
    listed = (
        "\n".join(f"{i}. {window_text(s, e)}" for i, (s, e) in enumerate(suggestions, 1))
        if suggestions
        else "No unflagged window was found within the horizon; pick a start yourself."
    )
    view = View(
        type="modal",
        callback_id=ids.POSTPONE_VIEW,
        title=PlainTextObject(text="Postpone change"),
        submit=PlainTextObject(text="Postpone"),
        close=PlainTextObject(text="Back"),
        private_metadata=_metadata(proposal=row.id, version=row.version),
        blocks=[
            _section(
                f"{proposal_ref(row)} *{escape(clip(row.title, 150))}*\n"
                f"Now: {window_text(row.start_ts, row.end_ts)}\n*Suggested windows:*\n{listed}"
            ),
            InputBlock(
                block_id=ids.START,
                label="New start (in your Slack time zone)",
                element=DateTimePickerElement(action_id=ids.START, initial_date_time=initial),
            ),
            InputBlock(
                block_id=ids.DURATION,
                label="Duration",
                element=PlainTextInputElement(
                    action_id=ids.DURATION,
                    initial_value=format_duration(timedelta(seconds=row.end_ts - row.start_ts)),
                    max_length=20,
                ),
            ),
            InputBlock(
                block_id=ids.REASON,
                label="Reason (recorded in the thread)",
                element=PlainTextInputElement(action_id=ids.REASON, multiline=True, max_length=500),
            ),
        ],
    )
    return view.to_dict()


def now_grid(now: datetime) -> int:
    """The next quarter hour after ``now``, as a datetimepicker's initial value."""
    ts = int(now.astimezone(UTC).timestamp())
    return ts + (900 - ts % 900)


def done_modal(text: str) -> dict[str, Any]:
    """What a submitted propose form turns into: the confirmation, with only a Close button."""
    view = View(
        type="modal",
        title=PlainTextObject(text="Proposed"),
        close=PlainTextObject(text="Close"),
        blocks=[_section(text)],
    )
    return view.to_dict()
