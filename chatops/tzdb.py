"""Which time-zone database the process uses, and its version.

``zoneinfo`` reads the host's files (``/usr/share/zoneinfo``, or ``PYTHONTZPATH``) before the ``tzdata``
package, so the same window could be evaluated under different rules in CI, on a laptop and in the container.
chatops uses the ``tzdata`` package's rules everywhere (its version is pinned with the code) unless
``CHATOPS_TZ_SOURCE=host`` asks for the host's. :func:`use` is called once at the program's edge (the CLI's
``main``, before anything reads a zone); :func:`current` says which rules are in use, for ``--version``,
``check --json``, the start-up log line and every stored evaluation.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from chatops.errors import ConfigError

ENV = "CHATOPS_TZ_SOURCE"
SOURCES = ("package", "host")


@dataclass(frozen=True)
class TzDatabase:
    """The rules in use: from the ``tzdata`` package or the host, and their IANA version (e.g. ``2026f``)."""

    source: str
    """``package`` or ``host``."""
    version: str
    """The IANA release, ``2026f``; ``unknown`` when the host's files do not say."""
    package_version: str | None = None
    """The ``tzdata`` package's own version (``2026.6``), for ``package``."""
    path: str | None = None
    """The host's zoneinfo directory, for ``host``."""

    def __str__(self) -> str:
        if self.source == "package":
            return f"IANA {self.version} from the tzdata package {self.package_version}"
        return f"IANA {self.version} from the host ({self.path})"

    def document(self) -> dict[str, str]:
        """The JSON form (``check --json``, stored evaluations): source, version, and the package or path."""
        doc = {"source": self.source, "version": self.version}
        if self.package_version is not None:
            doc["package_version"] = self.package_version
        if self.path is not None:
            doc["path"] = self.path
        return doc


_current: TzDatabase | None = None


def _package() -> TzDatabase:
    try:
        import tzdata  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a dependency of chatops
        raise ConfigError(
            f"{ENV}=package, but the tzdata package is not installed (pip install tzdata, or {ENV}=host)"
        ) from None
    return TzDatabase(
        source="package",
        version=str(getattr(tzdata, "IANA_VERSION", "unknown")),
        package_version=str(getattr(tzdata, "__version__", "unknown")),
    )


def _host_version(directory: Path) -> str | None:
    """The IANA release a zoneinfo directory was built from: ``tzdata.zi``'s first line (``# version 2025b``)
    or the ``+VERSION`` file that some systems ship."""
    try:
        with (directory / "tzdata.zi").open(encoding="utf-8") as zi:
            first = zi.readline().split()
        if first[:2] == ["#", "version"] and len(first) == 3:
            return first[2]
    except (OSError, UnicodeDecodeError):
        pass
    try:
        return (directory / "+VERSION").read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _host() -> TzDatabase:
    directories = [Path(p) for p in zoneinfo.TZPATH if Path(p).is_dir()]
    if not directories:
        raise ConfigError(
            f"{ENV}=host, but the host has no zoneinfo directory (searched: "
            f"{', '.join(zoneinfo.TZPATH) or 'none'}); unset {ENV} to use the tzdata package"
        )
    version = next((v for v in map(_host_version, directories) if v), "unknown")
    return TzDatabase(source="host", version=version, path=str(directories[0]))


def use(source: str | None = None) -> TzDatabase:
    """Make ``zoneinfo`` read the ``tzdata`` package only (``package``, the default) or the host's files first
    (``host``: ``PYTHONTZPATH`` or the system's directories). ``source`` defaults to ``$CHATOPS_TZ_SOURCE``.

    Zones already loaded are forgotten, so the rules chosen apply to every zone read afterwards.
    """
    global _current
    raw = source if source is not None else os.environ.get(ENV, "")
    chosen = raw.strip().lower() or "package"
    if chosen not in SOURCES:
        raise ConfigError(f"{ENV} {raw!r} is not one of: {', '.join(SOURCES)}")
    before = (_current, zoneinfo.TZPATH)
    if chosen == "package":
        zoneinfo.reset_tzpath(to=())
        database = _package()
    else:
        zoneinfo.reset_tzpath()  # PYTHONTZPATH, else the directories Python was built with
        database = _host()
    if before != (database, zoneinfo.TZPATH):  # the rules changed: forget what was read under the old ones
        zoneinfo.ZoneInfo.clear_cache()
        _forget_derived()
    _current = database
    return database


def _forget_derived() -> None:
    """Drop the zones the domain keeps and the tables the engine derived from them (offset changes per zone,
    what each region needs), so that nothing computed under the old rules is used again."""
    from importlib import import_module

    from chatops.domain.models import forget_zones

    forget_zones()
    # By module path: chatops.domain re-exports a function named ``evaluate`` over the module's name.
    for module, name in (("chatops.domain.timeline", "_BLOCKS"), ("chatops.domain.evaluate", "_FIXED")):
        kept = getattr(import_module(module), name, None)
        if isinstance(kept, dict):
            kept.clear()


def current() -> TzDatabase:
    """The rules in use: those chosen by :func:`use`, else (nothing chose yet) the package's when ``zoneinfo``
    reads only the package, else the host's."""
    if _current is not None:
        return _current
    return _package() if not zoneinfo.TZPATH else _host_or_package()


def _host_or_package() -> TzDatabase:
    try:
        return _host()
    except ConfigError:
        return _package()
