"""Who people are, from Slack: approvers (users and user groups, cached briefly) and users' time zones."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from chatops.errors import InputError

logger = logging.getLogger(__name__)


class Directory:
    """Approvers and admins named in ``CHATOPS_APPROVERS``/``CHATOPS_ADMINS`` (``U…``/``W…`` users, ``S…``
    groups) and users' Slack zones.

    Group members come from ``usergroups.users.list`` and are kept for ``ttl`` seconds. When Slack cannot be
    asked, the last members seen are used; a group never seen counts as empty, so an outage never widens who may
    approve.
    """

    def __init__(
        self,
        client: WebClient,
        approver_ids: frozenset[str],
        *,
        admin_ids: frozenset[str] = frozenset(),
        oncall_ids: frozenset[str] = frozenset(),
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._approver_ids = approver_ids
        self._admin_ids = admin_ids
        self._oncall_ids = oncall_ids
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._zones: dict[str, tuple[float, str]] = {}

    def approvers(self) -> frozenset[str]:
        return self._resolve(self._approver_ids)

    def admins(self) -> frozenset[str]:
        """Users named in ``CHATOPS_ADMINS``, groups resolved the same way as approvers."""
        return self._resolve(self._admin_ids)

    def oncall(self) -> frozenset[str]:
        """Users named in ``CHATOPS_ONCALL`` (who approve emergencies), groups resolved as for approvers."""
        return self._resolve(self._oncall_ids)

    def _resolve(self, ids: frozenset[str]) -> frozenset[str]:
        users = {i for i in ids if not i.startswith("S")}
        for group in sorted(i for i in ids if i.startswith("S")):
            users |= self._group_members(group)
        return frozenset(users)

    def _group_members(self, group: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._members.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users") or [])
        except (SlackApiError, SlackClientError, OSError):
            logger.exception(
                "could not read the members of user group %s; using the last known members", group
            )
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[group] = (now, members)
        return members

    def user_tz(self, user_id: str) -> str:
        """The user's Slack time zone (``users.info`` ``tz``); InputError when Slack cannot say."""
        now = self._clock()
        with self._lock:
            cached = self._zones.get(user_id)
        if cached and now - cached[0] < self._ttl * 10:
            return cached[1]
        try:
            response = self._client.users_info(user=user_id)
            user = response.get("user") or {}
            tz = user.get("tz")
        except (SlackApiError, SlackClientError, OSError):
            logger.exception("could not read the time zone of user %s", user_id)
            tz = None
        if not tz:
            raise InputError(
                "your Slack time zone could not be read; give a zone, e.g. `UTC` or `Europe/Berlin`"
            )
        with self._lock:
            self._zones[user_id] = (now, tz)
        return str(tz)
