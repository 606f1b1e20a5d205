"""Configuration read once at the edge: the regions file (TOML) and the app's settings (environment)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.domain.models import RegionsConfig
from chatops.errors import ConfigError

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


def config_problems(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    """One readable line per problem pydantic found."""
    lines = []
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
        lines.append(f"{_describe_location(tuple(err['loc']), data)}: {message}")
    return lines


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
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
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


class Settings(BaseSettings):
    """The app's settings, read once from the environment at start-up. Secrets never show in a repr."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    chatops_channel: str
    chatops_approvers: str = ""
    chatops_database_url: str = "sqlite:///chatops.db"
    chatops_config: str | None = None
    chatops_delivery_give_up_after: int = Field(default=86_400, ge=60)
    """Seconds after which an undeliverable Slack message is given up on (and logged)."""
    chatops_delivery_retry_cap: int = Field(default=300, ge=1, le=3600)
    """The longest wait, in seconds, between two attempts to deliver a message (backoff doubles up to it)."""

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("chatops_channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must name a channel id such as C0123456789")
        return value

    @property
    def approver_ids(self) -> frozenset[str]:
        """Users (``U…``/``W…``) and user groups (``S…``) named in CHATOPS_APPROVERS."""
        return frozenset(part for part in self.chatops_approvers.replace(",", " ").split() if part)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a missing or bad one is a ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            if err["type"] == "missing":
                problems.append(f"{name} is not set")
            else:
                problems.append(f"{name} {str(err['msg']).removeprefix('Value error, ')}")
        raise ConfigError("; ".join(problems)) from None
