"""The stand-in answers the real slack_sdk WebClient as Slack would; the simulator's requests satisfy Bolt."""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_bolt import Ack, App, BoltRequest, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier

from . import payloads
from .signing import SlackClientSim, sign
from .standin import SlackStandIn

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
CHANNEL = "C0000CHANGES"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])


# --- messages -----------------------------------------------------------------------------------


def test_post_update_and_reply_show_in_messages_and_thread(slack: SlackStandIn, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Proposed*"}}]
    posted = client.chat_postMessage(channel=CHANNEL, text="proposed", blocks=blocks)
    parent = posted["ts"]
    client.chat_update(channel=CHANNEL, ts=parent, text="approved")
    reply = client.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="Alice approved")
    client.chat_postMessage(channel="C0000OTHER", thread_ts=parent, text="elsewhere")

    assert posted["ok"] and posted["channel"] == CHANNEL and posted["message"]["text"] == "proposed"
    assert float(reply["ts"]) > float(parent)
    messages = slack.messages(CHANNEL)
    assert list(messages) == [parent, reply["ts"]]
    assert messages[parent].text == "approved"
    assert messages[parent].blocks == blocks  # chat.update without blocks keeps them, as Slack does
    assert messages[parent].edits == 1
    assert [m.text for m in slack.thread(CHANNEL, parent)] == ["Alice approved"]


def test_ts_values_are_unique_and_increasing(slack: SlackStandIn, client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel=CHANNEL, text=str(i))["ts"] for i in range(12)]

    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == len(stamps)
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_form_encoded_blocks_are_recorded_as_sent_and_decoded_on_request(
    slack: SlackStandIn, client: WebClient
) -> None:
    blocks = [{"type": "divider"}]
    client.api_call("chat.postMessage", params={"channel": CHANNEL, "blocks": json.dumps(blocks)})

    [call] = slack.calls_to("chat.postMessage")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert isinstance(call.params["blocks"], str)
    assert call.json("blocks") == blocks
    assert next(iter(slack.messages(CHANNEL).values())).blocks == blocks


def test_update_of_an_unknown_message_is_message_not_found(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel=CHANNEL, ts="1.000001", text="x")

    assert raised.value.response["error"] == "message_not_found"


def test_ephemeral_and_permalink(slack: SlackStandIn, client: WebClient) -> None:
    ephemeral = client.chat_postEphemeral(channel=CHANNEL, user="U0000ALICE", text="only you")
    posted = client.chat_postMessage(channel=CHANNEL, text="x")
    link = client.chat_getPermalink(channel=CHANNEL, message_ts=posted["ts"])

    assert ephemeral["message_ts"]
    assert [e.text for e in slack.ephemerals(user="U0000ALICE")] == ["only you"]
    assert link["permalink"].endswith(f"/archives/{CHANNEL}/p{posted['ts'].replace('.', '')}")


# --- users, groups, views -----------------------------------------------------------------------


def test_users_info_gives_the_configured_time_zone(slack: SlackStandIn, client: WebClient) -> None:
    slack.set_user("U0000REZA", tz="Asia/Tehran", name="Reza Tehrani")

    user = client.users_info(user="U0000REZA")["user"]
    default = client.users_info(user="U0000NOBODY")["user"]

    assert (user["tz"], user["tz_offset"], user["real_name"]) == ("Asia/Tehran", 12600, "Reza Tehrani")
    assert user["profile"]["real_name"] == "Reza Tehrani"
    assert (default["tz"], default["tz_offset"]) == ("UTC", 0)


def test_unknown_users_can_be_not_found() -> None:
    with SlackStandIn(token=TOKEN, default_user_tz=None) as slack:
        client = WebClient(token=TOKEN, base_url=slack.url)
        with pytest.raises(SlackApiError) as raised:
            client.users_info(user="U0000NOBODY")

    assert raised.value.response["error"] == "user_not_found"


def test_usergroups_users_list(slack: SlackStandIn, client: WebClient) -> None:
    slack.set_usergroup("S0000APPROVERS", ["U0000ALICE", "U0000BOB"])

    assert client.usergroups_users_list(usergroup="S0000APPROVERS")["users"] == ["U0000ALICE", "U0000BOB"]
    with pytest.raises(SlackApiError) as raised:
        client.usergroups_users_list(usergroup="S0000NONE")
    assert raised.value.response["error"] == "no_such_subteam"


