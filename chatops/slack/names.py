"""People's display names as Slack reports them (users.info), remembered and refreshed, for the audit record."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from chatops.slack.refresh import Refresher

logger = logging.getLogger(__name__)


class DisplayNames:
    """``names(user_id)``: the user's display name (else real name, else handle) from users.info; None when
    Slack cannot say, so a decision is never held up by a name. A name is asked for while the decision waits
    only the first time a process needs it (:func:`chatops.slack.refresh.warm_up` asks for approvers' names
    at start); once ``ttl`` seconds old it is asked for again in the background (``refresher``) while the
    name known answers, so a renamed person's new name is recorded from the decision after Slack's answer."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        refresher: Refresher | None = None,
        on_user: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        """``on_user(user_id, user)``: told every ``users.info`` answer, so the zone in it is not asked again
        (:meth:`chatops.slack.directory.Directory.learn`)."""
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._refresher = refresher or Refresher()
        self._on_user = on_user
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str | None]] = {}

    def learn(self, user: str, info: Mapping[str, Any]) -> None:
        """Remember the name in a ``users.info`` answer someone else asked for."""
        with self._lock:
            self._cache[user] = (self._clock(), _name_in(info))

    def __call__(self, user: str) -> str | None:
        with self._lock:
            hit = self._cache.get(user)
        if hit is None:
            return self._ask(user)
        if self._clock() - hit[0] >= self._ttl:
            self._refresher(user, lambda: self._ask(user))
        return hit[1]

    def _ask(self, user: str) -> str | None:
        """users.info now; the name remembered, or on failure the last one known (None if none)."""
        try:
            info = self._client.users_info(user=user).get("user") or {}
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning(
                "users.info failed for %s (%s); keeping the last name seen", user, exc.__class__.__name__
            )
            with self._lock:
                hit = self._cache.get(user)
            return hit[1] if hit is not None else None
        name = _name_in(info)
        with self._lock:
            self._cache[user] = (self._clock(), name)
        if self._on_user is not None:
            self._on_user(user, info)
        return name


def _name_in(info: Mapping[str, Any]) -> str | None:
    """A ``users.info`` user's display name, else real name, else handle (None if it has none)."""
    profile = info.get("profile") or {}
    name = (
        profile.get("display_name") or profile.get("real_name") or info.get("real_name") or info.get("name")
    )
    return str(name)[:200] if name else None
