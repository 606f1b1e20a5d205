"""Opening the store at start-up: a database URL that can never work is refused at once, with one line naming
the setting; a database that is merely not up yet (connection refused, starting up) is waited for, bounded and
logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from chatops.errors import ChatopsError, ConfigError

logger = logging.getLogger(__name__)
T = TypeVar("T")

EXAMPLES = "sqlite:///chatops.db or postgresql://user@host:5432/db"
# What a PostgreSQL server that is not up yet (or restarting) answers, as psycopg words it.
_NOT_UP_YET = (
    "connection refused",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "no route to host",
    "timeout expired",
    "connection timed out",
    "temporary failure in name resolution",
)


def check_database_url(url: str, *, name: str = "CHATOPS_DATABASE_URL") -> str:
    """The URL as it may be shown (password hidden); ConfigError naming ``name`` when it can never work: bad
    syntax, a database other than SQLite or PostgreSQL, a driver other than psycopg 3, a port out of range."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError):
        raise ConfigError(f"{name} {url!r} is not a database URL (e.g. {EXAMPLES})") from None
    shown = parsed.render_as_string(hide_password=True)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{name} {shown!r}: {backend} is not supported (use {EXAMPLES})")
    if backend == "postgresql" and parsed.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigError(f"{name} {shown!r}: the {driver} driver is not supported (write postgresql://…)")
    if backend == "sqlite" and parsed.drivername != "sqlite":
        raise ConfigError(f"{name} {shown!r}: the {driver} driver is not supported (write sqlite:///…)")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{name} {shown!r}: port {port} is not a port number (1-65535)")
    return shown


def reason(exc: BaseException) -> str:
    """The first line of what the database driver said, without SQLAlchemy's ``(psycopg.OperationalError)``."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0].strip() if text else exc.__class__.__name__
    return first.removeprefix("connection failed: ")


def not_up_yet(exc: BaseException) -> bool:
    """True when the database is merely not reachable yet (worth waiting for); False when it answered and said
    no (a wrong role, password or database name) or the URL cannot work."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | TimeoutError):
            return True
        text = str(current).lower()
        if any(marker in text for marker in _NOT_UP_YET):
            return True
        current = current.__cause__ or current.__context__
    return False


def open_when_up(
    open_: Callable[[], T],
    *,
    shown: str,
    wait: float,
    name: str = "CHATOPS_DATABASE_URL",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``open_()``, retried with backoff (0.5 s doubling to 10 s) for up to ``wait`` seconds while the database
    is not up yet, each retry logged; any other failure, or still not up after ``wait``, is a one-line
    ConfigError naming ``name``. The wait counts from the first refusal, so however slowly the first attempt
    came back, a database that is merely starting gets at least one more try when ``wait`` is above zero."""
    deadline: float | None = None
    delay, attempt = 0.5, 1
    while True:
        try:
            return open_()
        except ChatopsError:
            raise
        except Exception as exc:
            why = reason(exc)
            if not not_up_yet(exc):
                raise ConfigError(f"{name}: cannot open the database at {shown}: {why}") from None
            if deadline is None:
                deadline = clock() + wait
            left = deadline - clock()
            if left <= 0:
                raise ConfigError(
                    f"{name}: the database at {shown} is not reachable ({why}); gave up after {attempt} "
                    f"attempt{'s' if attempt != 1 else ''} in {wait:g} s (CHATOPS_DATABASE_WAIT)"
                ) from None
            pause = min(delay, left)
            logger.warning(
                "the database at %s is not up yet (%s); attempt %d failed, retrying in %.1f s (%.1f s left)",
                shown,
                why,
                attempt,
                pause,
                left,
            )
            sleep(pause)
            delay, attempt = min(delay * 2, 10.0), attempt + 1
