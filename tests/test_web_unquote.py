"""The front door's percent-decoding: equal to urllib's on any text, and fast on what Slack sends."""

from __future__ import annotations

import json
import urllib.parse

from hypothesis import example, given
from hypothesis import strategies as st

from chatops.web import parse_slack_body, unquote_plus

FORM = "application/x-www-form-urlencoded"
# Text built from the pieces that make percent-decoding go wrong: escapes good and bad, pluses, backslashes
# (the fast path's own escape character), bytes that are not UTF-8, and any other character.
PIECES = st.one_of(
    st.sampled_from(
        ["%", "%4", "%41", "%zz", "%e2%82%ac", "%E2%82", "%ff", "%5C", "%5c", "+", "%2B", "\\", "\\x41"]
    ),
    st.sampled_from(["\\x", "%00", "%0a", "&", "=", "é", "€", "\U0001f6a8"]),
    st.text(max_size=5),
)


ASCII_PIECES = st.one_of(
    st.sampled_from(
        ["%", "%4", "%41", "%zz", "%e2%82%ac", "%E2%82", "%ff", "%5C", "%5c", "+", "%2B", "\\", "\\x41"]
    ),
    st.sampled_from(["\\x", "\\n", "\\u0041", "%00", "%0a", "&", "="]),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=5),
)


@given(st.lists(PIECES, max_size=30).map("".join))
@example("\\x41%41")  # a backslash Slack did not escape stays a backslash
@example("\\u00e9%41")
@example("%41\\")
def test_unquote_plus_is_urllibs_on_any_text(text: str) -> None:
    assert unquote_plus(text) == urllib.parse.unquote_plus(text)


@given(st.lists(ASCII_PIECES, max_size=30).map("".join))
def test_unquote_plus_is_urllibs_on_ascii_text(text: str) -> None:
    assert unquote_plus(text) == urllib.parse.unquote_plus(text)


@given(st.text())
def test_what_urllib_encodes_comes_back(text: str) -> None:
    assert unquote_plus(urllib.parse.quote_plus(text)) == text


@given(
    st.dictionaries(
        st.sampled_from(["text", "value", "note"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    ),
    st.booleans(),
)
def test_an_interaction_body_reads_as_urllib_reads_it(fields: dict[str, str], ascii_only: bool) -> None:
    payload = {"type": "block_actions", **fields}
    body = urllib.parse.urlencode({"payload": json.dumps(payload, ensure_ascii=ascii_only)})
    assert (
        parse_slack_body(body, FORM) == json.loads(dict(urllib.parse.parse_qsl(body))["payload"]) == payload
    )