def test_views_open_update_and_trigger_reuse(slack: SlackStandIn, client: WebClient) -> None:
    modal = {"type": "modal", "callback_id": "propose", "title": {"type": "plain_text", "text": "Propose"}}
    opened = client.views_open(trigger_id="t-1", view=modal)["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": []})

    assert opened["id"].startswith("V") and opened["callback_id"] == "propose"
    assert updated["view"]["id"] == opened["id"]
    assert slack.views()[opened["id"]]["hash"] == updated["view"]["hash"]
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id="t-1", view=modal)
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    slack.expire_trigger("t-2")
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_push(trigger_id="t-2", view=modal)


# --- auth and errors ----------------------------------------------------------------------------


def test_auth_test_answers_the_fixture_identities(client: WebClient) -> None:
    answer = client.auth_test()

    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == (
        payloads.TEAM_ID,
        payloads.BOT_USER_ID,
        payloads.BOT_ID,
    )


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")])
def test_missing_or_wrong_token_is_refused(slack: SlackStandIn, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=token, base_url=slack.url).chat_postMessage(channel=CHANNEL, text="x")

    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == error
    assert slack.messages(CHANNEL) == {}


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.nonsense")

    assert raised.value.response["error"] == "unknown_method"


# --- fault injection ----------------------------------------------------------------------------


def test_server_error_then_success_with_the_sdk_retry_handler(slack: SlackStandIn) -> None:
    quick = FixedValueRetryIntervalCalculator(0.01)
    client = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[ServerErrorRetryHandler(1, quick)])
    slack.fail_next("chat.postMessage", 1)

    posted = client.chat_postMessage(channel=CHANNEL, text="eventually")

    assert posted["ok"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 200]
    assert [m.text for m in slack.messages(CHANNEL).values()] == ["eventually"]


def test_rate_limit_then_success_with_the_sdk_retry_handler(slack: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[RateLimitErrorRetryHandler()])
    slack.rate_limit_next(None, 1, retry_after=0)

    assert client.chat_postMessage(channel=CHANNEL, text="x")["ok"]
    assert [c.status for c in slack.calls] == [429, 200]


def test_rate_limit_without_a_retry_handler_surfaces_429(slack: SlackStandIn, client: WebClient) -> None:
    slack.rate_limit_next("chat.postMessage", 1, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=CHANNEL, text="x")
    client.chat_postMessage(channel=CHANNEL, text="y")  # only the next call was limited

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert [m.text for m in slack.messages(CHANNEL).values()] == ["y"]


