"""The app's settings, read once from the environment at start-up (``chatops serve``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.errors import ConfigError


class Settings(BaseSettings):
    """The app's settings, read once from the environment at start-up. Secrets never show in a repr."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    chatops_channel: str
    chatops_approvers: str
    chatops_admins: str = ""
    """Who may declare and lift sensitive periods from Slack: user (``U…``) and user-group (``S…``) ids."""
    chatops_database_url: str = "sqlite:///chatops.db"
    chatops_database_wait: int = Field(default=60, ge=0, le=3600)
    """Seconds ``chatops serve`` waits, retrying, for a database that is not up yet (connection refused)."""
    chatops_config: str | None = None
    chatops_tz_source: Literal["package", "host"] = "package"
    """Time-zone rules: the tzdata package's (the same on every machine) or the host's (see chatops.tzdb)."""
    chatops_delivery_give_up_after: int = Field(default=86_400, ge=60)
    """Seconds after which an undeliverable Slack message is given up on (and logged)."""
    chatops_calendar_token: SecretStr | None = None
    """The token that ``/calendar.ics?token=…`` must carry; without it the feed is not served."""
    chatops_slack_url: str = "https://slack.com/"
    """The workspace's address (``https://acme.slack.com/``), for links to threads in the calendar feed."""
    chatops_calendar_cache: str | None = None
    """Where the last good copy of each freeze calendar is kept (default ``~/.cache/chatops/calendars``)."""
    chatops_calendar_refresh: int = Field(default=900, ge=30, le=86_400)
    """Seconds between two reads of the freeze calendars."""
    chatops_delivery_retry_cap: int = Field(default=300, ge=1, le=3600)
    """The longest wait, in seconds, between two attempts to deliver a message (backoff doubles up to it)."""
    chatops_delivery_lease_seconds: int = Field(default=60, ge=4, le=3600)
    """How long a delivery worker holds the one message it is sending; Slack calls are cut off well before."""
    chatops_delivery_threads: int = Field(default=16, ge=0, le=64)
    """Delivery threads per serving process (each sends one message at a time, and waits most of that time for
    Slack; docs/performance.md measured the default); 0: this process delivers nothing and ``chatops worker``
    does it."""
    chatops_client_read_timeout: float = Field(default=5.0, gt=0, le=60)
    """Seconds a client may take to send a request's headers, and again its body (slow clients are cut off)."""
    chatops_group_cache_max_age: int = Field(default=600, ge=0, le=86_400)
    """Seconds for which the last members seen of an approver group that Slack cannot list still count."""
    chatops_team_id: str | None = None
    """The workspace (``T…``) the app is installed in; unset, ``auth.test`` says (asked once)."""
    chatops_audit_key: SecretStr | None = None
    """The key that signs audit checkpoints (HMAC-SHA256). Keep it outside the database: `chatops audit verify`
    needs the same key to check them."""
    chatops_mention_groups: bool = True
    """Mention the approver user groups (``S…``) when a change needs a decision; false for quiet teams (users
    named in CHATOPS_APPROVERS are still mentioned)."""
    chatops_oncall: str = ""
    """Who may approve an emergency (``/maintenance emergency``): user (``U…``) and user-group (``S…``) ids;
    when empty, the approvers."""
    chatops_emergency_approval: Literal["oncall", "none"] = "oncall"
    """``oncall``: an emergency needs one approval from CHATOPS_ONCALL; ``none``: it needs none (it is still
    recorded, marked and reviewed afterwards)."""
    chatops_gate_token: SecretStr | None = None
    """The bearer token of ``GET /api/v1/changes/CHG-n/gate``; without it the endpoint does not exist (404)."""

    @field_validator("chatops_gate_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("is too short to guard anything; use at least 16 random characters")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("chatops_approvers")
    @classmethod
    def _some_approver(cls, value: str) -> str:
        if not _ids(value):
            raise ValueError("names nobody; give the user (U…) or user-group (S…) ids of the approvers")
        return value

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
        return _ids(self.chatops_approvers)

    @property
    def mention_ids(self) -> tuple[str, ...]:
        """Whom to mention when a change needs a decision: the approvers, groups only if CHATOPS_MENTION_GROUPS."""
        return self._mentioned(self.approver_ids)

    @property
    def oncall_ids(self) -> frozenset[str]:
        """Users and user groups named in CHATOPS_ONCALL."""
        return _ids(self.chatops_oncall)

    @property
    def oncall_mention_ids(self) -> tuple[str, ...]:
        """Whom to mention when an emergency needs its approval (groups only if CHATOPS_MENTION_GROUPS)."""
        return self._mentioned(self.oncall_ids)

    def _mentioned(self, ids: frozenset[str]) -> tuple[str, ...]:
        """``ids`` in order, without the user groups (``S…``) unless CHATOPS_MENTION_GROUPS."""
        return tuple(sorted(i for i in ids if self.chatops_mention_groups or not i.startswith("S")))

    @property
    def admin_ids(self) -> frozenset[str]:
        """Users and user groups named in CHATOPS_ADMINS."""
        return _ids(self.chatops_admins)


def _ids(text: str) -> frozenset[str]:
    return frozenset(part for part in text.replace(",", " ").split() if part)


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
            elif err["type"] == "literal_error":
                problems.append(f"{name} must be one of: {err['ctx']['expected'].replace(' or ', ', ')}")
            elif err["type"] in ("int_parsing", "int_type", "int_from_float"):
                problems.append(f"{name} must be a whole number")
            elif err["type"] in ("greater_than_equal", "less_than_equal"):
                bound = err["ctx"].get("ge", err["ctx"].get("le"))
                word = "at least" if err["type"] == "greater_than_equal" else "at most"
                problems.append(f"{name} must be {word} {bound}")
            else:
                problems.append(f"{name} {str(err['msg']).removeprefix('Value error, ')}")
        raise ConfigError("; ".join(problems)) from None
