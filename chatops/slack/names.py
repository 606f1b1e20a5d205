"""People's display names as Slack reports them (users.info), cached briefly, for the audit record."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

logger = logging.getLogger(__name__)


class DisplayNames:
    """``names(user_id)``: the user's display name (else real name, else handle) from users.info, remembered for
    ``ttl`` seconds; None when Slack cannot say, so a decision is never held up by a name."""

    def __init__(
        self, client: WebClient, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str | None]] = {}

    def __call__(self, user: str) -> str | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(user)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        try:
            info = self._client.users_info(user=user).get("user") or {}
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning(
                "users.info failed for %s (%s); keeping the last name seen", user, exc.__class__.__name__
            )
            return hit[1] if hit is not None else None
        profile = info.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or info.get("real_name")
            or info.get("name")
            or None
        )
        name = str(name)[:200] if name else None
        with self._lock:
            self._cache[user] = (now, name)
        return name