def test_faults_only_hit_their_method(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.update", 1, status=503)

    client.chat_postMessage(channel=CHANNEL, text="x")

    assert slack.calls[0].ok


def test_go_down_refuses_connections_until_come_back(slack: SlackStandIn, client: WebClient) -> None:
    url = slack.url
    slack.go_down()
    with pytest.raises(urllib.error.URLError):
        client.chat_postMessage(channel=CHANNEL, text="lost")
    slack.come_back()

    assert slack.url == url
    assert client.chat_postMessage(channel=CHANNEL, text="back")["ok"]
    assert [c.params["text"] for c in slack.calls] == ["back"]


def test_go_down_closes_kept_alive_connections_too(slack: SlackStandIn) -> None:
    with httpx.Client() as http:
        assert http.post(slack.url + "auth.test", headers=AUTH).json()["ok"]
        slack.go_down()
        with pytest.raises(httpx.TransportError):  # not answered by the old connection's thread
            http.post(slack.url + "auth.test", headers=AUTH)
    assert len(slack.calls) == 1


def test_a_request_being_answered_when_it_goes_down_is_answered(slack: SlackStandIn) -> None:
    slack.slow_next("chat.postMessage", delay=0.5)
    answers: list[bool] = []
    with httpx.Client() as http:
        thread = threading.Thread(
            target=lambda: answers.append(
                http.post(
                    slack.url + "chat.postMessage", headers=AUTH, data={"channel": CHANNEL, "text": "x"}
                ).json()["ok"]
            )
        )
        thread.start()
        slack.wait_for("chat.postMessage")
        slack.go_down()
        thread.join(5)
    assert answers == [True]


# --- connections ----------------------------------------------------------------------------------

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_http_1_1_keep_alive_one_connection_for_many_calls(slack: SlackStandIn) -> None:
    with httpx.Client() as http:
        for _ in range(3):
            answer = http.post(slack.url + "auth.test", headers=AUTH)
            assert answer.http_version == "HTTP/1.1" and answer.json()["ok"]
    assert slack.connections == 1 and len(slack.calls) == 3


def test_a_client_asking_to_close_gets_its_connection_closed(slack: SlackStandIn, client: WebClient) -> None:
    client.auth_test()  # urllib sends "Connection: close"
    client.auth_test()
    assert slack.connections == 2
    assert all(call.headers["connection"] == "close" for call in slack.calls)


def test_cpu_seconds_counts_the_stand_ins_own_work(slack: SlackStandIn, client: WebClient) -> None:
    before = slack.cpu_seconds
    for _ in range(20):
        client.chat_postMessage(channel=CHANNEL, text="x", blocks=[{"type": "divider"}] * 20)
    during = slack.cpu_seconds
    slack.go_down()  # what the stopped server spent is kept
    assert before < during <= slack.cpu_seconds
    slack.come_back()
    assert slack.cpu_seconds >= during


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_drop_idle_connections_closes_them_for_the_client(slack: SlackStandIn, reset: bool) -> None:
    with httpx.Client() as http:
        http.post(slack.url + "auth.test", headers=AUTH)
        assert slack.drop_idle_connections(reset=reset) == 1
        assert http.post(slack.url + "auth.test", headers=AUTH).json()["ok"]  # httpx sees it and reconnects
    assert slack.connections == 2 and len(slack.calls) == 2


def test_hang_up_next_acts_then_resets_instead_of_answering(slack: SlackStandIn) -> None:
    slack.hang_up_next("chat.postMessage")
    with httpx.Client() as http:
        http.post(slack.url + "auth.test", headers=AUTH)  # other methods are answered
        with pytest.raises(httpx.TransportError):
            http.post(slack.url + "chat.postMessage", headers=AUTH, data={"channel": CHANNEL, "text": "x"})
        answer = http.post(
            slack.url + "chat.postMessage", headers=AUTH, data={"channel": CHANNEL, "text": "y"}
        )
    assert answer.json()["ok"]
    assert [m.text for m in slack.messages(CHANNEL).values()] == ["x", "y"]  # the first took effect


# --- waiting and response_url -------------------------------------------------------------------


def test_wait_for_sees_calls_from_other_threads(slack: SlackStandIn, client: WebClient) -> None:
    worker = threading.Timer(0.1, lambda: client.chat_postMessage(channel=CHANNEL, text="later"))
    worker.start()
    try:
        [call] = slack.wait_for("chat.postMessage", timeout=5)
    finally:
        worker.join()

    assert call.params["text"] == "later"


def test_wait_for_timeout_lists_what_arrived(slack: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel=CHANNEL, text="only one")

    with pytest.raises(AssertionError, match=r"(?s)got 1.*chat.postMessage -> 200 ok"):
        slack.wait_for(lambda c: c.method == "chat.postMessage", count=2, timeout=0.2)


def test_response_url_records_and_replaces_the_bound_message(slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=CHANNEL, text="original")
    url = slack.response_url("click-1", channel=CHANNEL, message_ts=posted["ts"])

    with httpx.Client() as http:
        answer = http.post(url, json={"replace_original": True, "text": "replaced"})
        http.post(slack.response_url("cmd"), json={"text": "just for you"})

    assert (answer.status_code, answer.text) == (200, "ok")
    [call, _] = slack.calls_to("response_url")
    assert call.params == {"replace_original": True, "text": "replaced"}
    assert slack.message(CHANNEL, posted["ts"]).text == "replaced"
    assert [e.text for e in slack.ephemerals()] == ["just for you"]


# --- signing and payloads -----------------------------------------------------------------------


def test_signed_headers_are_accepted_and_a_tampered_body_is_not() -> None:
    body = b"command=%2Fmaintenance&text=propose"
    headers = sign(body, SECRET)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b"x", headers)
    assert not verifier.is_valid_request(body, sign(body, SECRET, timestamp=1_700_000_000))
    assert not verifier.is_valid_request(body, sign(body, "another-secret"))


def test_deep_merge_overrides_nested_fields_and_deletes() -> None:
    merged = payloads.build("block_actions", {"user": {"id": "U0000BOB"}, "message": payloads.DELETE})

    assert merged["user"] == {"id": "U0000BOB", "username": "alice", "name": "alice", "team_id": "T0000TEST"}
    assert "message" not in merged
    assert payloads.load("block_actions")["user"]["id"] == "U0000ALICE"


# --- the simulator against a real Bolt app over HTTP --------------------------------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def received() -> list[BoltRequest]:
    return []


