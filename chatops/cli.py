"""The ``chatops`` command: a thin shell over the same engine and service the Slack app uses.

Exit status: 0 done (``check``: the window is clear), 1 ``check`` found the window flagged, 2 bad input or bad
configuration (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from chatops import __version__, tzdb
from chatops.calendars import DEFAULT_CACHE, CalendarFetcher, Calendars
from chatops.config import BUNDLED_REGIONS, load_regions
from chatops.domain import daystrip, evaluate
from chatops.domain.evaluate import evaluation_document
from chatops.domain.freezes import reason as freeze_reason
from chatops.domain.freezes import with_freezes
from chatops.domain.models import Evaluation, RegionsConfig, Window
from chatops.domain.policy import Status, check_window
from chatops.domain.suggest import Choice, choose
from chatops.domain.timeline import from_ts, to_ts
from chatops.domain.windows import format_duration, parse_duration, parse_start, zone
from chatops.errors import ChatopsError, ConfigError, InputError, NotFoundError

if TYPE_CHECKING:  # the store (and SQLAlchemy) and slack_sdk are imported only by the commands that use them
    from slack_sdk import WebClient

    from chatops.settings import Settings
    from chatops.store import ProposalRow
    from chatops.store.sql import SqlStore

EXIT_CLEAR, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client (see chatops.metrics)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _both(moment: datetime, tz_name: str) -> str:
    utc = f"{moment:%a %Y-%m-%d %H:%M} UTC"
    if tz_name == "UTC":
        return utc
    local = moment.astimezone(zone(tz_name))
    return f"{utc} ({local:%a %Y-%m-%d %H:%M %Z} {tz_name})"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _there(start: datetime, evaluation: Evaluation) -> str:
    """`` — Wed 01:30 +0430 in Iran``: where a suggested window starts for the (first two) flagged regions, as
    the Slack message shows it."""
    places = [
        f"{start.astimezone(zone(r.timezone)):%a %H:%M %z} in {r.name}" for r in evaluation.flagged_regions
    ][:2]
    return f" — {', '.join(places)}" if places else ""


def strip_text(evaluation: Evaluation) -> list[str]:
    """Each flagged region's local day as 24 hour cells, under one ruler, with the legend once."""
    w = evaluation.window
    lines = [f"Local day  {daystrip.RULER.rstrip()}"]
    for r in evaluation.flagged_regions:
        strip = daystrip.day_strip(r.timezone, daystrip.peak_ranges(r.peak_hours), w)
        lines.append(f"           {strip.cells}  {daystrip.caption(strip, name=r.name, timezone=r.timezone)}")
    legend = daystrip.LEGEND.replace("`", "")
    lines.append(f"           {legend}")
    return lines


def render_text(
    evaluation: Evaluation,
    suggestions: Sequence[Window | Choice],
    *,
    tz_name: str,
    assumed: str | None = None,
) -> str:
    """The human report of ``chatops check``: window, a table of regions (flagged first), suggestions.

    ``assumed``: a note that no zone was given and which one was used."""
    w = evaluation.window
    lines = [
        f"Window   {_both(w.start, tz_name)}",
        f"      →  {_both(w.end, tz_name)}   [{format_duration(w.duration)}]",
        *([assumed] if assumed else []),
        "",
    ]
    ordered = sorted(evaluation.regions, key=lambda r: (not r.flagged, not r.sensitive))
    rows = [["REGION", "ZONE", "LOCAL START", "LOCAL END", "PEAK MIN", "FLAG", "WHY"]]
    for r in ordered:
        rows.append(
            [
                f"{r.name} ({r.id})",
                r.timezone,
                f"{r.local_start:%a %m-%d %H:%M} {r.local_start.strftime('%z')}",
                f"{r.local_end:%a %m-%d %H:%M} {r.local_end.strftime('%z')}",
                str(r.peak_overlap_minutes),
                "FLAGGED" if r.flagged else ("sensitive" if r.sensitive else "ok"),
                "; ".join(r.reasons),
            ]
        )
    lines.extend(_table(rows))
    lines.append("")
    for freeze in evaluation.freezes:
        lines.append(
            f"FLAGGED: {freeze_reason(freeze)}, {_both(freeze.start, tz_name)} → {_both(freeze.end, tz_name)}."
        )
    if evaluation.flagged:
        if evaluation.flagged_regions:
            names = ", ".join(r.name for r in evaluation.flagged_regions)
            lines.append(f"FLAGGED: this window hits the daytime peak of a sensitive region ({names}).")
            lines.append("")
            lines.extend(strip_text(evaluation))
        lines.append("")
        if suggestions:
            lines.append("Windows that are not flagged:")
            for i, s in enumerate(suggestions, 1):
                lines.append(f"  {i}. {_both(s.start, tz_name)}{_there(s.start, evaluation)}")
                if isinstance(s, Choice):
                    lines.append(f"     {s.why}")
        else:
            lines.append("No unflagged window of this length was found within the horizon.")
    else:
        lines.append("Clear: no sensitive region is at its peak during this window.")
    return "\n".join(lines)


