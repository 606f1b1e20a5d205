"""Configuration read once at the edge: the regions file (TOML); the app's settings (environment) are in
:mod:`chatops.settings` (also reachable here as ``chatops.config.Settings``)."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chatops.domain.models import RegionsConfig
from chatops.errors import ConfigError

if TYPE_CHECKING:
    from chatops.settings import Settings, load_settings

__all__ = ["BUNDLED_REGIONS", "Settings", "load_regions", "load_settings", "parse_regions"]


def __getattr__(name: str) -> object:
    # The settings live in chatops.settings, imported only when asked for: pydantic-settings costs a
    # noticeable part of a cold ``chatops check``, which never reads them.
    if name in ("Settings", "load_settings"):
        from chatops import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BUNDLED_REGIONS = "bundled:regions.toml"


def _describe_location(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """``('regions', 3, 'peak_hours', 1)`` → ``region 'ir' (regions[3]), field peak_hours[1]``."""
    parts: list[str] = []
    rest = list(loc)
    if len(rest) >= 2 and rest[0] == "regions" and isinstance(rest[1], int):
        index = rest[1]
        regions = data.get("regions")
        region_id = None
        if isinstance(regions, list) and index < len(regions) and isinstance(regions[index], dict):
            region_id = regions[index].get("id")
        parts.append(f"region {region_id!r} (regions[{index}])" if region_id else f"regions[{index}]")
        rest = rest[2:]
    field = ""
    for item in rest:
        field += f"[{item}]" if isinstance(item, int) else (f".{item}" if field else str(item))
    if field:
        parts.append(f"field {field}")
    return ", ".join(parts) or "the file"


Location = tuple[int | str, ...]


def located_problems(exc: ValidationError, data: dict[str, Any]) -> list[tuple[Location, str]]:
    """Each problem pydantic found, as (its location in the data, one readable line)."""
    found: list[tuple[Location, str]] = []
    errors = exc.errors(include_url=False)
    # pydantic also reports "at least 1 item after validation" for the regions list when its only region is
    # invalid; that is the same problem again, so it is left out when a region's own error is reported.
    region_failed = any(len(e["loc"]) > 1 and e["loc"][0] == "regions" for e in errors)
    for err in errors:
        if region_failed and err["type"] == "too_short" and tuple(err["loc"]) == ("regions",):
            continue
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif err["type"] == "missing":
            message = "required field is missing"
        loc = tuple(err["loc"])
        found.append((loc, f"{_describe_location(loc, data)}: {message}"))
    return found


def config_problems(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    """One readable line per problem pydantic found."""
    return [line for _, line in located_problems(exc, data)]


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    name = re.escape(key)
    return re.compile(r"^\s*(?:" + name + r"|\"" + name + r"\"|'" + name + r"')\s*=")


def toml_line(text: str, loc: Location) -> int | None:
    """The 1-based line of ``text`` that a validation error at ``loc`` is about, found by a line scan.

    ``('regions', 2, 'timezone')`` is the ``timezone =`` line inside the third ``[[regions]]`` table (or that
    table's header, when the key is missing); ``('regions', 0, 'sensitive_periods', 1, 'end')`` looks inside
    the second ``[[regions.sensitive_periods]]`` of the first region; ``('policy', 'horizon_days')`` inside
    ``[policy]``. None when the file is written in a way the scan does not follow (inline tables).
    """
    lines = text.splitlines()
    headers = []  # (index, kind "[" or "[[", dotted name)
    for index, line in enumerate(lines):
        match = _HEADER.match(line)
        if match:
            headers.append((index, match.group(1), match.group(2).replace(" ", "")))

    def section(start: int) -> range:
        """The lines of the table whose header is at ``start`` (-1: the top, before any header)."""
        following = [i for i, _, _ in headers if i > start]
        return range(start + 1, following[0] if following else len(lines))

    def nth_table(name: str, n: int, within: range) -> int | None:
        matching = [i for i, kind, dotted in headers if kind == "[[" and dotted == name and i in within]
        return matching[n] if n < len(matching) else None

    def key_line(key: str, within: range) -> int | None:
        pattern = _key_pattern(key)
        return next((i for i in within if pattern.match(lines[i])), None)

    rest = list(loc)
    if not rest:
        return None
    found: int | None = None
    if rest[0] == "regions":
        if len(rest) == 1 or not isinstance(rest[1], int):
            found = key_line("regions", section(-1))
            if found is None:
                found = next((i for i, _, dotted in headers if dotted == "regions"), None)
            return None if found is None else found + 1
        region = nth_table("regions", rest[1], range(len(lines)))
        if region is None:
            return None
        following = [i for i, kind, dotted in headers if i > region and dotted == "regions"]
        whole = range(region, following[0] if following else len(lines))  # the region and its sub-tables
        found, rest = region, rest[2:]
        if rest and rest[0] == "sensitive_periods" and len(rest) > 1 and isinstance(rest[1], int):
            period = nth_table("regions.sensitive_periods", rest[1], whole)
            if period is not None:
                found, rest = period, rest[2:]
            else:
                rest = rest[:1]
        if rest and isinstance(rest[0], str):
            found = key_line(rest[0], section(found)) or found
        return found + 1
    if isinstance(rest[0], str):
        table = next((i for i, kind, dotted in headers if kind == "[" and dotted == rest[0]), None)
        if table is None:
            found = key_line(rest[0], section(-1))
            return None if found is None else found + 1
        found = table
        if len(rest) > 1 and isinstance(rest[1], str):
            found = key_line(rest[1], section(table)) or table
        return found + 1
    return None


def regions_file_problems(text: str, *, source: str) -> tuple[RegionsConfig | None, list[str]]:
    """Every problem in a regions file's text, each ``source:LINE: …`` where the line is known."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{source}:{match.group(1)}" if match else source
        return None, [f"{where}: not valid TOML: {exc}"]
    try:
        return RegionsConfig.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for loc, line in located_problems(exc, data):
            number = toml_line(text, loc)
            problems.append(f"{source}:{number}: {line}" if number else f"{source}: {line}")
        return None, problems


def parse_regions(text: str, *, source: str) -> RegionsConfig:
    """Parse and validate a regions file's text; ConfigError names ``source``, the region and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return RegionsConfig.model_validate(data)
    except ValidationError as exc:
        problems = config_problems(exc, data)
        more = (
            f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
            if len(problems) > 1
            else ""
        )
        raise ConfigError(f"{source}: {problems[0]}{more}") from None


def load_regions(path: str | Path | None = None) -> RegionsConfig:
    """Load a regions file; ``None`` (or ``bundled:regions.toml``) loads the one shipped with chatops."""
    if path is None or str(path) == BUNDLED_REGIONS:
        text = resources.files("chatops.data").joinpath("regions.toml").read_text(encoding="utf-8")
        return parse_regions(text, source=BUNDLED_REGIONS)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, not a regions file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    return parse_regions(text, source=str(file))
