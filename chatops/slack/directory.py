"""Who people are, from Slack: approvers (users and user groups, cached briefly) and users' time zones."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.middleware.authorization import SingleTeamAuthorization
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from chatops.errors import InputError
from chatops.slack.refresh import Refresher

logger = logging.getLogger(__name__)


@dataclass
class _Outage:
    """A group Slack cannot list: since when, how many failed reads, when to ask again."""

    since: float
    failures: int
    retry_at: float


class Directory:
    """Approvers and admins named in ``CHATOPS_APPROVERS``/``CHATOPS_ADMINS`` (``U…``/``W…`` users, ``S…``
    groups) and users' Slack zones.

    Group members come from ``usergroups.users.list``. Once they are ``ttl`` seconds old the group is asked again
    in the background (``refresher``) while the members seen last keep answering, so no click waits for Slack
    but the first one a process sees (:func:`chatops.slack.refresh.warm_up` asks before that); a change to a
    group counts from the answer after it. When Slack cannot be asked, the group is asked again with exponential
    backoff (``retry_base`` doubling up to ``retry_cap`` seconds, not on every click), the outage is logged once
    as a warning, and the last members seen keep counting only while they are younger than ``max_age`` seconds;
    after that, or for a group never seen, the group is asked while the click waits and counts as empty if
    Slack still cannot say, so an outage never widens who may approve and never keeps a removed member approving
    for long. :meth:`unreadable_note` says why to a person who was refused meanwhile. Zones are refreshed the
    same way after ``10 * ttl`` seconds.
    """

    def __init__(
        self,
        client: WebClient,
        approver_ids: frozenset[str],
        *,
        admin_ids: frozenset[str] = frozenset(),
        oncall_ids: frozenset[str] = frozenset(),
        ttl: float = 60.0,
        max_age: float = 600.0,
        retry_base: float = 5.0,
        retry_cap: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        refresher: Refresher | None = None,
        on_user: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        """``on_user(user_id, user)``: told every ``users.info`` answer, so the name in it is not asked again
        (:meth:`chatops.slack.names.DisplayNames.learn`)."""
        self._client = client
        self.on_user = on_user
        self._refresher = refresher or Refresher()
        self._approver_ids = approver_ids
        self._admin_ids = admin_ids
        self._oncall_ids = oncall_ids
        self._ttl = ttl
        self._max_age = max_age
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._outages: dict[str, _Outage] = {}
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
            outage = self._outages.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        may_ask = outage is None or now >= outage.retry_at
        if cached and now - cached[0] < self._max_age:
            if may_ask:  # the members seen last answer now; the next lookup gets Slack's answer
                self._refresher(("group", group), lambda: self._read_group(group, now, cached))
            return cached[1]
        if may_ask:
            members = self._read_group(group, now, cached)
            if members is not None:
                return members
        return frozenset()

    def _read_group(
        self, group: str, now: float, cached: tuple[float, frozenset[str]] | None
    ) -> frozenset[str] | None:
        """Ask Slack for the group's members and remember them; None (the outage noted) if Slack cannot say."""
        try:
            response = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(str(u) for u in response.get("users") or [])
        except (SlackApiError, SlackClientError, OSError) as exc:
            self._failed(group, now, exc, cached)
            return None
        with self._lock:
            self._members[group] = (self._clock(), members)
            ended = self._outages.pop(group, None)
        if ended is not None:
            logger.info("user group %s can be read again (after %.0fs)", group, now - ended.since)
        return members

    def _failed(
        self, group: str, now: float, exc: Exception, cached: tuple[float, frozenset[str]] | None
    ) -> None:
        with self._lock:
            outage = self._outages.get(group)
            first = outage is None
            failures = 1 if outage is None else outage.failures + 1
            delay = min(self._retry_cap, self._retry_base * 2 ** min(failures - 1, 16))
            self._outages[group] = _Outage(
                since=now if outage is None else outage.since, failures=failures, retry_at=now + delay
            )
        if first:
            kept = (
                f"its last members seen count for {max(0, self._max_age - (now - cached[0])):.0f}s more"
                if cached
                else "it counts as empty until it can be read"
            )
            logger.warning(
                "could not read the members of user group %s (%s: %s); %s; asking again with backoff",
                group,
                exc.__class__.__name__,
                _first_line(exc),
                kept,
            )

    def unreadable_note(self) -> str | None:
        """Why some approvers may not count right now (groups Slack cannot list whose members have expired),
        for a person whose click was refused; None when every group is readable or still fresh."""
        now = self._clock()
        with self._lock:
            groups = [
                g
                for g, outage in sorted(self._outages.items())
                if g not in self._members or now - self._members[g][0] >= self._max_age
            ]
        if not groups:
            return None
        names = ", ".join(groups)
        return (
            f"Slack has not been able to list the members of user group {names} for a while, so nobody counts "
            "as an "
            "approver through it until it can; ask an approver named directly, or try again later."
        )

    def user_tz(self, user_id: str) -> str:
        """The user's Slack time zone (``users.info`` ``tz``); InputError when Slack cannot say."""
        now = self._clock()
        with self._lock:
            cached = self._zones.get(user_id)
        if cached:
            if now - cached[0] >= self._ttl * 10:  # the zone known answers; the next lookup gets Slack's
                self._refresher(("zone", user_id), lambda: self._read_zone(user_id))
            return cached[1]
        tz = self._read_zone(user_id)
        if tz is None:
            raise InputError(
                "your Slack time zone could not be read; give a zone, e.g. `UTC` or `Europe/Berlin`"
            )
        return tz

    def learn(self, user_id: str, info: Mapping[str, Any]) -> None:
        """Remember the zone in a ``users.info`` answer someone else asked for."""
        tz = info.get("tz")
        if tz:
            with self._lock:
                self._zones[user_id] = (self._clock(), str(tz))

    def _read_zone(self, user_id: str) -> str | None:
        try:
            response = self._client.users_info(user=user_id)
            user = response.get("user") or {}
            if self.on_user is not None:
                self.on_user(user_id, user)
            tz = user.get("tz")
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning(
                "could not read the time zone of user %s (%s: %s)",
                user_id,
                exc.__class__.__name__,
                _first_line(exc),
            )
            return None
        if not tz:
            return None
        with self._lock:
            self._zones[user_id] = (self._clock(), str(tz))
        return str(tz)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


