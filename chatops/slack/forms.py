"""Reading modal submissions: ``view.state.values`` into typed values, or per-block error messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chatops.domain.conflicts import parse_services
from chatops.domain.timeline import from_ts
from chatops.domain.windows import parse_duration, zone
from chatops.errors import InputError, TimeInputError
from chatops.service import clean_ticket_url
from chatops.slack import ids


class FormErrors(Exception):
    """Errors to show in the modal, keyed by block id."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _value(values: dict[str, Any], block: str) -> Any:
    element = (values.get(block) or {}).get(block) or {}
    kind = element.get("type")
    if kind == "datetimepicker":
        return element.get("selected_date_time")
    if kind == "static_select":
        return (element.get("selected_option") or {}).get("value")
    return element.get("value")


def _text(values: dict[str, Any], block: str) -> str:
    value = _value(values, block)
    return value if isinstance(value, str) else ""


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON the app put in ``private_metadata``; {} when it is missing or not ours."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def proposal_id(view: dict[str, Any]) -> int:
    data = metadata(view)
    pid = data.get("proposal")
    if not isinstance(pid, int) or isinstance(pid, bool):
        raise FormErrors(
            {ids.REASON: "This form is not linked to a change any more; close it and try again."}
        )
    return pid


def expected_version(view: dict[str, Any], *, block: str = ids.REASON) -> int:
    """The version of the change the form was opened for; a form without one decides nothing (the error is
    shown on ``block``)."""
    version = metadata(view).get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise FormErrors(
            {block: "This form does not say which state of the change it is for; close it, try again."}
        )
    return version


@dataclass(frozen=True)
class WindowForm:
    start: datetime
    duration: timedelta


def read_window(values: dict[str, Any], errors: dict[str, str]) -> WindowForm | None:
    """The start (datetimepicker, a UNIX time) and duration blocks."""
    raw_start = _value(values, ids.START)
    start = None
    if (
        isinstance(raw_start, int | float)
        and not isinstance(raw_start, bool)
        and 0 < raw_start < 253402300799
    ):
        start = from_ts(int(raw_start))
    else:
        errors[ids.START] = "Pick a date and a time."
    duration = None
    try:
        duration = parse_duration(_text(values, ids.DURATION))
    except TimeInputError as exc:
        errors[ids.DURATION] = str(exc)
    if start is None or duration is None:
        return None
    return WindowForm(start=start, duration=duration)


@dataclass(frozen=True)
class ProposeForm:
    title: str
    window: WindowForm
    zone: str
    description: str
    rollback_plan: str
    ticket_url: str
    services: tuple[str, ...] = ()


def read_propose(values: dict[str, Any]) -> ProposeForm:
    errors: dict[str, str] = {}
    title = _text(values, ids.TITLE).strip()
    if not title:
        errors[ids.TITLE] = "Give the change a title."
    window = read_window(values, errors)
    zone_name = _text(values, ids.ZONE).strip() or "UTC"
    try:
        zone(zone_name)
    except TimeInputError as exc:
        errors[ids.ZONE] = str(exc)
    ticket_url = ""
    try:
        ticket_url = clean_ticket_url(_text(values, ids.TICKET))
    except InputError as exc:
        errors[ids.TICKET] = f"{str(exc)[0].upper()}{str(exc)[1:]}."
    services: tuple[str, ...] = ()
    try:
        services = parse_services(_text(values, ids.SERVICES))
    except InputError as exc:
        errors[ids.SERVICES] = f"{str(exc)[0].upper()}{str(exc)[1:]}."
    if errors or window is None:
        raise FormErrors(errors)
    return ProposeForm(
        services=services,
        title=title,
        window=window,
        zone=zone_name,
        description=_text(values, ids.DESCRIPTION),
        rollback_plan=_text(values, ids.ROLLBACK),
        ticket_url=ticket_url,
    )


def read_reason(values: dict[str, Any], *, required: bool) -> str:
    reason = _text(values, ids.REASON).strip()
    if required and not reason:
        raise FormErrors({ids.REASON: "Say why; the reason is recorded in the thread."})
    return reason


def read_postpone(values: dict[str, Any]) -> tuple[WindowForm, str]:
    errors: dict[str, str] = {}
    window = read_window(values, errors)
    reason = _text(values, ids.REASON).strip()
    if not reason:
        errors[ids.REASON] = "Say why; the reason is recorded in the thread."
    if errors or window is None:
        raise FormErrors(errors)
    return window, reason


def read_justification(values: dict[str, Any]) -> str:
    text = _text(values, ids.JUSTIFICATION).strip()
    if not text:
        raise FormErrors(
            {ids.JUSTIFICATION: "Say why this flagged window should go ahead; it is recorded in the thread."}
        )
    return text


def expected_round(view: dict[str, Any]) -> int | None:
    value = metadata(view).get("round")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
