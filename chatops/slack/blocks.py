"""Block Kit, built by pure functions from service results. No Slack calls, no clock, no store.

Blocks are plain dicts made by the small helpers of :mod:`chatops.slack.kit` (slack_sdk's model classes cost a
tenth of a proposal's CPU in ``to_dict()``; the tests keep them as the validator).

Every builder returns the keyword arguments for one Slack call (``text`` and ``blocks``, or a ``view``), keeps
Slack's limits (50 blocks a message, 100 a modal, 3000 characters a section, 24 a modal title, 2000 a button
value) and escapes user text so that it cannot mention anyone, ping a channel or forge a link.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chatops.domain import daystrip
from chatops.domain.conflicts import Booking, all_conflicts
from chatops.domain.gate import window_state_text
from chatops.domain.models import Window
from chatops.domain.policy import Status
from chatops.domain.records import (
    ApprovalsExpired,
    ApprovalsExpiring,
    Approved,
    Cancelled,
    Completed,
    ConflictDoc,
    ConflictFound,
    EvaluationSnapshot,
    Extended,
    PeriodDoc,
    Postponed,
    Proposed,
    Rejected,
    Reopened,
    Reviewed,
    SensitiveDeclared,
    SensitiveLifted,
    SensitivityChanged,
    WindowDoc,
)
from chatops.domain.reminders import ReminderKind
from chatops.domain.timeline import from_ts
from chatops.domain.windows import format_duration
from chatops.slack import ids, kit
from chatops.slack.kit import Block
from chatops.store import EventRow, ProposalRow, ProposalSummary, SensitiveRow

SECTION_MAX = 3000
TEXT_MAX = 3000  # the notification text of a message: what a phone's lock screen and a forwarded copy show
MESSAGE_BLOCKS = 50
DETAIL_REGIONS = 10
# A thread reply is plain text (no blocks), which Slack takes up to 40,000 characters; room for the first reply to
# name every flagged region of a large world, well inside that.
REPLY_MAX = 12_000
RISK_LINE_MAX = 700  # the one-line risk summary; past it, the rest are named in the regions list
STRIPS = 5  # day strips drawn, for the first flagged regions
_STATUS_LABEL = {
    Status.PENDING: ":hourglass_flowing_sand: *Waiting for approval*",
    Status.NEEDS_REAPPROVAL: ":rotating_light: *Needs re-approval*",
    Status.APPROVED: ":white_check_mark: *Approved*",
    Status.REJECTED: ":no_entry: *Rejected*",
    Status.CANCELLED: ":heavy_multiplication_x: *Cancelled*",
    Status.DONE: ":checkered_flag: *Done*",
}
# Where a cut would land inside markup: an unclosed ``<…`` (link, mention, date token) or ``&…`` (entity).
_OPEN_MARKUP = re.compile(r"(<[^>]*|&[a-zA-Z#0-9]{0,8})$")


def escape(text: str) -> str:
    """Escape user text for mrkdwn: ``&``, ``<`` and ``>`` (Slack's own rule), so ``<!channel>`` stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,31}$")


def user_ref(user_id: str) -> str:
    """``<@U123>`` for a well-formed Slack user id; anything else is shown as escaped text, never as markup."""
    return f"<@{user_id}>" if _USER_ID.match(user_id or "") else f"`{escape(user_id or '?')}`"


def one_line(text: str) -> str:
    """User text for one line of a message (a reason): newlines cannot start a line that looks like ours."""
    return " ".join(escape(text).split())


def button_value(row: ProposalRow) -> str:
    """``id:round:version``: a click decides only the state the clicker saw (see :func:`parse_button_value`)."""
    return f"{row.id}:{row.round}:{row.version}"


_BUTTON_VALUE = re.compile(r"^([0-9]{1,18}):([0-9]{1,9}):([0-9]{1,9})$", re.ASCII)


def parse_button_value(value: object) -> tuple[int, int, int] | None:
    """(proposal id, round, version) from a button value built by :func:`button_value`; None otherwise."""
    match = _BUTTON_VALUE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    proposal, round_, version = (int(g) for g in match.groups())
    return proposal, round_, version


def superseded_message(row: ProposalRow, permalink: str | None) -> dict[str, Any]:
    """A click on a message that no longer shows the change as it is."""
    where = f"<{permalink}|the current message>" if permalink else f"the current message in <#{row.channel}>"
    text = (
        f":warning: Not recorded: {proposal_ref(row)} changed after the message you clicked was shown "
        f"(it is {row.status.value}, window {window_text(row.start_ts, row.end_ts)}). "
        f"Look at {where} and decide there."
    )
    return {"text": text, "blocks": [_section(text)]}


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in ``…`` when cut; never cuts inside ``<…>`` markup or an entity."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    open_markup = _OPEN_MARKUP.search(head)
    if open_markup:
        head = head[: open_markup.start()]
    return head + "…"


def clip_lines(lines: Sequence[str], limit: int, *, more: str = "…and {n} more lines") -> str:
    """Whole lines up to ``limit`` characters; what does not fit is counted in a last line, never cut."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        tail = more.format(n=len(lines) - i - 1) if i < len(lines) - 1 else ""
        if used + len(line) + 1 + (len(tail) + 1 if tail else 0) > limit:
            out.append(more.format(n=len(lines) - i))
            break
        out.append(line)
        used += len(line) + 1
    return clip("\n".join(out), limit)


def pack(lines: Sequence[str], limit: int = SECTION_MAX) -> list[str]:
    """Lines gathered into texts of at most ``limit`` characters, cut only between lines."""
    texts: list[str] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, limit)
        if chunk and size + 1 + len(line) > limit:
            texts.append("\n".join(chunk))
            chunk, size = [], 0
        size += len(line) + (1 if chunk else 0)
        chunk.append(line)
    if chunk:
        texts.append("\n".join(chunk))
    return texts


def date_token(ts: int, fmt: str = "{date_short_pretty} {time}") -> str:
    """A ``<!date>`` token: each reader sees their own local time; the fallback is UTC."""
    fallback = f"{from_ts(ts):%Y-%m-%d %H:%M} UTC"
    return f"<!date^{ts}^{fmt}|{fallback}>"


def window_text(start_ts: int, end_ts: int) -> str:
    duration = format_duration(from_ts(end_ts) - from_ts(start_ts))
    return f"{date_token(start_ts)} → {date_token(end_ts)} ({duration})"


def _offset(moment: datetime) -> str:
    raw = moment.strftime("%z")
    sign = "−" if raw[0] == "-" else "+"
    return f"UTC{sign}{raw[1:3]}:{raw[3:5]}"


def zone_label(moment: datetime, tz: str) -> str:
    """``PDT (UTC−07:00, America/Los_Angeles)``; a zone without a letter abbreviation (Asia/Tehran's is
    ``+0430``) shows only the offset and the name."""
    abbreviation = moment.strftime("%Z")
    where = f"({_offset(moment)}, {escape(tz)})"
    if not abbreviation or abbreviation[0] in "+-" or abbreviation == "UTC":
        return where
    return f"{abbreviation} {where}"


def _short_zone(moment: datetime) -> str:
    abbreviation = moment.strftime("%Z")
    return _offset(moment) if not abbreviation or abbreviation[0] in "+-" else abbreviation


def _span(start: datetime, end: datetime) -> str:
    if start.date() == end.date():
        return f"{start:%a %d %b %H:%M}–{end:%H:%M}"
    return f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M}"


def _reader_local(start_ts: int, end_ts: int) -> str:
    return f"{date_token(start_ts)} → {date_token(end_ts, '{time}')}"


def window_lines(start_ts: int, end_ts: int, tz: str) -> list[str]:
    """A window three ways, each labelled: in zone ``tz`` with its abbreviation and offset, in UTC, and as
    ``<!date>`` tokens that show each reader their own time. A screenshot or a forwarded copy stays exact."""
    zone = ZoneInfo(tz)
    start, end = from_ts(start_ts).astimezone(zone), from_ts(end_ts).astimezone(zone)
    lines = [f"{_span(start, end)} {zone_label(start, tz)} · {format_duration(end - start)}"]
    if tz != "UTC":
        lines.append(f"{_span(from_ts(start_ts), from_ts(end_ts))} UTC")
    lines.append(f"Your local time: {_reader_local(start_ts, end_ts)}")
    return lines


def window_line(start_ts: int, end_ts: int, tz: str) -> str:
    """:func:`window_lines` on one line, for thread replies and lists."""
    return " · ".join(window_lines(start_ts, end_ts, tz))


@functools.lru_cache(maxsize=4096)
def window_short(start_ts: int, end_ts: int, tz: str) -> str:
    """``Tue 16 Jun 11:30–12:30 PDT (18:30 UTC; yours: <!date…>)``: compact, still exact and labelled.

    Cached (a pure function of its arguments): ``list`` shows the same open changes to everyone who asks, and
    this was most of its building time (about 20 us a row)."""
    start = from_ts(start_ts).astimezone(ZoneInfo(tz))
    end = from_ts(end_ts).astimezone(ZoneInfo(tz))
    utc = "" if tz == "UTC" else f"{from_ts(start_ts):%H:%M} UTC; "
    return f"{_span(start, end)} {_short_zone(start)} ({utc}yours: {date_token(start_ts)})"


def _utc(ts: int) -> str:
    return f"{from_ts(ts):%Y-%m-%d %H:%M} UTC"


def proposal_ref(row: ProposalSummary) -> str:
    return f"CHG-{row.id}"


def _ts_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def _local_span(region: dict[str, Any]) -> str:
    start = datetime.fromisoformat(region["local_start"])
    end = datetime.fromisoformat(region["local_end"])
    return f"{_span(start, end)} ({_offset(start)})"


def _minutes(n: int) -> str:
    return format_duration(timedelta(minutes=n)).replace("h", "h ").replace("d", "d ").strip()


def _hit(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        (
            r
            for r in evaluation.get("regions", [])
            if r["flagged"] or r["sensitive"] or r["peak_overlap_minutes"]
        ),
        key=lambda r: (not r["flagged"], not r["sensitive"], -r["peak_overlap_minutes"], r["name"]),
    )


def _names(regions: Sequence[dict[str, Any]]) -> str:
    return ", ".join(escape(r["name"]) for r in regions)


def region_lines(evaluation: dict[str, Any]) -> tuple[list[str], str]:
    """Detail lines for the regions a window hits (flagged first, then sensitive, then those at their peak),
    every flagged region named (the ones past the detail lines by name only), and a summary whose counts add up
    to the number of regions."""
    regions = evaluation.get("regions", [])
    hit = _hit(evaluation)
    lines = []
    for r in hit[:DETAIL_REGIONS]:
        icon = (
            ":red_circle:"
            if r["flagged"]
            else (":large_yellow_circle:" if r["sensitive"] else ":white_circle:")
        )
        why = escape(clip("; ".join(r["reasons"]), 300))
        inside = (
            f"{_minutes(r['peak_overlap_minutes'])} inside its peak hours"
            if r["peak_overlap_minutes"]
            else "outside its peak hours"
        )
        lines.append(
            f"{icon} *{escape(r['name'].strip())}* — {_local_span(r)} · {inside}"
            + (f" · _{why}_" if why else "")
        )
    unshown = hit[DETAIL_REGIONS:]
    more_flagged = [r for r in unshown if r["flagged"]]
    if more_flagged:
        # Every flagged region is named: in lines short enough that a section never has to cut one.
        line = f":red_circle: *Also flagged ({len(more_flagged)}):*"
        for i, r in enumerate(more_flagged):
            name = escape(r["name"]) + ("," if i < len(more_flagged) - 1 else "")
            if len(line) + 1 + len(name) > SECTION_MAX - 100:
                lines.append(line)
                line = "…"
            line += " " + name
        lines.append(line)
    rest = [r for r in unshown if not r["flagged"]]
    summary: list[str] = []
    if rest:
        sensitive = sum(1 for r in rest if r["sensitive"])
        names = _names(rest[:8]) + (f" and {len(rest) - 8} more" if len(rest) > 8 else "")
        summary.append(
            f"{len(rest)} more region{'s' if len(rest) != 1 else ''} at their peak or sensitive"
            f" ({sensitive} sensitive, none flagged): {names}."
        )
    flagged = sum(1 for r in regions if r["flagged"])
    sensitive_only = sum(1 for r in regions if r["sensitive"] and not r["flagged"])
    peak_only = sum(1 for r in regions if not r["sensitive"] and r["peak_overlap_minutes"])
    quiet = len(regions) - flagged - sensitive_only - peak_only
    summary.append(
        f"Of {len(regions)} region{'s' if len(regions) != 1 else ''}: {flagged} flagged, "
        f"{sensitive_only} sensitive outside their peak hours, {peak_only} at their peak but not sensitive, "
        f"{quiet} quiet."
    )
    return lines, " ".join(summary)


def risk_line(evaluation: dict[str, Any]) -> str:
    """The risk in one line: flagged or not, every change freeze the window overlaps, and every flagged region
    by name (compact when there are many)."""
    freezes = evaluation.get("freezes") or []
    if not freezes:
        return _region_risk(evaluation)
    names = ", ".join(f"*{escape(clip(f['summary'], 100))}*" for f in freezes[:3])
    more = f" and {len(freezes) - 3} more" if len(freezes) > 3 else ""
    frozen = f":no_entry: *Flagged*: during a change freeze ({names}{more})."
    regions = _region_risk(evaluation)
    return frozen if regions.startswith(":large_green_circle:") else f"{frozen} {regions}"


def _region_risk(evaluation: dict[str, Any]) -> str:
    flagged = [r for r in evaluation.get("regions", []) if r.get("flagged")]
    if not flagged:
        return ":large_green_circle: *Clear*: no sensitive region is in its peak hours during this window."
    if len(flagged) == 1:
        r = flagged[0]
        why = escape(clip("; ".join(r["reasons"]), 200))
        return (
            f":warning: *Flagged*: in the peak hours of *{escape(r['name'].strip())}*, which is sensitive"
            + (f" ({why})." if why else ".")
        )
    head = f":warning: *Flagged*: in the peak hours of {len(flagged)} sensitive regions: "
    names: list[str] = []
    for i, r in enumerate(flagged):
        name = f"*{escape(r['name'].strip())}*"
        if len(head) + sum(len(n) + 2 for n in names) + len(name) > RISK_LINE_MAX:
            return head + ", ".join(names) + f" and {len(flagged) - i} more, all named below."
        names.append(name)
    return head + ", ".join(names) + "."


def _section(text: str) -> Block:
    return kit.section(clip(text, SECTION_MAX))


def _sections(lines: Sequence[str]) -> list[Block]:
    return [_section(text) for text in pack(lines)]


def _context(text: str) -> Block:
    return kit.context(clip(text, SECTION_MAX))


def _there(suggestion: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """`` — 01:30 in Iran``: where a suggested window starts for the (first two) flagged regions."""
    start = datetime.fromisoformat(suggestion["start"])
    places = [
        f"{start.astimezone(ZoneInfo(r['timezone'])):%H:%M} in {escape(r['name'])}"
        for r in evaluation.get("regions", [])
        if r.get("flagged")
    ][:2]
    return f" — {', '.join(places)}" if places else ""


def freeze_text(freezes: Sequence[dict[str, Any]]) -> str:
    """`:no_entry: *Change freeze*: Year-end freeze (Releases), <start> → <end>` per freeze the window overlaps."""
    lines = [
        f":no_entry: *Change freeze*: {escape(f['summary'])}"
        + (f" ({escape(f['calendar'])})" if f.get("calendar") else "")
        + f", {window_text(_ts_of(f['start']), _ts_of(f['end']))}"
        for f in freezes[:DETAIL_REGIONS]
    ]
    if len(freezes) > DETAIL_REGIONS:
        lines.append(f"…and {len(freezes) - DETAIL_REGIONS} more")
    return "\n".join(lines)


def day_strips(evaluation: dict[str, Any], *, limit: int = STRIPS) -> list[str]:
    """For the first flagged regions, the region's local day as 24 hour cells with its peak hours and the
    window marked, under one ruler and one legend. Empty when nothing is flagged or the snapshot predates it."""
    window = evaluation.get("window") or {}
    flagged = [r for r in _hit(evaluation) if r["flagged"] and r.get("peak_hours") is not None]
    if not flagged or not window:
        return []
    w = Window(start=datetime.fromisoformat(window["start"]), end=datetime.fromisoformat(window["end"]))
    lines = [f"*The window in each flagged region's day* (local hours; {daystrip.LEGEND})"]
    lines.append(f"`{daystrip.RULER}`")
    for r in flagged[:limit]:
        strip = daystrip.day_strip(r["timezone"], daystrip.peak_ranges(r["peak_hours"]), w)
        lines.append(
            f"`{strip.cells}` {escape(daystrip.caption(strip, name=r['name'], timezone=r['timezone']))}"
        )
    if len(flagged) > limit:
        lines.append(f"(the first {limit} of {len(flagged)} flagged regions)")
    return lines


def suggestion_lines(evaluation: dict[str, Any], *, tz: str = "UTC") -> list[str]:
    """The suggested windows, each with where it falls and one line of why."""
    lines = []
    for i, s in enumerate(evaluation.get("suggestions", []), 1):
        start, end = _ts_of(s["start"]), _ts_of(s["end"])
        lines.append(f"{i}. {window_short(start, end, tz)}{_there(s, evaluation)}")
        if s.get("why"):
            lines.append(f"      _{escape(s['why'])}_")
    return lines


def evaluation_blocks(evaluation: dict[str, Any], *, tz: str = "UTC") -> list[Block]:
    """The regions (every flagged one named), the day strips and, when flagged, the suggestions."""
    lines, summary = region_lines(evaluation)
    blocks: list[Block] = _sections(lines)
    freezes = evaluation.get("freezes") or []
    if freezes:
        blocks.insert(0, _section(freeze_text(freezes)))
    if summary:
        blocks.append(_context(summary))
    strips = day_strips(evaluation)
    if strips:
        blocks.extend(_sections(strips))
    if evaluation.get("flagged"):
        suggestions = suggestion_lines(evaluation, tz=tz)
        if suggestions:
            blocks.extend(_sections(["*Windows that flag nothing:*", *suggestions]))
        else:
            blocks.append(_section("No unflagged window of this length was found within the horizon."))
    return blocks


def mentions(ids_: Sequence[str]) -> str:
    """Slack mentions of users (``U…``/``W…``) and user groups (``S…``)."""
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids_)


def progress_text(row: ProposalRow, approvals: Sequence[str]) -> str:
    why = "flagged window" if row.flagged else "clear window"
    who = ", ".join(user_ref(u) for u in approvals)
    count = (
        f"{len(approvals)} of {row.approvals_required} approval{'s' if row.approvals_required != 1 else ''}"
    )
    return f"{count} ({why})" + (f": {who}" if who else "")


def ask_line(
    row: ProposalRow,
    approvals: Sequence[str],
    *,
    mention: Sequence[str] = (),
    closing: EventRow | None = None,
) -> str:
    """What is asked of whom: the status, approvals needed and given, who is asked, or who closed it and why."""
    label = _STATUS_LABEL[row.status]
    if row.status in (Status.REJECTED, Status.CANCELLED):
        verb = "rejected" if row.status is Status.REJECTED else "cancelled"
        if closing is None:
            return f"{label}."
        why = f": {one_line(clip(closing.reason, 400))}" if closing.reason else " (no reason given)"
        return f"{label}: {verb} by {user_ref(closing.actor)} on {date_token(closing.at)}{why}"
    if row.status is Status.DONE and closing is not None:
        return f"{label}: marked done by {user_ref(closing.actor)} on {date_token(closing.at)}"
    text = f"{label} · {progress_text(row, approvals)}"
    if row.status.is_open and mention:
        text += f"\nApprovers, please decide: {mentions(mention)}"
    return text


def proposal_message(
    row: ProposalRow,
    approvals: Sequence[str],
    *,
    mention: Sequence[str] = (),
    closing: EventRow | None = None,
    at: int | None = None,
    conflicts: Sequence[ProposalRow] = (),
    owners: Sequence[str] = (),
) -> dict[str, Any]:
    """The parent message in the changes channel, for the proposal's current state, in the order people need
    it: what is asked of whom, the risk, the window (proposer's zone, UTC, each reader's own), then details.

    ``mention``: approver users and groups to ask while it waits; ``closing``: the event that rejected or
    cancelled it, for who and why; ``conflicts``: other open changes overlapping it on a service now;
    ``owners``: the owners of its services; ``at``: the present, for the window's state in plain words ("opens
    in 3 h", "open, closes in 20 min", "ended") while the change is approved or open. The first thread reply
    keeps the evaluation as first proposed.
    """
    flag = " :warning: FLAGGED" if row.flagged else ""
    loud = ":rotating_light: EMERGENCY " if row.emergency else ""
    text = clip(
        f"{loud}{proposal_ref(row)} {row.status.value}: {escape(clip(row.title, 200))}, "
        f"{window_short(row.start_ts, row.end_ts, row.input_tz)}{flag}",
        TEXT_MAX,
    )
    details = [f"*{'Declared' if row.emergency else 'Proposed'} by* {user_ref(row.proposer)}"]
    if row.ticket_url:
        details.append(f"*Ticket* <{escape(row.ticket_url)}|{escape(clip(row.ticket_url, 80))}>")
    if row.services:
        details.append(
            f"*Services* {escape(', '.join(row.services))}"
            + (f" (owners {mentions(owners)})" if owners else "")
        )
    window = window_lines(row.start_ts, row.end_ts, row.input_tz)
    blocks: list[Block] = [
        kit.header(clip(f"{proposal_ref(row)}: {row.title}", 150)),
    ]
    if row.emergency:
        blocks.extend(emergency_blocks(row))
    blocks += [
        _section(ask_line(row, approvals, mention=mention, closing=closing)),
        _section(risk_line(row.evaluation)),
        _section("*Window* " + "\n".join(window) + _state_suffix(row, at)),
    ]
    if conflicts:
        blocks.append(_section(conflict_text(row, conflicts)))
    blocks.append(_section("\n".join(details)))
    if row.description and row.emergency:
        blocks.append(_section(f"*Why it cannot wait*\n{escape(row.description)}"))
    elif row.description:
        blocks.append(_section(f"*Description, risk*\n{escape(row.description)}"))
    if row.rollback_plan:
        blocks.append(_section(f"*Rollback plan*\n{escape(row.rollback_plan)}"))
    blocks.append(kit.divider())
    blocks.extend(evaluation_blocks(row.evaluation, tz=row.input_tz))
    if row.status.is_open:
        value = button_value(row)
        blocks.append(
            kit.actions(
                ids.ACTIONS_BLOCK,
                [
                    kit.button("Approve", action_id=ids.APPROVE, value=value, style="primary"),
                    kit.button("Postpone", action_id=ids.POSTPONE, value=value),
                    kit.button("Reject", action_id=ids.REJECT, value=value, style="danger"),
                    kit.button("Cancel change", action_id=ids.CANCEL, value=value),
                ],
            )
        )
    elif row.status is Status.APPROVED:
        value = button_value(row)
        blocks.append(
            kit.actions(
                ids.ACTIONS_BLOCK,
                [
                    kit.button("Done", action_id=ids.DONE, value=value, style="primary"),
                    kit.button("Extend", action_id=ids.EXTEND, value=value),
                    kit.button("Postpone", action_id=ids.POSTPONE, value=value),
                    kit.button("Cancel change", action_id=ids.CANCEL, value=value),
                ],
            )
        )
    if row.emergency:
        blocks.extend(review_blocks(row))
    blocks.append(
        _context(
            "Decisions are recorded in this thread; its first reply keeps the evaluation as first proposed."
        )
    )
    return {"text": text, "blocks": _fit(blocks)}


def _state_suffix(row: ProposalRow, at: int | None) -> str:
    if at is None or not (row.status is Status.APPROVED or row.status.is_open):
        return ""
    return f"\n*Now:* {window_state_text(row.start_ts, row.end_ts, at=at)}"


_REMINDER_TEXT = {
    ReminderKind.BEFORE: ":alarm_clock: {ref}'s window opens {when}: {window}. <@{proposer}>",
    ReminderKind.START: ":large_green_circle: {ref}'s window is open now: {window}. <@{proposer}>",
    ReminderKind.END: (
        ":checkered_flag: {ref}'s window ends now ({window}). <@{proposer}>, mark it *Done*, or *Extend* it, "
        "with the buttons on the message above."
    ),
}


def reminder_message(row: ProposalRow, kind: ReminderKind) -> dict[str, Any]:
    """A reminder scheduled in the change's thread: before the start, at the start, at the end. Plain text (no
    buttons: Slack posts it later and the app never learns its ts, so buttons on it could not be retired)."""
    text = _REMINDER_TEXT[kind].format(
        ref=proposal_ref(row),
        when=date_token(row.start_ts, "{time}"),
        window=window_line(row.start_ts, row.end_ts, row.input_tz),
        proposer=row.proposer,
    )
    return {"text": clip(text, TEXT_MAX)}


def emergency_blocks(row: ProposalRow) -> list[Block]:
    """An emergency, said loudly: why it started at once, its incident, and, in red, any flagged region (an
    emergency never hides one)."""
    incident = f"<{escape(row.incident_url)}|{escape(clip(row.incident_url, 80))}>"
    lines = [
        f":rotating_light: *EMERGENCY*: started at once, without the usual review. Incident: {incident}",
    ]
    flagged = [r for r in row.evaluation.get("regions", []) if r.get("flagged")]
    if flagged:
        names = ", ".join(f"*{escape(r['name'].strip())}*" for r in flagged[:DETAIL_REGIONS])
        more = f" and {len(flagged) - DETAIL_REGIONS} more" if len(flagged) > DETAIL_REGIONS else ""
        lines.append(
            f":red_circle: :warning: *This emergency lands in the peak hours of a sensitive region*: "
            f"{names}{more}. Keep it short and tell the people there."
        )
    return [_section("\n".join(lines))]


def review_blocks(row: ProposalRow) -> list[Block]:
    """An emergency's follow-up review: open, with a Mark reviewed button, or done, by whom and when."""
    if row.reviewed_by is not None:
        when = f" on {date_token(row.reviewed_at)}" if row.reviewed_at is not None else ""
        return [_context(f":white_check_mark: Follow-up review done by <@{row.reviewed_by}>{when}.")]
    return [
        _section(
            ":mag: *Follow-up review open*: an approver looks at what was done and why, then marks it reviewed."
        ),
        kit.actions(
            ids.REVIEW_BLOCK,
            [kit.button("Mark reviewed", action_id=ids.MARK_REVIEWED, value=button_value(row))],
        ),
    ]


