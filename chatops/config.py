"""Configuration read once at the edge: the regions file (TOML); the app's settings (environment) are in
:mod:`chatops.settings` (also reachable here as ``chatops.config.Settings``)."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chatops.calendars import holiday_problems
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
        named = isinstance(region_id, str) and 0 < len(region_id) <= 64  # an id, not a paragraph
        parts.append(f"region {region_id!r} (regions[{index}])" if named else f"regions[{index}]")
        rest = rest[2:]
    field = ""
    for item in rest:
        field += f"[{item}]" if isinstance(item, int) else (f".{item}" if field else str(item))
    if field:
        parts.append(f"field {field}")
    return ", ".join(parts) or "the file"


Location = tuple[int | str, ...]


_ID_RULE = "letters, digits, '_', '.' and '-', starting with a letter or digit"


def _shown(value: Any) -> str:
    """`` (not 'yes')``: the value given, as the file wrote it, for a message; empty for tables and lists."""
    if isinstance(value, bool):
        return f" (not {'true' if value else 'false'})"
    if isinstance(value, str):
        return f" (not {value!r})" if len(value) <= 40 else f" (not {value[:37]!r}…)"
    if isinstance(value, int | float):
        return f" (not {value})"
    return ""


def plain_message(err: Any) -> str:
    """One pydantic error in plain words: ``must be at least 1``, not ``Input should be greater than or equal
    to 1``. Errors chatops raises itself (``ValueError``) are already written for people and kept."""
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    got = _shown(err.get("input"))
    loc = tuple(err["loc"])
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown field (check its spelling)"
    if kind == "missing":
        return "required field is missing"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, without quotes{got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number{got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number{got}"
    if kind in ("string_type", "string_sub_type"):
        return f"must be text in quotes{got}"
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt")}
    bounds |= {"less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {words} {bound}{got}"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        what = "is not in the expected form"
        if loc[-1:] == ("id",):
            what = f"may contain only {_ID_RULE}"
        elif loc[-1:] == ("country",):
            what = "must be an ISO 3166 country code in capitals, such as 'IR' or 'US'"
        elif loc[:1] == ("services",) and loc[-1:] == ("name",):
            what = "may contain only lower-case letters, digits, '.', '_' and '-' (at most 64 characters)"
        elif loc[:1] == ("services",) and "owners" in loc:
            what = "must be a Slack user (U…, W…) or user-group (S…) id"
        return f"{what}{got}"
    if kind.startswith(("date_", "datetime_")):
        return f"must be a date such as 2009-06-12{got}"
    if kind == "too_short":
        if loc == ("regions",):
            return "names no region; add at least one [[regions]] table"
        least = ctx.get("min_length", 1)
        return f"must list at least {least} item{'s' if least != 1 else ''}"
    if kind == "too_long":
        return f"must list at most {ctx.get('max_length')} items"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a table"
    if kind in ("tuple_type", "list_type", "set_type", "frozen_set_type", "iterable_type"):
        return f"must be a list{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    return str(err["msg"])


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
        if (
            not err["loc"]
            and str(err["msg"]).startswith(("Value error, region id ", "Value error, service name "))
            and "used twice" in err["msg"]
        ):
            continue  # reported at the second region, with its line, by file_checks
        loc = tuple(err["loc"])
        found.append((loc, f"{_describe_location(loc, data)}: {plain_message(err)}"))
    return found


def file_checks(
    data: dict[str, Any], *, line_of: Callable[[Location], int | None] = lambda loc: None
) -> list[tuple[Location, str]]:
    """Mistakes that pydantic does not see field by field, checked on the file's data even when other fields
    are wrong, so that every problem is reported at once:

    - a region id used twice (reported at the second region, naming the first);
    - ``flagged_approvals_required`` below ``approvals_required``: a flagged window, the risky one, would need
      fewer approvers than a clear one;
    - a sensitive region (``sensitive = true``, or with ``sensitive_periods``) without peak hours: a region is
      flagged only for time inside its peak hours, so this one could never be flagged and its sensitivity would
      silently protect nothing. This is an error, not a warning: the flag is the safety net, and a warning is
      easy to miss. (``peak_hours = ["00:00-24:00"]`` means "all day".)
    """
    found: list[tuple[Location, str]] = []
    regions = data.get("regions")
    first_index: dict[str, int] = {}
    for index, region in enumerate(regions if isinstance(regions, list) else []):
        if not isinstance(region, dict):
            continue
        rid = region.get("id")
        rid = rid if isinstance(rid, str) and len(rid) <= 64 else None  # a longer one is refused on its own
        if rid is not None and rid in first_index:
            loc: Location = ("regions", index, "id")
            first = first_index[rid]
            line = line_of(("regions", first, "id"))
            found.append(
                (
                    loc,
                    f"{_describe_location(loc, data)}: region id {rid!r} is used twice (first by "
                    f"regions[{first}]{f' at line {line}' if line else ''})",
                )
            )
        elif rid is not None:
            first_index[rid] = index
        periods = region.get("sensitive_periods")
        always = region.get("sensitive") is True
        peaks = region.get("peak_hours", [])
        if (always or (isinstance(periods, list) and periods)) and isinstance(peaks, list) and not peaks:
            loc = ("regions", index, "peak_hours")
            how = "sensitive = true" if always else "it has sensitive_periods"
            found.append(
                (
                    loc,
                    f"{_describe_location(loc, data)}: no peak hours, so this sensitive region ({how}) can "
                    'never be flagged; give its peak hours, e.g. ["08:00-23:00"] (["00:00-24:00"] for all day)',
                )
            )
    services = data.get("services")
    seen_services: dict[str, int] = {}
    for index, service in enumerate(services if isinstance(services, list) else []):
        name = service.get("name") if isinstance(service, dict) else None
        if not isinstance(name, str) or len(name) > 64:
            continue
        if name in seen_services:
            loc = ("services", index, "name")
            first_line = line_of(("services", seen_services[name], "name"))
            found.append(
                (
                    loc,
                    f"field services[{index}].name: service {name!r} is listed twice (first by "
                    f"services[{seen_services[name]}]{f' at line {first_line}' if first_line else ''})",
                )
            )
        else:
            seen_services[name] = index
    policy = data.get("policy")
    policy = policy if isinstance(policy, dict) else {}
    clear, flagged = policy.get("approvals_required", 1), policy.get("flagged_approvals_required", 2)
    counts = (clear, flagged)
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in counts) and flagged < clear:
        loc = ("policy", "flagged_approvals_required")
        found.append(
            (
                loc,
                f"{_describe_location(loc, data)}: {flagged} is fewer than approvals_required ({clear}); a "
                "flagged window must need at least as many approvers as a clear one",
            )
        )
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
    if isinstance(rest[0], str) and len(rest) > 1 and isinstance(rest[1], int):
        # Another array of tables ([[services]]): the n-th table, then the key inside it.
        item = nth_table(rest[0], rest[1], range(len(lines)))
        if item is not None:
            found = item
            if len(rest) > 2 and isinstance(rest[2], str):
                found = key_line(rest[2], section(item)) or item
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


def _all_problems(text: str) -> tuple[RegionsConfig | None, list[tuple[int | None, str]]]:
    """The config when the text is good; else every problem as (its line or None, its message), in line order."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        return None, [(int(match.group(1)) if match else None, f"not valid TOML: {exc}")]

    def line_of(loc: Location) -> int | None:
        return toml_line(text, loc)

    located = file_checks(data, line_of=line_of)
    config: RegionsConfig | None = None
    try:
        config = RegionsConfig.model_validate(data)
        located = holiday_problems(config) + located
    except ValidationError as exc:
        located = located_problems(exc, data) + located
    if not located:
        return config, []
    numbered = [(line_of(loc), message) for loc, message in located]
    order = sorted(range(len(numbered)), key=lambda i: (numbered[i][0] is None, numbered[i][0] or 0, i))
    return None, [numbered[i] for i in order]