@pytest.fixture
def bolt_url(slack: SlackStandIn, received: list[BoltRequest]) -> Iterator[str]:
    """A small Bolt app served over HTTP, talking to the stand-in: it proves the simulator's payloads."""
    app = App(token=TOKEN, signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=slack.url))

    @app.command("/maintenance")
    def command(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, request: BoltRequest
    ) -> None:
        ack(f"got {body['text']}")
        received.append(request)
        client.chat_postMessage(
            channel=body["channel_id"],
            text="proposed",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "decide",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "approve",
                            "value": "p-1",
                            "text": {"type": "plain_text", "text": "Approve"},
                        }
                    ],
                }
            ],
        )
        respond(text="posted", response_type="ephemeral")

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(replace_original=True, text=f"approved {action['value']} by {body['user']['id']}")

    @app.view("propose")
    def propose(ack: Ack, view: dict[str, Any]) -> None:
        title = view["state"]["values"]["title"]["title_input"]["value"]
        if not title:
            ack(response_action="errors", errors={"title": "A title, please"})
        else:
            ack()

    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sim(bolt_url: str, slack: SlackStandIn) -> Iterator[SlackClientSim]:
    with SlackClientSim(bolt_url, signing_secret=SECRET, standin=slack) as simulator:
        yield simulator


def test_bolt_accepts_a_command_then_a_click_on_the_posted_button(
    sim: SlackClientSim, slack: SlackStandIn
) -> None:
    acked = sim.command("propose tonight", user_id="U0000ALICE")
    [post] = slack.wait_for("chat.postMessage")
    [reply] = slack.wait_for("response_url")
    message = slack.message(CHANNEL, post.response["ts"])
    clicked = sim.block_action("approve", message=message, user_id="U0000BOB")
    slack.wait_for("response_url", count=2)

    assert (acked.status_code, acked.text) == (200, "got propose tonight")
    assert reply.params["text"] == "posted"
    assert clicked.status_code == 200
    assert slack.message(CHANNEL, message.ts).text == "approved p-1 by U0000BOB"


def test_bolt_gets_view_submission_state_values(sim: SlackClientSim) -> None:
    empty = sim.view_submission("propose", values={"title": {"title_input": payloads.plain_text_input(None)}})
    filled = sim.view_submission(
        "propose", values={"title": {"title_input": payloads.plain_text_input("DB")}}
    )

    assert empty.json() == {"response_action": "errors", "errors": {"title": "A title, please"}}
    assert (filled.status_code, filled.text) == (200, "")


@pytest.mark.parametrize("signature", ["bad", "stale", "missing"])
def test_bolt_refuses_requests_not_signed_as_slack_signs(
    sim: SlackClientSim, slack: SlackStandIn, signature: Any
) -> None:
    response = sim.command("propose", signature=signature)

    assert response.status_code == 401
    assert slack.calls_to("chat.postMessage") == []


def test_a_retry_carries_slack_retry_headers_and_the_same_trigger_id(
    sim: SlackClientSim, slack: SlackStandIn, received: list[BoltRequest]
) -> None:
    first = sim.command("propose", trigger_id="123.456.abc")
    retried = sim.command("propose", trigger_id="123.456.abc", retry_num=1)
    other = sim.command("propose")
    slack.wait_for("chat.postMessage", count=3)  # Bolt processes a retry again: the app has to dedupe

    assert first.status_code == retried.status_code == other.status_code == 200
    retry_nums = [r.headers.get("x-slack-retry-num") for r in received]
    assert retry_nums == [None, ["1"], None]
    assert received[1].headers["x-slack-retry-reason"] == ["http_timeout"]
    triggers = [r.body["trigger_id"] for r in received]
    assert triggers[0] == triggers[1] == "123.456.abc" != triggers[2]


def test_conversations_replies_pages_a_thread_and_shows_metadata_only_when_asked(
    slack: SlackStandIn, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    for i in range(3):
        client.chat_postMessage(
            channel=CHANNEL,
            thread_ts=parent,
            text=f"reply {i}",
            metadata={"event_type": "e", "event_payload": {"i": i}},
        )
    client.chat_postMessage(channel=CHANNEL, text="another top-level message")

    first = client.conversations_replies(channel=CHANNEL, ts=parent, limit=2, include_all_metadata=True)
    assert [m["text"] for m in first["messages"]] == ["parent", "reply 0"]
    assert first["has_more"] and first["messages"][1]["metadata"]["event_payload"] == {"i": 0}
    cursor = first["response_metadata"]["next_cursor"]
    rest = client.conversations_replies(channel=CHANNEL, ts=parent, cursor=cursor, include_all_metadata=True)
    assert [m["text"] for m in rest["messages"]] == ["reply 1", "reply 2"] and not rest["has_more"]

    plain = client.conversations_replies(channel=CHANNEL, ts=parent)
    assert all("metadata" not in m for m in plain["messages"])
    with pytest.raises(SlackApiError) as missing:
        client.conversations_replies(channel=CHANNEL, ts="1.000")
    assert missing.value.response["error"] == "thread_not_found"