def conflict_text(row: ProposalRow, conflicts: Sequence[ProposalRow]) -> str:
    """Other open changes overlapping this one on a service, each with its window and status."""
    lines = [f":warning: *Conflicts*: {_plural(len(conflicts), 'other open change')} on the same service:"]
    for other in conflicts[:10]:
        shared = ", ".join(s for s in row.services if s in other.services)
        lines.append(
            f"• {proposal_ref(other)} *{escape(clip(other.title, 80))}* on {escape(shared)}: "
            f"{window_short(other.start_ts, other.end_ts, row.input_tz)} ({other.status.value})"
        )
    if len(conflicts) > 10:
        lines.append(f"…and {len(conflicts) - 10} more")
    return clip("\n".join(lines), SECTION_MAX)


def _conflict_line(conflict: ConflictDoc, tz: str) -> str:
    return (
        f"CHG-{conflict.proposal_id} on {escape(', '.join(conflict.services))} "
        f"({zoned_window(conflict.window, tz)})"
    )


def _services_and_conflicts(proposed: Proposed, tz: str) -> list[str]:
    """A proposal's first reply: the services it touches and the first open changes it overlaps on them."""
    lines: list[str] = []
    if proposed.services:
        lines.append(f"*Services:* {escape(', '.join(proposed.services))}")
    if proposed.conflicts:
        lines.append(
            ":warning: *Conflicts:* overlaps "
            + "; ".join(_conflict_line(c, tz) for c in proposed.conflicts[:5])
        )
    return lines