class Workspace:
    """The one workspace (and Enterprise Grid organisation) the app is installed in: ``team_id`` when given
    (``CHATOPS_TEAM_ID``), else what ``auth.test`` says, asked once (again only if it failed).

    Bolt's single-workspace authorization asks ``auth.test`` too, on the first request it sees; after
    :meth:`share_with` the two share one answer, whichever asks first (:meth:`warm` asks before any request)."""

    def __init__(self, client: WebClient, *, team_id: str | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._installed: tuple[str, str | None] | None = (team_id, None) if team_id else None
        self._bolt: SingleTeamAuthorization | None = None

    def share_with(self, app: App) -> None:
        """Share ``auth.test``'s answer with ``app``'s single-workspace authorization. Bolt keeps that middleware
        in a private list; if a later Bolt keeps it elsewhere, nothing is shared and each asks once, as before."""
        found = [m for m in getattr(app, "_middleware_list", ()) if isinstance(m, SingleTeamAuthorization)]
        self._bolt = found[0] if len(found) == 1 else None

    def warm(self) -> None:
        """Ask ``auth.test`` now, for this and for Bolt, unless both already know (a serving process at start)."""
        if self._bolt is None or self._bolt.auth_test_result is not None:
            self.installed()
        else:
            self._ask()

    def installed(self) -> tuple[str, str | None] | None:
        """(team id, enterprise id or None); None while Slack cannot say."""
        with self._lock:
            if self._installed is not None:
                return self._installed
        shared = self._bolt.auth_test_result if self._bolt is not None else None
        return self._ask() if shared is None else self._learn(shared)

    def _ask(self) -> tuple[str, str | None] | None:
        try:
            response = self._client.auth_test()
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning("could not ask Slack which workspace this is (%s)", exc.__class__.__name__)
            return None
        if self._bolt is not None and self._bolt.auth_test_result is None:
            self._bolt.auth_test_result = response
        return self._learn(response)

    def _learn(self, response: SlackResponse) -> tuple[str, str | None] | None:
        with self._lock:
            if self._installed is not None:  # configured (CHATOPS_TEAM_ID), or learnt meanwhile
                return self._installed
        team = response.get("team_id")
        enterprise = response.get("enterprise_id") or None
        if not isinstance(team, str) or not team:
            logger.warning("auth.test named no team")
            return None
        with self._lock:
            self._installed = (team, enterprise if isinstance(enterprise, str) else None)
            return self._installed

    def refusal(self, *, team_id: str | None, enterprise_id: str | None) -> str | None:
        """None when a request from ``team_id``/``enterprise_id`` is for this installation; else why not."""
        installed = self.installed()
        if installed is None:
            return "the installed workspace is not known yet (auth.test failed)"
        team, enterprise = installed
        if team_id != team:
            return f"team {team_id!r} is not the installed workspace {team}"
        if enterprise_id is not None and enterprise_id != enterprise:
            return f"enterprise {enterprise_id!r} is not the installed one ({enterprise or 'none'})"
        return None
