"""The one error tree of chatops.

Every error the app raises on purpose is a :class:`ChatopsError`; its ``str()`` is a single line written for the
person who caused it (an engineer typing a command, an approver clicking a button, an operator starting the
app). Anything else that escapes is a bug and is logged with its traceback.

::

    ChatopsError
     ├── InputError                 what someone typed or clicked cannot be used as it is
     │    ├── TimeInputError        a date, time, zone or duration that cannot be read
     │    │    ├── NonexistentTimeError   a local time skipped by a DST change (a gap)
     │    │    └── AmbiguousTimeError     a local time that happens twice (a fold)
     │    └── WindowError           a window that is empty, too long or in the past
     ├── ConfigError                the regions file or the settings are wrong (names the file and the field)
     ├── NotAllowedError            the actor may not do this
     ├── NotFoundError              no such proposal
     ├── ConflictError              the proposal changed under the actor (already decided, postponed, …)
     └── UnavailableError           the database did not answer in time; nothing was recorded

The CLI turns a ChatopsError into one line on stderr and exit status 2; the Slack app into a private message.
"""

from __future__ import annotations


class ChatopsError(Exception):
    """Base of every error chatops raises on purpose. ``str(err)`` is meant for a person."""


class InputError(ChatopsError):
    """The input cannot be used as it is; nothing was changed. ``field`` names the input it is about (a form
    field such as ``"ticket"``), when there is one."""

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TimeInputError(InputError):
    """A date, time, time zone or duration that cannot be read."""


class NonexistentTimeError(TimeInputError):
    """A local wall-clock time that does not exist in its zone (skipped by a DST change)."""


class AmbiguousTimeError(TimeInputError):
    """A local wall-clock time that happens twice in its zone (repeated by a DST change)."""


class WindowError(InputError):
    """A maintenance window that is empty, too long, or otherwise unusable."""


class ConfigError(ChatopsError):
    """The regions file or the settings are wrong."""


class NotAllowedError(ChatopsError):
    """The actor is not allowed to do this."""


class NotFoundError(ChatopsError):
    """The thing asked for does not exist."""


class ConflictError(ChatopsError):
    """The state changed under the actor; the action no longer applies."""


class UnavailableError(ChatopsError):
    """The database could not be reached, or a lock was not granted within the budget; nothing was recorded."""