def _fit(blocks: list[Block], limit: int = MESSAGE_BLOCKS) -> list[Block]:
    """At most ``limit`` blocks: the last ones (buttons, footer) are kept; middle blocks give way with a note."""
    if len(blocks) <= limit:
        return blocks
    keep_tail = 2
    head = blocks[: limit - keep_tail - 1]
    dropped = len(blocks) - keep_tail - len(head)
    return [*head, _context(f"…{dropped} more parts not shown."), *blocks[-keep_tail:]]


def approver_ping(row: ProposalRow, mention: Sequence[str], *, why: str) -> dict[str, Any]:
    """A thread reply that asks the approvers again, e.g. after a postponement."""
    text = (
        f":bell: {mentions(mention)} {proposal_ref(row)} needs your decision again ({escape(why)}): "
        f"{window_line(row.start_ts, row.end_ts, row.input_tz)}"
    )
    return {"text": clip(text, TEXT_MAX)}


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
    who = f" by {user_ref(period.declared_by)}" if period.declared_by else ""
    region = escape(period.region_name or period.region_id)
    return (
        f"\n>*Why:* {region} {'declared sensitive' if change != 'lifted' else 'no longer sensitive'} "
        f"{period.start_date} – {period.end_date} (period #{period.period_id}, declared{who}): "
        f"{escape(clip(period.reason, 300))}"
    )


