"""manifest.yml is a valid Slack app manifest and asks only for what the app uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parent.parent
# Slack's published app-manifest JSON Schema (MIT, see the LICENSE file beside it), kept with the tests.
SCHEMAS = Path(__file__).resolve().parent / "slack_manifest_schema"


def _validator() -> jsonschema.protocols.Validator:
    if not (SCHEMAS / "manifest.schema.json").exists():
        pytest.fail(f"Slack's manifest schema is missing ({SCHEMAS})")
    top = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    resources = []
    for path in SCHEMAS.glob("manifest.schema.*.json"):
        schema = json.loads(path.read_text())
        resource = Resource.from_contents(schema, default_specification=DRAFT7)
        # The top schema refers to the versioned ones by their published URLs; serve them from disk.
        for ref in re.findall(r'"\$ref":\s*"(https://[^"]+/' + re.escape(path.name) + ')"', json.dumps(top)):
            resources.append((ref, resource))
    registry = Registry().with_resources(resources)
    return jsonschema.Draft7Validator(top, registry=registry)


def _manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_validates_against_slacks_schema() -> None:
    errors = sorted(_validator().iter_errors(_manifest()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_check_rejects_a_broken_manifest() -> None:
    broken = _manifest()
    broken["features"]["slash_commands"][0]["command"] = "maintenance without slash"
    del broken["display_information"]["name"]
    assert list(_validator().iter_errors(broken))


def test_manifest_declares_the_command_interactivity_and_only_the_scopes_used() -> None:
    manifest = _manifest()
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == ["/maintenance"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "users:read",
        "usergroups:read",
        "channels:history",
        "groups:history",
    }
    assert manifest["features"]["slash_commands"][0]["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")


# -- chatops manifest --------------------------------------------------------------------------------------


def _run_manifest(*args: str) -> tuple[int, str, str]:
    import io

    from chatops.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["manifest", *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_packaged_manifest_is_the_root_manifest() -> None:
    assert (ROOT / "chatops" / "data" / "manifest.yml").read_bytes() == (ROOT / "manifest.yml").read_bytes()


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://ops.example.com", "https://ops.example.com"),
        ("https://Ops.Example.com/", "https://ops.example.com"),
        ("https://127.0.0.1:3000", "https://127.0.0.1:3000"),
    ],
)
def test_manifest_with_a_url_points_slack_at_its_events_path(given: str, base: str) -> None:
    code, out, err = _run_manifest("--url", given)
    assert (code, err) == (0, "")
    manifest = yaml.safe_load(out)
    errors = list(_validator().iter_errors(manifest))
    assert not errors, [e.message for e in errors]
    assert manifest["features"]["slash_commands"][0]["url"] == f"{base}/slack/events"
    assert manifest["settings"]["interactivity"]["request_url"] == f"{base}/slack/events"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == f"{base}/slack/events"
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert "example.org" not in out
    rest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    for document in (manifest, rest):
        del document["features"]["slash_commands"][0]["url"]
        del document["settings"]["interactivity"]["request_url"]
        del document["settings"]["event_subscriptions"]["request_url"]
    assert manifest == rest  # nothing else changed


def test_manifest_for_socket_mode_has_no_request_urls() -> None:
    code, out, _ = _run_manifest("--socket-mode")
    assert code == 0
    manifest = yaml.safe_load(out)
    assert not list(_validator().iter_errors(manifest))
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert "http" not in out.split("\n", 1)[1].replace("https://api.slack.com", "")


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("chatops.example.org", "not an https URL"),
        ("ftp://chatops.example.org", "not an https URL"),
        ("https://", "not an https URL"),
        ("http://chatops.example.org", "is http; Slack sends requests only to https URLs"),
        ("HTTP://127.0.0.1:3000", "is http; Slack sends requests only to https URLs"),
        ("https://chatops.example.org/slack/events", "has a path"),
        ("https://chatops.example.org/?x=1", "has a path, query"),
        ("https://chatops.example.org#top", "has a path, query or fragment"),
        ("https://user:secret@chatops.example.org", "has a user"),
        ("https://chatops.example.org:99999", "is not a URL"),
        ("https://chat ops.example.org", "odd characters"),
    ],
)
def test_manifest_refuses_a_url_that_is_not_a_base_url(given: str, says: str) -> None:
    code, out, err = _run_manifest("--url", given)
    assert (code, out) == (2, "")
    assert err.startswith("chatops manifest: --url ") and says in err and err.count("\n") == 1


def test_manifest_needs_a_url_or_socket_mode() -> None:
    assert _run_manifest()[0] == 2
    assert _run_manifest("--url", "https://a.example", "--socket-mode")[0] == 2
