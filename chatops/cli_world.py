"""``chatops calendar export`` and ``chatops regions generate``: the CLI's calendar and world commands."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO


def add_commands(sub: Any, *, database: argparse.ArgumentParser, parser_class: type) -> None:
    """Register the commands on the ``chatops`` sub-parsers ``sub``."""
    calendar = sub.add_parser("calendar", help="the calendar feed of maintenance windows")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True, parser_class=parser_class)
    export = calendar_sub.add_parser(
        "export",
        parents=[database],
        help="approved and pending windows as an iCalendar file",
        description="Write approved and pending windows (those that ended up to 30 days ago included) as "
        "iCalendar, in UTC, each linking its Slack thread.",
    )
    export.add_argument("--output", "-o", help="write to this file instead of standard output")
    export.add_argument(
        "--slack-url",
        default=None,
        help="the workspace's address for thread links (default: $CHATOPS_SLACK_URL or https://slack.com/)",
    )
    export.set_defaults(handler=cmd_calendar_export)


def cmd_calendar_export(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.cli import _open_store
    from chatops.errors import ConfigError
    from chatops.feed import build_feed, feed_rows

    slack_url = args.slack_url or os.environ.get("CHATOPS_SLACK_URL") or "https://slack.com/"
    if not slack_url.startswith(("https://", "http://")):
        raise ConfigError(f"--slack-url {slack_url!r} is not an http(s) URL")
    store = _open_store(args)
    try:
        now = datetime.now(UTC)
        body = build_feed(feed_rows(store, now=now), slack_url=slack_url, now=now)
    finally:
        store.close()
    if args.output:
        try:
            Path(args.output).write_bytes(body)
        except OSError as exc:
            raise ConfigError(f"{args.output}: cannot be written ({exc.__class__.__name__})") from None
    else:
        out.write(body.decode("utf-8"))
    return 0