def thread_reply(row: ProposalRow, event: EventRow) -> dict[str, Any]:
    """One audit event as a thread reply: who, what, when, why, and the window it is about (in the proposer's zone
    and UTC), readable without the parent. Every decision mentions the proposer."""
    actor = user_ref(event.actor)
    proposer = "" if event.actor == row.proposer else f" cc {user_ref(row.proposer)}"
    when = date_token(event.at)
    reason = f"\n>*Reason:* {one_line(event.reason)}" if event.reason else ""
    tz = row.input_tz
    try:
        payload = event.payload
    except ValueError:
        return {"text": clip(f"{actor}: {escape(event.kind)} on {when}.{reason}", SECTION_MAX)}
    match payload:
        case Proposed(evaluation=evaluation, window=window):
            if payload.emergency is not None:
                return _emergency_reply(row, payload, actor=actor, when=when)
            flagged = evaluation.flagged_regions
            why = [
                f"{escape(r.name)} ({r.peak_overlap_minutes} min in its peak hours, {escape(', '.join(r.reasons))})"
                for r in flagged[:DETAIL_REGIONS]
            ]
            if len(flagged) > DETAIL_REGIONS:
                # The first reply keeps the evaluation as first proposed: every flagged region is named.
                rest = flagged[DETAIL_REGIONS:]
                why.append(f"and {len(rest)} more: " + ", ".join(escape(r.name) for r in rest))
            why.extend(f"change freeze {escape(f.summary)}" for f in (evaluation.freezes or ())[:3])
            verdict = (
                ":warning: flagged: " + "; ".join(why) if why else "clear: no sensitive region at its peak"
            )
            text = (
                f":memo: {actor} proposed {proposal_ref(row)} on {when}\n*Window:* {zoned_window(window, tz)}\n"
                f"{verdict}."
            )
            text = "\n".join([text, *_services_and_conflicts(payload, tz)])
        case Approved() as approved:
            text = (
                f":white_check_mark: {actor} approved {proposal_ref(row)} on {when} "
                f"({approved.approvals} of {approved.required}"
                f"{', flagged window' if approved.flagged else ''}){proposer}.\n"
                f"*Window:* {zoned_window(approved.window, tz)}"
            )
            if approved.justification:
                text += f"\n>*Justification:* {one_line(approved.justification)}"
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
            if postponed.conflicts:
                text += "\n:warning: *Conflicts:* the new window overlaps " + "; ".join(
                    _conflict_line(c, tz) for c in postponed.conflicts[:5]
                )
        case Reopened() as reopened:
            text = (
                f":arrows_counterclockwise: {actor} reopened {proposal_ref(row)} on {when}{proposer}; "
                f"it needs {reopened.required}.\n*Window:* {zoned_window(reopened.window, tz)}{reason}"
            )
        case SensitivityChanged() as changed:
            text = _sensitivity_text(row, event, changed, actor=actor, proposer=proposer, when=when)
        case ConflictFound() as found:
            owners = f" Owners: {mentions(found.owners)}." if found.owners else ""
            text = (
                f":warning: *Conflict*: {_conflict_line(found.conflict, tz)} now overlaps {proposal_ref(row)} "
                f"(recorded on {when}, after {actor}'s change){proposer}.\n"
                f"*This window:* {zoned_window(found.window, tz)}\n"
                f"It needs {_plural(found.approvals_required_after, 'approval')} and has {found.approvals}."
            )
            if found.status_after is Status.NEEDS_REAPPROVAL and found.status_before is Status.APPROVED:
                text += " *It was approved; it now needs re-approval.*"
            text += owners
        case Reviewed():
            text = (
                f":white_check_mark: {actor} marked the follow-up review of emergency {proposal_ref(row)} done "
                f"on {when}{proposer}."
            )
        case SensitiveDeclared() | SensitiveLifted():
            text = f"{actor}: {escape(event.kind)} on {when}.{reason}"
        case Completed(window=window):
            text = (
                f":checkered_flag: {actor} marked {proposal_ref(row)} *done* on {when}{proposer}.\n"
                f"*Window:* {zoned_window(window, tz)}{reason}"
            )
        case Extended() as extended:
            if extended.status_after is Status.APPROVED:
                verdict = "the extra time is clear, so the change stays approved"
            else:
                verdict = (
                    f":warning: the extra time is flagged "
                    f"({_regions_named(extended.extra_flagged_regions, extended.evaluation)}): "
                    f"*it needs approval again* ({_plural(extended.required, 'approval')})"
                )
            text = (
                f":hourglass: {actor} extended {proposal_ref(row)} on {when}{proposer}\n"
                f"*from* {zoned_window(extended.from_, tz)}\n*to* {zoned_window(extended.to, tz)}\n"
                f"{verdict}.{reason}"
            )
        case ApprovalsExpiring() as expiring:
            who = ", ".join(f"<@{u}>" for u in expiring.approvers) or "some approvals"
            text = (
                f":hourglass_flowing_sand: The approvals of {proposal_ref(row)} by {who} will be more than "
                f"{expiring.max_age_days:g} days old when its window starts: they expire "
                f"{date_token(_ts_of(expiring.expires))} and must be renewed. cc <@{row.proposer}>"
            )
        case ApprovalsExpired() as lapsed:
            who = ", ".join(f"<@{u}>" for u in lapsed.expired)
            after = (
                "it stays approved by the younger approvals"
                if lapsed.status_after is Status.APPROVED
                else f"*it needs approval again* ({_plural(lapsed.required, 'approval')}"
                f"{', ' + str(len(lapsed.kept)) + ' kept' if lapsed.kept else ''})"
            )
            text = (
                f":rotating_light: The approvals of {proposal_ref(row)} by {who} expired on {when} "
                f"(older than {lapsed.max_age_days:g} days before the window starts); {after}. "
                f"cc <@{row.proposer}>"
            )
    return {"text": clip(text, REPLY_MAX)}