def _calendar_fetcher() -> CalendarFetcher:
    return CalendarFetcher(Path(os.environ.get("CHATOPS_CALENDAR_CACHE") or DEFAULT_CACHE))


def _calendars(config: RegionsConfig, path: str | None) -> Calendars:
    """The calendars of the regions file at ``path`` (relative paths in it read from its directory), not read yet."""
    base = Path(path).parent if path and path != BUNDLED_REGIONS else Path.cwd()
    return Calendars(config, base_dir=base, fetcher=_calendar_fetcher())


def calendars_for(config: RegionsConfig, path: str | None, *, err: TextIO | None = None) -> Calendars:
    """The calendars of a regions file, read now; a freeze calendar of which no copy can be read is an error
    (a gate must not pass a window because its freeze calendar was unreachable), a stale copy a warning."""
    calendars = _calendars(config, path)
    problems = calendars.refresh()
    missing = calendars.missing_problems()
    if missing:
        raise ConfigError(f"{path}: {missing[0]}")
    for line in problems:
        (err or sys.stderr).write(f"warning: {line}\n")
    return calendars


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    config = load_regions(args.config)
    tz_name = args.tz or "UTC"
    start = parse_start(args.start, tz=tz_name)
    window = Window.of(start, parse_duration(args.duration))
    check_window(window, policy=config.policy)
    calendars = calendars_for(config, args.config, err=getattr(args, "err", None))
    reach = window.end + config.policy.horizon + window.duration
    regions = calendars.regions(config.regions, window.start, reach)
    freezes = calendars.freezes(window.start, reach)
    evaluation = with_freezes(evaluate(window, regions=regions), freezes)
    suggestions = (
        choose(
            window,
            regions=regions,
            team=calendars.team(config.team, window.start, reach),
            horizon=config.policy.horizon,
            count=config.policy.suggestions,
            freezes=freezes,
        )
        if evaluation.flagged
        else []
    )
    services = _check_services(args, config, window)
    if args.json:
        document = {**evaluation_document(evaluation, suggestions), "tzdata": tzdb.current().document()}
        if services is not None:
            document["services"] = services.document()
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        assumed = None
        if args.tz is None:
            how = "a start without an offset is read as UTC, and " if _is_naive(args.start) else ""
            assumed = f"         (no --tz given: {how}times are shown in UTC)"
        out.write(render_text(evaluation, suggestions, tz_name=tz_name, assumed=assumed) + "\n")
        if services is not None:
            out.write(services.text(tz_name) + "\n")
    conflicting = services is not None and bool(services.conflicts)
    return EXIT_FLAGGED if evaluation.flagged or conflicting else EXIT_CLEAR


