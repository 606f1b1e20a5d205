"""An event's data is encoded once and spliced into the hashed body: the text must be what encoding the whole
would give, character for character, or every new event's hash would change (and stop verifying)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from chatops.store import _SLOT, canonical_json, canonical_json_with, event_hash

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(objects, st.text(max_size=8), json_values)
@example({"a": _SLOT}, "data", {"x": 1})  # a value that is the slot itself
@example({"data": 1, "b": "\x00"}, "data", _SLOT)  # the key replaced; the given text is the slot's
@example({}, "data", {"evaluation": {"regions": [{"id": "ir", "flagged": True}]}})
def test_spliced_text_is_the_whole_encoded(value: dict[str, Any], key: str, inner: Any) -> None:
    assert canonical_json_with(value, key, canonical_json(inner)) == canonical_json({**value, key: inner})


@given(objects, st.text(), st.one_of(st.none(), st.text(max_size=20)))
def test_an_event_hash_is_the_same_with_its_data_given_encoded(
    data: dict[str, Any], reason: str, actor_name: str | None
) -> None:
    fields: dict[str, Any] = {
        "prev_hash": "ab" * 32,
        "gseq": 7,
        "proposal_id": 3,
        "seq": 2,
        "kind": "approved",
        "actor": "U0APPROVER",
        "actor_name": actor_name,
        "at": 1_700_000_000,
        "reason": reason,
        "data": data,
    }
    assert event_hash(**fields, data_json=canonical_json(data)) == event_hash(**fields)