def _emergency_reply(row: ProposalRow, proposed: Proposed, *, actor: str, when: str) -> dict[str, Any]:
    """The first reply of an emergency: declared by whom, for which incident, why; flagged regions in red; how
    it is approved; and its follow-up review, with the button that closes it."""
    emergency = proposed.emergency
    assert emergency is not None
    flagged = proposed.evaluation.flagged_regions
    approval = (
        "It needs no approval (CHATOPS_EMERGENCY_APPROVAL=none)."
        if emergency.approval == "none"
        else "One on-call approver approves it."
    )
    lines = [
        f":rotating_light: *EMERGENCY* {proposal_ref(row)} declared by {actor} on {when}, starting at once.",
        f"*Window:* {zoned_window(proposed.window, row.input_tz)}",
        f"*Incident:* <{escape(emergency.incident_url)}|{escape(clip(emergency.incident_url, 80))}>",
        f">*Why it cannot wait:* {escape(emergency.reason)}",
    ]
    if flagged:
        names = ", ".join(escape(r.name) for r in flagged[:DETAIL_REGIONS])
        lines.append(f":red_circle: :warning: *Flagged*: it lands in the peak hours of {names}.")
    lines.extend(_services_and_conflicts(proposed, row.input_tz))
    lines.append(approval)
    text = clip("\n".join(lines), SECTION_MAX)
    follow_up = [
        _section(
            ":mag: *Follow-up review open* until an approver marks it reviewed: what was done, whether it "
            "could have waited, what to change."
        ),
        kit.actions(
            ids.REVIEW_BLOCK,
            [kit.button("Mark reviewed", action_id=ids.MARK_REVIEWED, value=button_value(row))],
        ),
    ]
    return {"text": text, "blocks": [_section(text), *follow_up]}


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