def regions_file_problems(text: str, *, source: str) -> tuple[RegionsConfig | None, list[str]]:
    """Every problem in a regions file's text, each ``source:LINE: …`` where the line is known, in line order."""
    config, problems = _all_problems(text)
    return config, [f"{source}:{line}: {msg}" if line else f"{source}: {msg}" for line, msg in problems]


def parse_regions(text: str, *, source: str, validate_hint: str | None = None) -> RegionsConfig:
    """Parse and validate a regions file's text; ConfigError names ``source``, the region and the field of the
    first problem, and counts the others. ``validate_hint``: the file to name in ``chatops config validate …``,
    which lists every problem with its line."""
    config, problems = _all_problems(text)
    if config is not None:
        return config
    if not problems:  # pragma: no cover - every failed validation yields at least one problem
        raise ConfigError(f"{source}: not a valid regions file")
    first = problems[0][1]
    rest = len(problems) - 1
    notes = [f"and {rest} more problem{'s' if rest != 1 else ''}"] if rest else []
    if validate_hint:
        notes.append(
            f"'chatops config validate {validate_hint}' lists {'them all' if rest else 'every problem'}"
        )
    suffix = f" ({'; '.join(notes)})" if notes else ""
    raise ConfigError(f"{source}: {first}{suffix}")


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
    return parse_regions(text, source=str(file), validate_hint=shlex.quote(str(file)))
