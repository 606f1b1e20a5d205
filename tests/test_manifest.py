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
SCHEMAS = ROOT.parent / "shared" / "slack"


def _validator() -> jsonschema.protocols.Validator:
    if not (SCHEMAS / "manifest.schema.json").exists():
        pytest.fail(f"Slack's manifest schema is missing beside the checkout ({SCHEMAS})")
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
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "users:read", "usergroups:read"}
    assert manifest["features"]["slash_commands"][0]["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