def assessment_message(evaluation: dict[str, Any], *, heading: str, tz: str = "UTC") -> dict[str, Any]:
    """``/maintenance check``: the evaluation, for the asker only; ``heading`` says which zone was assumed."""
    window = evaluation["window"]
    verdict = "flagged" if evaluation["flagged"] else "clear"
    start, end = _ts_of(window["start"]), _ts_of(window["end"])
    head = f"{escape(heading)}: the window is *{verdict}*.\n" + "\n".join(window_lines(start, end, tz))
    blocks: list[Block] = [
        _section(head),
        _section(risk_line(evaluation)),
        *evaluation_blocks(evaluation, tz=tz),
    ]
    return {
        "text": f"The window is {verdict}.",
        "blocks": _fit(blocks, MESSAGE_BLOCKS),
    }


USAGE = (
    "*Usage*\n"
    "• `/maintenance propose <YYYY-MM-DD> <HH:MM> [zone] <duration> <title…>`: propose a window, e.g. "
    "`/maintenance propose 2026-12-07 22:00 America/Los_Angeles 1h Core network upgrade`. Without a zone, "
    "your Slack time zone is used.\n"
    "• `/maintenance propose`: the same, in a form.\n"
    "• `/maintenance check <YYYY-MM-DD> <HH:MM> [zone] <duration>`: see how a window looks, only to you.\n"
    "• `/maintenance list`: pending and upcoming approved windows.\n"
    "• Add `services=api,db` to a proposal to name the services it touches (from the regions file): an open "
    "change overlapping it on one is shown as a conflict on both.\n"
    "• `/maintenance emergency <duration> <title…> <incident link> <reason…>`: a change that starts now, "
    "approved by one on-call approver; it stays open for a follow-up review.\n"
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
        f"(by {user_ref(p.declared_by)})"
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
    return {"text": text, "blocks": [_section(text)]}


def usage_message(problem: str | None = None) -> dict[str, Any]:
    text = f":warning: {escape(problem)}\n\n{USAGE}" if problem else USAGE
    return {"text": clip(text, TEXT_MAX), "blocks": [_section(text)]}


def error_message(problem: str) -> dict[str, Any]:
    text = f":warning: {escape(problem)}"
    return {"text": clip(text, TEXT_MAX), "blocks": [_section(text)]}


def confirmation_message(
    row: ProposalRow, *, created: bool, conflicts: Sequence[ProposalRow] = ()
) -> dict[str, Any]:
    verdict = ":warning: flagged" if row.flagged else "clear"
    if row.emergency:
        approval = (
            "it needs no approval" if row.approvals_required == 0 else "one on-call approver approves it"
        )
        text = (
            f":rotating_light: {'Declared' if created else 'Already declared'} emergency {proposal_ref(row)} "
            f"*{escape(row.title)}* for {window_short(row.start_ts, row.end_ts, row.input_tz)} ({verdict}); "
            f"{approval}, in <#{row.channel}>, where its follow-up review stays open until it is marked reviewed."
        )
        return {"text": clip(text, TEXT_MAX), "blocks": [_section(text)]}
    lead = "Proposed" if created else "Already proposed"
    text = (
        f"{lead} {proposal_ref(row)} *{escape(row.title)}* for "
        f"{window_short(row.start_ts, row.end_ts, row.input_tz)} "
        f"({verdict}); it is posted in <#{row.channel}> for approval."
    )
    if conflicts:
        text += "\n" + conflict_text(row, conflicts)
    return {"text": clip(text, TEXT_MAX), "blocks": [_section(text)]}


def list_message(
    rows: Sequence[ProposalSummary], *, total: int | None = None, at: int | None = None
) -> dict[str, Any]:
    """Pending and upcoming approved windows, soonest first; says how many are not shown, if any. Given ``at``
    (now), each window says in plain words where it stands: "opens in 3 h", "open, closes in 20 min"."""
    total = len(rows) if total is None else max(total, len(rows))
    if not rows:
        text = "No pending or upcoming approved windows."
        return {"text": text, "blocks": [_section(text)]}
    clashes = all_conflicts([Booking(r.id, r.start_ts, r.end_ts, r.services) for r in rows])

    def clash(r: ProposalSummary) -> str:
        found = clashes.get(r.id)
        if not found:
            return ""
        return " · :warning: overlaps " + ", ".join(
            f"CHG-{c.other} on {escape(', '.join(c.services))}" for c in found[:5]
        )

    lines = [
        f"• {':rotating_light: EMERGENCY ' if r.emergency else ''}"
        f"{proposal_ref(r)} *{escape(clip(r.title, 80))}*: {window_short(r.start_ts, r.end_ts, r.input_tz)} · "
        f"{r.status.value}{' · :warning: flagged' if r.flagged else ''}"
        f"{'' if at is None else ' · ' + window_state_text(r.start_ts, r.end_ts, at=at)}"
        f"{clash(r)}"
        for r in rows
    ]
    if total > len(rows):
        head = (
            f"Showing the {len(rows)} soonest of {total} pending or upcoming windows. The other "
            f"{total - len(rows)} start later; they show here as these end, and every one is in the channel."
        )
    else:
        head = f"{total} pending or upcoming window{'s' if total != 1 else ''}."
    blocks: list[Block] = [_section(head), *_sections(lines)]
    summary = head.split(".")[0] + "."
    return {"text": summary, "blocks": _fit(blocks)}


def _metadata(**values: Any) -> str:
    return json.dumps(values, separators=(",", ":"))


def propose_modal(*, tz: str, initial_start: int) -> dict[str, Any]:
    return kit.modal(
        callback_id=ids.PROPOSE_VIEW,
        title="Propose maintenance",
        submit="Propose",
        close="Close",
        private_metadata=_metadata(tz=tz),
        blocks=[
            kit.input_block(
                block_id=ids.TITLE,
                label="Title",
                element=kit.text_input(action_id=ids.TITLE, max_length=150),
            ),
            kit.input_block(
                block_id=ids.START,
                label="Start (in your Slack time zone)",
                element=kit.datetime_picker(action_id=ids.START, initial_date_time=initial_start),
            ),
            kit.input_block(
                block_id=ids.DURATION,
                label="Duration",
                hint="90m, 1h, 1h30m, 2d",
                element=kit.text_input(action_id=ids.DURATION, initial_value="1h", max_length=20),
            ),
            kit.input_block(
                block_id=ids.ZONE,
                label="Time zone to show the window in",
                hint="An IANA name such as America/Los_Angeles, or UTC",
                element=kit.text_input(action_id=ids.ZONE, initial_value=tz, max_length=64),
            ),
            kit.input_block(
                block_id=ids.DESCRIPTION,
                label="Description and risk",
                optional=True,
                element=kit.text_input(action_id=ids.DESCRIPTION, multiline=True, max_length=2000),
            ),
            kit.input_block(
                block_id=ids.ROLLBACK,
                label="Rollback plan",
                optional=True,
                element=kit.text_input(action_id=ids.ROLLBACK, multiline=True, max_length=2000),
            ),
            kit.input_block(
                block_id=ids.TICKET,
                label="Ticket link",
                optional=True,
                element=kit.url_input(action_id=ids.TICKET),
            ),
            kit.input_block(
                block_id=ids.SERVICES,
                label="Services it touches",
                hint="Names from the regions file, e.g. api, db; a change overlapping another on one is a conflict",
                optional=True,
                element=kit.text_input(action_id=ids.SERVICES, max_length=500),
            ),
        ],
    )


def reason_modal(
    row: ProposalRow, *, callback_id: str, title: str, submit: str, optional: bool
) -> dict[str, Any]:
    """The modal that asks why a change is rejected or cancelled."""
    return kit.modal(
        callback_id=callback_id,
        title=clip(title, 24),
        submit=submit,
        close="Back",
        private_metadata=_metadata(proposal=row.id, version=row.version),
        blocks=[
            _section(f"{_modal_title(row)}\n{window_text(row.start_ts, row.end_ts)}"),
            kit.input_block(
                block_id=ids.REASON,
                label="Reason (recorded in the thread)",
                optional=optional,
                element=kit.text_input(action_id=ids.REASON, multiline=True, max_length=500),
            ),
        ],
    )


def approve_modal(row: ProposalRow) -> dict[str, Any]:
    """Approving a flagged window: the risk summary and a required justification, recorded with the approval."""
    return kit.modal(
        callback_id=ids.APPROVE_VIEW,
        title="Approve flagged change",
        submit="Approve",
        close="Back",
        private_metadata=_metadata(proposal=row.id, version=row.version, round=row.round),
        blocks=[
            _section(_modal_heading(row)),
            _section(clip(risk_line(row.evaluation), SECTION_MAX)),
            *_sections(day_strips(row.evaluation, limit=3)),
            kit.input_block(
                block_id=ids.JUSTIFICATION,
                label="Why approve it anyway? (recorded in the thread and the audit log)",
                element=kit.text_input(action_id=ids.JUSTIFICATION, multiline=True, max_length=500),
            ),
        ],
    )


def postpone_modal(row: ProposalRow, suggestions: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Pre-filled with the first suggested window; lists the others."""
    initial = suggestions[0][0] if suggestions else row.start_ts
    listed = (
        "\n".join(f"{i}. {window_text(s, e)}" for i, (s, e) in enumerate(suggestions, 1))
        if suggestions
        else "No unflagged window was found within the horizon; pick a start yourself."
    )
    return kit.modal(
        callback_id=ids.POSTPONE_VIEW,
        title="Postpone change",
        submit="Postpone",
        close="Back",
        private_metadata=_metadata(proposal=row.id, version=row.version),
        blocks=[
            _section(
                f"{_modal_title(row)}\n"
                f"Now: {window_text(row.start_ts, row.end_ts)}\n*Suggested windows:*\n{listed}"
            ),
            kit.input_block(
                block_id=ids.START,
                label="New start (in your Slack time zone)",
                element=kit.datetime_picker(action_id=ids.START, initial_date_time=initial),
            ),
            kit.input_block(
                block_id=ids.DURATION,
                label="Duration",
                element=kit.text_input(
                    action_id=ids.DURATION,
                    initial_value=format_duration(timedelta(seconds=row.end_ts - row.start_ts)),
                    max_length=20,
                ),
            ),
            kit.input_block(
                block_id=ids.REASON,
                label="Reason (recorded in the thread)",
                element=kit.text_input(action_id=ids.REASON, multiline=True, max_length=500),
            ),
        ],
    )


def _modal_title(row: ProposalRow) -> str:
    """A modal's first line: the change's reference and title."""
    return f"{proposal_ref(row)} *{escape(clip(row.title, 150))}*"


def _modal_heading(row: ProposalRow) -> str:
    """The title line, then the window in the zone it was proposed in, in UTC and in each reader's own time."""
    return "\n".join([_modal_title(row), *window_lines(row.start_ts, row.end_ts, row.input_tz)])


def now_grid(now: datetime) -> int:
    """The next quarter hour after ``now``, as a datetimepicker's initial value."""
    ts = int(now.astimezone(UTC).timestamp())
    return ts + (900 - ts % 900)


def done_modal(text: str) -> dict[str, Any]:
    """What a submitted propose form turns into: the confirmation, with only a Close button."""
    return kit.modal(
        title="Proposed",
        close="Close",
        blocks=[_section(text)],
    )


def extend_modal(row: ProposalRow) -> dict[str, Any]:
    """Extend: how much longer the approved window needs. The extra time is evaluated as a window of its own;
    if it is flagged, the change needs approval again."""
    return kit.modal(
        callback_id=ids.EXTEND_VIEW,
        title="Extend window",
        submit="Extend",
        close="Back",
        private_metadata=_metadata(proposal=row.id, version=row.version),
        blocks=[
            _section(
                _modal_heading(row)
                + "\nIf the extra time lands in a flagged region's peak, the change needs approval again."
            ),
            kit.input_block(
                block_id=ids.EXTRA,
                label="Extra time (30m, 1h, 1h30m)",
                element=kit.text_input(action_id=ids.EXTRA, initial_value="30m", max_length=20),
            ),
            kit.input_block(
                block_id=ids.REASON,
                label="Why (recorded in the thread)",
                optional=True,
                element=kit.text_input(action_id=ids.REASON, multiline=True, max_length=500),
            ),
        ],
    )