@dataclass(frozen=True)
class _ServicesAnswer:
    """``chatops check --services``: the names (checked against the regions file) and, when a database was
    given, the open changes overlapping the window on them (None: the database was not asked)."""

    names: tuple[str, ...]
    conflicts: list[ProposalRow] | None

    def document(self) -> dict[str, Any]:
        found = None
        if self.conflicts is not None:
            found = [
                {
                    "change": f"CHG-{r.id}",
                    "title": r.title,
                    "status": r.status.value,
                    "start": from_ts(r.start_ts).isoformat(),
                    "end": from_ts(r.end_ts).isoformat(),
                    "services": [s for s in r.services if s in self.names],
                }
                for r in self.conflicts
            ]
        return {
            "names": list(self.names),
            "checked": "database" if self.conflicts is not None else "names only",
            "conflicts": found,
        }

    def text(self, tz_name: str) -> str:
        local = zone(tz_name)
        head = f"Services: {', '.join(self.names)} (known to the regions file)."
        if self.conflicts is None:
            return (
                f"{head} No database given (--database-url or CHATOPS_DATABASE_URL): only the names were "
                "checked, not other changes."
            )
        if not self.conflicts:
            return f"{head} No open change overlaps this window on them (database checked)."
        lines = [f"{head} CONFLICT: {len(self.conflicts)} open change(s) overlap this window on them:"]
        for r in self.conflicts:
            start, end = from_ts(r.start_ts).astimezone(local), from_ts(r.end_ts).astimezone(local)
            shared = ", ".join(s for s in r.services if s in self.names)
            lines.append(
                f"  CHG-{r.id} {r.title!r} ({r.status.value}) on {shared}: "
                f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} {tz_name}"
            )
        return "\n".join(lines)


def _check_services(
    args: argparse.Namespace, config: RegionsConfig, window: Window
) -> _ServicesAnswer | None:
    from chatops.domain.conflicts import check_services, parse_services

    given = bool(args.database_url or os.environ.get("CHATOPS_DATABASE_URL"))
    if args.services is None:
        if args.database_url:
            raise InputError("--database-url is for --services (which changes overlap the window on them)")
        return None
    names = parse_services(args.services)
    if not names:
        raise InputError("--services names no service; write --services api,db")
    check_services(names, known=config.service_names)
    if not given:
        return _ServicesAnswer(names=names, conflicts=None)
    store = _open_existing_store(args)
    try:
        found = store.overlapping(
            start_ts=to_ts(window.start),
            end_ts=to_ts(window.end),
            services=names,
            statuses=(Status.PENDING, Status.NEEDS_REAPPROVAL, Status.APPROVED),
        )
    finally:
        store.close()
    return _ServicesAnswer(names=names, conflicts=found)


def _is_naive(text: str) -> bool:
    try:
        return datetime.fromisoformat(text.strip()).tzinfo is None
    except ValueError:
        return True


class _Version(argparse.Action):
    """``--version``: the program's version and the time-zone rules in use (worked out when asked)."""

    def __init__(
        self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None
    ) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> NoReturn:
        sys.stdout.write(f"chatops {__version__}; time zone rules {tzdb.current()}\n")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chatops", description="Maintenance windows that know when the world is watching.")
    parser.add_argument(
        "--version", action=_Version, help="show the version and the time zone rules in use, and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="evaluate a window against every region (exit 0 clear, 1 flagged, 2 bad input)",
        description="Evaluate a maintenance window against every region's peak hours and sensitivity.",
    )
    check.add_argument(
        "--start", required=True, help="ISO 8601 start: 2009-06-15T22:00 (local to --tz) or with Z/offset"
    )
    check.add_argument(
        "--tz", default=None, help="IANA zone for a start without offset, and for output (default UTC)"
    )
    check.add_argument("--duration", required=True, help="90m, 1h, 1h30m, 2d")
    check.add_argument("--config", default=None, help="regions file (default: the bundled one)")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.add_argument(
        "--services",
        default=None,
        help="services the window touches (api,db): checked against the regions file and, with a database, "
        "against open changes on them (an overlap exits 1)",
    )
    check.add_argument(
        "--database-url",
        default=None,
        help="with --services: the database to look for overlapping open changes in "
        "(default: $CHATOPS_DATABASE_URL; without either only the names are checked)",
    )
    check.set_defaults(handler=cmd_check)

    serve = sub.add_parser(
        "serve",
        help="run the Slack app (HTTP, or socket mode for development)",
        description="Run the Slack app. Settings come from the environment (see the README).",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    serve.add_argument("--socket-mode", action="store_true", help="connect to Slack over Socket Mode instead")
    serve.add_argument(
        "--log-format",
        choices=("json", "text"),
        default="json",
        help="logs on stderr: one JSON object per line (default) or plain text",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="deliver the outbox to Slack (and run the sweep), without serving requests",
        description="Deliver the Slack messages the serving processes commit to the outbox, and run the sweep "
        "(approval expiry, reminders, parent refreshes), against the same database. Run `chatops serve` with "
        "CHATOPS_DELIVERY_THREADS=0 beside it to keep that work off the serving processes. Settings come from "
        "the environment (see the README).",
    )
    worker.add_argument(
        "--threads",
        type=int,
        default=None,
        help="delivery threads, 1 to 64 (default: CHATOPS_DELIVERY_THREADS)",
    )
    worker.add_argument(
        "--poll-interval",
        type=float,
        default=0.2,
        help="seconds between two looks at the outbox (default 0.2): the serving processes cannot wake a worker "
        "in another process",
    )
    worker.add_argument(
        "--log-format",
        choices=("json", "text"),
        default="json",
        help="logs on stderr: one JSON object per line (default) or plain text",
    )
    worker.set_defaults(handler=cmd_worker)

    manifest = sub.add_parser(
        "manifest",
        help="print the Slack app manifest for your server (paste it at api.slack.com/apps)",
        description="Print manifest.yml with the request URLs set to URL/slack/events, or for socket mode.",
    )
    where = manifest.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the server's public base URL, e.g. https://chatops.example.org")
    where.add_argument("--socket-mode", action="store_true", help="socket mode: no request URLs")
    manifest.set_defaults(handler=cmd_manifest)

    config = sub.add_parser("config", help="the regions file")
    config_sub = config.add_subparsers(dest="config_command", required=True, parser_class=_Parser)
    validate = config_sub.add_parser(
        "validate",
        help="report every problem in a regions file (exit 0 ok, 2 problems)",
        description="Check a regions file and list every problem at once, one per line, with line numbers.",
    )
    validate.add_argument(
        "file", nargs="?", default=None, help="regions file (default: $CHATOPS_CONFIG or the bundled one)"
    )
    validate.set_defaults(handler=cmd_config_validate)

    database = _Parser(add_help=False)
    database.add_argument(
        "--database-url",
        default=None,
        help="database URL (default: $CHATOPS_DATABASE_URL or sqlite:///chatops.db)",
    )

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    upgrade = db_sub.add_parser("upgrade", parents=[database], help="apply pending schema migrations")
    upgrade.set_defaults(handler=cmd_db_upgrade)

    gate = sub.add_parser(
        "gate",
        parents=[database],
        help="may this change run now? (exit 0 go, 1 outside its window, 3 not approved, 2 bad input)",
        description="For deploy pipelines: exit 0 only when the change is approved and its window is open.",
    )
    gate.add_argument("proposal", help="the change number: 12 or CHG-12")
    gate.add_argument(
        "--at", default=None, help="the instant to ask about (ISO 8601; default now; no offset: UTC)"
    )
    gate.add_argument("--json", action="store_true", help="print the answer as JSON")
    gate.set_defaults(handler=cmd_gate)

    audit = sub.add_parser("audit", help="read and verify the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    export = audit_sub.add_parser(
        "export", parents=[database], help="every audit event, as JSON lines or CSV"
    )
    export.add_argument(
        "--since", help="only events at or after this UTC date or time (2026-11-01, 2026-11-01T12:00)"
    )
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.set_defaults(handler=cmd_audit_export)
    show = audit_sub.add_parser("show", parents=[database], help="one change's history and thread")
    show.add_argument("proposal", help="the change number: 12 or CHG-12")
    show.set_defaults(handler=cmd_audit_show)
    verify = audit_sub.add_parser(
        "verify",
        parents=[database],
        help="check the audit chain, the tables against it, and the signed checkpoints (exit 0 intact, 1 not)",
        description="Check the audit log: the hash chain over every event, each change's state re-derived "
        "from its events against the tables, and (with CHATOPS_AUDIT_KEY) the signed checkpoints.",
    )
    verify.add_argument(
        "--slack",
        action="store_true",
        help="also compare each change's thread in Slack (conversations.replies; needs SLACK_BOT_TOKEN)",
    )
    verify.set_defaults(handler=cmd_audit_verify)

    from chatops.cli_world import add_commands

    add_commands(sub, database=database, parser_class=_Parser)
    return parser


def _database_url(args: argparse.Namespace) -> tuple[str, str]:
    """The database URL and the setting it came from (``--database-url`` or ``CHATOPS_DATABASE_URL``)."""
    if args.database_url:
        return str(args.database_url), "--database-url"
    return os.environ.get("CHATOPS_DATABASE_URL") or "sqlite:///chatops.db", "CHATOPS_DATABASE_URL"


def _open_existing_store(args: argparse.Namespace) -> SqlStore:
    """Open a database that must exist already, at the current schema, without creating or migrating anything
    (the ``audit`` and ``gate`` commands): a missing SQLite file or an unreachable server is a ConfigError."""
    from sqlalchemy.engine import make_url

    from chatops.store.connect import check_database_url, reason
    from chatops.store.migrate import current_revision, head_revision

    url, name = _database_url(args)
    shown = check_database_url(url, name=name)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:":
            raise ConfigError("an in-memory database has no audit log; give the URL of a database file")
        if not Path(u.database).is_file():
            raise ConfigError(f"there is no database at {shown} (no such file)")
    store = _open_store(args, migrate=False)
    try:
        store.ping()
        revision = current_revision(store.engine)
    except Exception as exc:
        store.close()
        raise ConfigError(f"{name}: cannot open the database at {shown}: {reason(exc)}") from None
    if revision is None:
        store.close()
        raise ConfigError(f"the database at {shown} holds no chatops schema")
    if revision != head_revision():
        store.close()
        raise ConfigError(
            f"the database at {shown} is at schema revision {revision}, not {head_revision()}: "
            "run `chatops db upgrade` first"
        )
    return store


def _audit_key() -> bytes | None:
    key = os.environ.get("CHATOPS_AUDIT_KEY", "")
    return key.encode() if key else None


def _open_store(args: argparse.Namespace, *, migrate: bool = True) -> SqlStore:
    from chatops.store.connect import check_database_url, reason
    from chatops.store.sql import SqlStore

    url, name = _database_url(args)
    shown = check_database_url(url, name=name)
    try:
        return SqlStore.open(url, migrate=migrate)
    except Exception as exc:
        raise ConfigError(f"{name}: cannot open the database at {shown}: {reason(exc)}") from None


def cmd_db_upgrade(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.store.migrate import head_revision

    store = _open_store(args)
    store.close()
    out.write(f"database is at schema revision {head_revision()}\n")
    return 0


def _proposal_number(text: str) -> int:
    digits = text.strip().upper().removeprefix("CHG-")
    if not digits.isdigit():
        raise InputError(f"{text!r} is not a change number (write 12 or CHG-12)")
    return int(digits)


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.domain.gate import gate

    number = _proposal_number(args.proposal)
    at = to_ts(parse_start(args.at, tz="UTC")) if args.at else int(time.time())
    store = _open_existing_store(args)
    try:
        row = store.get_proposal(number)
    finally:
        store.close()
    if row is None:
        raise NotFoundError(f"there is no change CHG-{number} in this database")
    answer = gate(change=row.id, status=row.status, start_ts=row.start_ts, end_ts=row.end_ts, at=at)
    if args.json:
        out.write(json.dumps(answer.document(), indent=2) + "\n")
    else:
        out.write(answer.summary + "\n")
    return int(answer.exit_status)


def cmd_audit_export(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.audit import export_csv, export_jsonl

    since = None
    if args.since:
        since = (
            to_ts(parse_start(args.since, tz="UTC"))
            if "T" in args.since
            else to_ts(parse_start(f"{args.since}T00:00", tz="UTC"))
        )
    store = _open_existing_store(args)
    try:
        writer = export_csv if args.format == "csv" else export_jsonl
        for chunk in writer(store.iter_events(since=since)):
            out.write(chunk)
    finally:
        store.close()
    return 0


def cmd_audit_show(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.audit import describe

    number = _proposal_number(args.proposal)
    store = _open_existing_store(args)
    try:
        row = store.get_proposal(number)
        if row is None:
            raise NotFoundError(f"there is no change CHG-{number} in this database")
        events = store.events(row.id)
    finally:
        store.close()
    out.write(f"CHG-{row.id}: {row.title}\n")
    out.write(
        f"status {row.status.value}; proposed by {row.proposer}; window {from_ts(row.start_ts).isoformat()}"
        f" -> {from_ts(row.end_ts).isoformat()}{' (flagged)' if row.flagged else ''}\n"
    )
    out.write(f"thread: {_permalink(row.channel, row.message_ts)}\n\n")
    for event in events:
        out.write(describe(event) + "\n")
    return 0


def _slack_client(token: str) -> WebClient:
    """A Web API client for the audit commands (``SLACK_API_URL`` points it elsewhere, as the server's does)."""
    from chatops.slack.http import PooledWebClient

    return PooledWebClient(
        token=token, base_url=os.environ.get("SLACK_API_URL") or PooledWebClient.BASE_URL, timeout=10
    )


def _permalink(channel: str, message_ts: str | None) -> str:
    """The thread's permalink from Slack when a bot token is set; else where to find it."""
    if not message_ts:
        return f"not posted yet (channel {channel})"
    token = os.environ.get("SLACK_BOT_TOKEN")
    if token:
        from slack_sdk.errors import SlackApiError, SlackClientError

        client = _slack_client(token)
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=message_ts)["permalink"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            return (
                f"channel {channel}, message {message_ts} (permalink unavailable: {exc.__class__.__name__})"
            )
    return f"channel {channel}, message {message_ts} (set SLACK_BOT_TOKEN for a permalink)"


def cmd_audit_verify(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.audit import verify, verify_slack

    store = _open_existing_store(args)
    try:
        report = verify(store, key=_audit_key())
        if args.slack:
            report.problems.extend(verify_slack(store, _thread_reader()))
    finally:
        store.close()
    for problem in report.problems:
        out.write(f"BROKEN: {problem}\n")
    for note in report.notes:
        out.write(f"note: {note}\n")
    counts = f"{report.events} events, {report.changes} changes, {report.checkpoints} checkpoints"
    if report.problems:
        out.write(f"{len(report.problems)} problem(s) in the audit log ({counts})\n")
        return 1
    checked = "the chain, every change's state" + (", signed checkpoints" if _audit_key() else "")
    out.write(f"audit log intact: {counts}; checked {checked}{', Slack threads' if args.slack else ''}\n")
    return 0


def _thread_reader() -> Callable[[str, str], Iterator[dict[str, Any]]]:
    """conversations.replies, page by page, with the bot token from the environment."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        raise ConfigError("--slack needs SLACK_BOT_TOKEN (a bot token with channels:history)")
    client = _slack_client(token)

    def replies(channel: str, ts: str) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            try:
                page = client.conversations_replies(
                    channel=channel, ts=ts, cursor=cursor, limit=200, include_all_metadata=True
                )
            except (SlackApiError, SlackClientError, OSError) as exc:
                raise ConfigError(f"cannot read the thread {ts} in {channel} from Slack: {exc}") from None
            yield from page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    return replies


MANIFEST_PLACEHOLDER = "https://chatops.example.org"


def base_url(text: str) -> str:
    """The scheme and host (and port) of a server's public https URL (Slack sends requests only to https);
    anything else in it is refused."""
    from urllib.parse import urlsplit

    example = "give the server's base URL, e.g. https://chatops.example.org (/slack/events is added)"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise InputError(f"--url {text!r} is not a URL ({exc}); {example}") from None
    if parts.scheme.lower() == "http" and parts.hostname:
        raise InputError(f"--url {text!r} is http; Slack sends requests only to https URLs; {example}")
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise InputError(f"--url {text!r} is not an https URL; {example}")
    host = parts.netloc.rsplit(":", 1)[0] if port else parts.netloc
    if not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", host):
        raise InputError(f"--url {text!r} has a user, a password or odd characters in its host; {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"--url {text!r} has a path, query or fragment; {example}")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def manifest_text(*, url: str | None = None, socket_mode: bool = False) -> str:
    """manifest.yml with its request URLs pointing at ``url``/slack/events, or set up for socket mode."""
    from importlib import resources

    source = resources.files("chatops.data").joinpath("manifest.yml").read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)  # the file's own instructions, about the placeholder
    body = "".join(lines)
    if MANIFEST_PLACEHOLDER not in body or "socket_mode_enabled: false" not in body:  # pragma: no cover
        raise ConfigError("the bundled manifest.yml has no placeholder URL or socket_mode_enabled setting")
    if socket_mode:
        body = "".join(line for line in lines if MANIFEST_PLACEHOLDER not in line)
        body = body.replace("socket_mode_enabled: false", "socket_mode_enabled: true")
        how = "chatops manifest --socket-mode"
    else:
        assert url is not None
        body = body.replace(MANIFEST_PLACEHOLDER, url)
        how = f"chatops manifest --url {url}"
    return f"# Slack app manifest for chatops ({how}): paste it at api.slack.com/apps.\n{body}"


def cmd_manifest(args: argparse.Namespace, out: TextIO) -> int:
    url = None if args.socket_mode else base_url(args.url)
    out.write(manifest_text(url=url, socket_mode=args.socket_mode))
    return 0


def cmd_config_validate(args: argparse.Namespace, out: TextIO) -> int:
    from importlib import resources

    from chatops.config import BUNDLED_REGIONS, regions_file_problems

    path = args.file or os.environ.get("CHATOPS_CONFIG") or BUNDLED_REGIONS
    if path == BUNDLED_REGIONS:
        text = resources.files("chatops.data").joinpath("regions.toml").read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a directory, not a regions file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    config, problems = regions_file_problems(text, source=str(path))
    if config is not None and config.calendars:
        calendars = _calendars(config, path)
        lines = calendars.refresh()
        missing = calendars.missing_problems()
        problems.extend(f"{path}: {line}" for line in missing)
        for line in lines:
            if line not in missing:
                (getattr(args, "err", None) or sys.stderr).write(f"{path}: warning: {line}\n")
        if problems:
            config = None
    if config is None:
        err: TextIO = getattr(args, "err", None) or sys.stderr
        err.write("".join(f"{problem}\n" for problem in problems))
        err.write(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}\n")
        return EXIT_USAGE
    regions = config.regions
    always = sum(r.sensitive for r in regions)
    periods = sum(len(r.sensitive_periods) for r in regions)
    policy = config.policy
    out.write(
        f"ok: {path}: {len(regions)} region{'s' if len(regions) != 1 else ''} ({always} always sensitive, "
        f"{periods} sensitive period{'s' if periods != 1 else ''}); approvals {policy.approvals_required}, "
        f"flagged {policy.flagged_approvals_required}; horizon {policy.horizon_days} days"
        f"{'; team ' + config.team.timezone if config.team else ''}\n"
    )
    return EXIT_CLEAR


def _start(settings: Settings, doing: str) -> None:
    """What ``serve`` and ``worker`` do first: refuse a database URL that can never work (exit 2 at once), choose
    the time zone rules, say what starts, then wait (bounded, logged) for a database that is not up yet, which
    also migrates it."""
    import logging

    from chatops.store import open_store
    from chatops.store.connect import check_database_url, open_when_up

    shown = check_database_url(settings.chatops_database_url)
    rules = tzdb.use(settings.chatops_tz_source)
    logging.getLogger("chatops").info(
        "chatops %s %s; time zone rules %s; database %s", __version__, doing, rules, shown
    )
    open_when_up(
        lambda: open_store(settings.chatops_database_url), shown=shown, wait=settings.chatops_database_wait
    ).close()


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.config import load_settings
    from chatops.observability import configure_logging

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port} is not a port number (1-65535)")
    if args.workers < 1 or args.threads < 1:
        raise InputError("--workers and --threads must be at least 1")
    configure_logging(args.log_format)
    settings = load_settings()
    mode = "socket mode" if args.socket_mode else f"HTTP on {args.host}:{args.port}, {args.workers} workers"
    _start(settings, f"starting ({mode})")
    with _metrics_directory(enabled=not args.socket_mode):
        # Imported only now: prometheus_client chooses its storage (per process or shared) at import.
        from chatops.web import build_runtime, serve_http, serve_socket_mode

        # Fail fast, before forking, on a bad regions file.
        build_runtime(settings, start_worker=False).store.close()
        if args.socket_mode:
            serve_socket_mode(settings)
        else:
            serve_http(settings, host=args.host, port=args.port, workers=args.workers, threads=args.threads)
    return 0


def cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    """Run the delivery threads and the sweep until SIGTERM or SIGINT; then finish the messages in hand."""
    import logging
    import signal
    import threading

    from chatops.config import load_settings
    from chatops.observability import configure_logging

    if not 0.01 <= args.poll_interval <= 60:
        raise InputError(f"--poll-interval {args.poll_interval} must be between 0.01 and 60 seconds")
    configure_logging(args.log_format)
    settings = load_settings()
    threads = settings.chatops_delivery_threads if args.threads is None else args.threads
    if not 1 <= threads <= 64:
        raise InputError(
            f"chatops worker needs 1 to 64 delivery threads, not {threads} (--threads or CHATOPS_DELIVERY_THREADS)"
        )
    _start(settings, f"worker starting ({threads} delivery threads)")
    from chatops.web import build_runtime, tune_gc_for_serving

    logger = logging.getLogger("chatops")
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stopping.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    runtime = build_runtime(
        settings.model_copy(update={"chatops_delivery_threads": threads}), poll_interval=args.poll_interval
    )
    tune_gc_for_serving()
    try:
        while not stopping.wait(0.5):  # a timed wait: the signal handler runs in this thread
            pass
        logger.info("stopping: finishing the messages in hand")
    finally:
        runtime.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


@contextlib.contextmanager
def _metrics_directory(*, enabled: bool) -> Iterator[None]:
    """gunicorn's workers are separate processes: they add up their metrics in files in a directory
    (``PROMETHEUS_MULTIPROC_DIR``). Use the one the environment names, or make one and remove it at exit."""
    import logging
    import shutil
    import tempfile

    if not enabled or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="chatops-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    owner = os.getpid()
    logging.getLogger("chatops.metrics").info("metrics of all worker processes are added up in %s", directory)
    try:
        yield
    finally:
        # A gunicorn worker leaves through here too (it is a fork of this process): only the one that made
        # the directory removes it.
        if os.getpid() == owner:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(directory, ignore_errors=True)


JSON_COMMANDS = frozenset({"check", "gate"})
"""Commands with ``--json``: with it, even an error is JSON (``{"error": "…"}``) on stdout, exit status 2."""


def _wants_json(argv: Sequence[str]) -> bool:
    command = next((a for a in argv if not a.startswith("-")), None)
    return command in JSON_COMMANDS and "--json" in argv


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(argv)

    def fail(message: str, *, prefix: str) -> int:
        if as_json:
            out.write(json.dumps({"error": message}, ensure_ascii=False) + "\n")
        else:
            err.write(f"{prefix}{message}\n")
        return EXIT_USAGE

    try:
        # The time-zone rules are chosen before anything reads a zone (CHATOPS_TZ_SOURCE: package or host).
        tzdb.use()
    except ChatopsError as exc:
        return fail(str(exc), prefix="chatops: ")
    parser = build_parser()
    captured = io.StringIO()
    usage = captured if as_json else err
    try:
        # argparse prints --help and usage errors to sys.stdout/sys.stderr itself: send them to out/err.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(usage):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        status = int(exc.code or 0)
        if as_json and status == EXIT_USAGE:
            return fail(captured.getvalue().strip(), prefix="")
        return status
    try:
        # The zone given with --tz is checked up front, so a typo is reported even with an offset in --start.
        if getattr(args, "tz", None) is not None:
            zone(args.tz)
        args.err = err  # for handlers that report more than one line of problems
        return int(args.handler(args, out))
    except ChatopsError as exc:
        return fail(str(exc), prefix=f"chatops {args.command}: ")
    except KeyboardInterrupt:
        err.write("chatops: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
