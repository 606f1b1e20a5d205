"""The Dockerfile and compose.yaml, checked without a container engine: pinned images, a non-root final stage,
health checks on the paths the server answers, and settings that agree with each other and with the code."""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatops.config import Settings

ROOT = Path(__file__).resolve().parent.parent
EXACT_TAG = re.compile(r"^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$")  # 3.11.14-slim-bookworm


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str

    def json_args(self) -> list[str] | None:
        """The exec (JSON array) form's arguments, or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions, with continuation lines joined and comments (also inside continuations) dropped."""
    instructions: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        joined = " ".join(part for part in buffer if part)
        buffer = []
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
    assert not buffer, "the Dockerfile ends inside a continued line"
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def options(args: str) -> tuple[dict[str, str], list[str]]:
    """``--from=builder --chown=x src dst`` → ({"from": "builder", "chown": "x"}, ["src", "dst"])."""
    flags: dict[str, str] = {}
    words = args.split()
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(dockerfile: list[Instruction]) -> list[Instruction]:
    return stages(dockerfile)[-1]


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {found}"
    return found[0]


def exposed_port(final: list[Instruction]) -> int:
    ports = only(final, "EXPOSE").args.split()
    assert len(ports) == 1, ports
    return int(ports[0].removesuffix("/tcp"))


def healthcheck_code(final: list[Instruction]) -> str:
    _, words = options(only(final, "HEALTHCHECK").args)
    assert words[0] == "CMD", "HEALTHCHECK must run a command"
    command = Instruction(0, "CMD", " ".join(words[1:])).json_args()
    assert command is not None and command[:2] == ["python", "-c"], "slim has no curl: use python -c"
    return command[2]


# -- the Dockerfile --------------------------------------------------------------------------------


def test_the_parser_joins_continuations_and_skips_comments() -> None:
    text = '# c\nFROM a:1.2.3 AS b\nRUN x \\\n  # inside\n  && y\n\nCMD ["z"]\n'
    assert parse_dockerfile(text) == [
        Instruction(2, "FROM", "a:1.2.3 AS b"),
        Instruction(3, "RUN", "x && y"),
        Instruction(7, "CMD", '["z"]'),
    ]


def test_every_base_image_is_pinned_to_an_exact_version(dockerfile: list[Instruction]) -> None:
    names: set[str] = set()
    images = []
    for instruction in dockerfile:
        if instruction.keyword != "FROM":
            continue
        _, words = options(instruction.args)
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            names.add(words[2].lower())
        if image.lower() in names:
            continue  # a stage built earlier in this file
        images.append(image)
        name, _, tag = image.partition("@")[0].rpartition(":")
        assert name and tag, f"line {instruction.line}: {image} has no tag"
        assert tag != "latest" and EXACT_TAG.match(tag), (
            f"line {instruction.line}: {image} is not an exact version"
        )
    assert images, "no base image"
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(p) for p in python.removeprefix(">=").split("."))
    for image in images:
        version = tuple(int(p) for p in image.split(":")[1].split("-")[0].split(".")[:2])
        assert image.startswith("python:") and "slim" in image and version >= minimum, image


def test_it_is_multi_stage_and_the_final_stage_copies_the_built_environment(
    dockerfile: list[Instruction],
) -> None:
    all_stages = stages(dockerfile)
    assert len(all_stages) >= 2
    builder = options(all_stages[0][0].args)[1]
    assert len(builder) == 3 and builder[1].upper() == "AS"
    copies = [options(i.args) for i in all_stages[-1] if i.keyword == "COPY"]
    assert any(flags.get("from") == builder[2] and words[0] == "/opt/venv" for flags, words in copies)
    assert all("from" in flags for flags, _ in copies), "the final stage takes only what the builder made"
    assert any("pip wheel" in i.args for i in all_stages[0] if i.keyword == "RUN")


def test_the_final_stage_runs_as_an_unprivileged_user(final: list[Instruction]) -> None:
    users = [i.args.split(":")[0] for i in final if i.keyword == "USER"]
    assert users, "the final stage has no USER"
    assert users[-1] not in ("root", "0"), users[-1]


def test_the_default_command_serves_on_the_exposed_port(final: list[Instruction]) -> None:
    command = only(final, "CMD").json_args()
    assert command is not None, "CMD must use the exec form, so gunicorn gets SIGTERM itself"
    assert command[:2] == ["chatops", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert int(command[command.index("--port") + 1]) == exposed_port(final) == 3000
    assert not [i for i in final if i.keyword == "ENTRYPOINT"]


def test_the_healthcheck_asks_healthz_on_the_exposed_port(final: list[Instruction]) -> None:
    flags, _ = options(only(final, "HEALTHCHECK").args)
    assert {"interval", "timeout", "retries"} <= set(flags)
    code = healthcheck_code(final)
    assert f"http://127.0.0.1:{exposed_port(final)}/healthz" in code


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    # shutdown() waits for the next poll: 50 ms, not the default 0.5 s per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_the_healthcheck_command_really_runs(
    final: list[Instruction],
    health_server: http.server.HTTPServer,
    status: int,
    exit_code: int,
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(_Health, "status", status)
    port = health_server.server_address[1]
    code = healthcheck_code(final).replace(f":{exposed_port(final)}/", f":{port}/")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert result.returncode == exit_code, result.stderr.decode()


def test_the_database_defaults_to_the_data_volume(final: list[Instruction]) -> None:
    env = " ".join(i.args for i in final if i.keyword == "ENV")
    assert "CHATOPS_DATABASE_URL=sqlite:////data/chatops.db" in env
    assert only(final, "VOLUME").args in ("/data", '["/data"]')


def test_the_serving_process_keeps_to_two_malloc_arenas(final: list[Instruction]) -> None:
    # Read by glibc when the process starts: it must be in the image's environment, not set by the app.
    env = " ".join(i.args for i in final if i.keyword == "ENV")
    assert "MALLOC_ARENA_MAX=2" in env


def _dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in patterns)


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_build_context(
    dockerfile: list[Instruction],
) -> None:
    sources = []
    for instruction in dockerfile:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        flags, words = options(instruction.args)
        if "from" in flags:
            continue
        sources.extend(words[:-1])
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _dockerignored(source), f"COPY {source}: excluded by .dockerignore"
    # The wheel build reads the package data and the README named in pyproject.toml.
    assert {"pyproject.toml", "README.md", "chatops"} <= set(sources)


def test_secrets_and_local_state_stay_out_of_the_build_context_and_the_repository() -> None:
    for path in (".env", ".venv", ".git", "chatops.db", "tests"):
        assert _dockerignored(path), path
    assert ".env" in (ROOT / ".gitignore").read_text().split()


# -- compose.yaml ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def chatops_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("build") in (".", {"context": "."})}


def _seconds(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    assert match and text, text
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_postgres_is_pinned_checked_and_kept_in_a_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    name, _, tag = db["image"].rpartition(":")
    assert name == "postgres" and re.match(r"^\d+\.\d+(-[a-z]+)?$", tag), db["image"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data" and volume[0] in compose["volumes"]
    assert "ports" not in db, "the database is reachable only from the compose network"


def test_two_chatops_instances_share_one_postgresql_database(compose: dict[str, Any]) -> None:
    services = chatops_services(compose)
    assert len(services) == 2
    db = compose["services"]["db"]["environment"]
    urls = {s["environment"]["CHATOPS_DATABASE_URL"] for s in services.values()}
    assert urls == {f"postgresql://{db['POSTGRES_USER']}@db:5432/{db['POSTGRES_DB']}"}
    for service in services.values():
        assert service["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert service["env_file"] == ".env"
        assert service["environment"]["PGPASSWORD"] == db["POSTGRES_PASSWORD"]


def test_the_database_takes_every_connection_the_instances_may_open(
    compose: dict[str, Any], final: list[Instruction]
) -> None:
    from chatops.cli import build_parser
    from chatops.store.sql import POOL

    command = json.loads(only(final, "CMD").args)
    assert command[:2] == ["chatops", "serve"] and "--workers" not in command
    workers = build_parser().parse_args(command[1:]).workers  # the image serves with the default
    per_process = POOL["pool_size"] + POOL["max_overflow"]
    db = compose["services"]["db"]["command"]
    [setting] = [
        db[i + 1] for i, word in enumerate(db) if word == "-c" and db[i + 1].startswith("max_connections=")
    ]
    reserved = 3  # PostgreSQL's superuser_reserved_connections default
    busiest = len(chatops_services(compose)) * workers * per_process
    assert busiest <= int(setting.split("=")[1]) - reserved


def test_the_regions_file_is_mounted_where_chatops_config_points(compose: dict[str, Any]) -> None:
    for service in chatops_services(compose).values():
        [mount] = [v for v in service["volumes"] if v["target"] == service["environment"]["CHATOPS_CONFIG"]]
        assert mount["type"] == "bind" and mount["read_only"] is True
        assert mount["source"] == "./regions.toml"
        assert "create_host_path" not in mount, "a missing file must fail, not become a directory"


def test_ports_health_and_shutdown_agree_with_the_image_and_the_server(
    compose: dict[str, Any], final: list[Instruction]
) -> None:
    port = exposed_port(final)
    host_ports = []
    for service in chatops_services(compose).values():
        [mapping] = service["ports"]
        host, container = mapping.split(":")
        assert int(container) == port
        host_ports.append(host)
        if "healthcheck" in service:  # the image's HEALTHCHECK applies unless overridden; then it must agree
            test = " ".join(service["healthcheck"]["test"])
            assert f":{port}/healthz" in test or f":{port}/readyz" in test
        # gunicorn's graceful_timeout is 20 s: compose must wait longer before it kills.
        assert _seconds(service["stop_grace_period"]) > 20
    assert len(set(host_ports)) == len(host_ports)
    assert "/healthz" in healthcheck_code(final)


def test_the_env_example_names_every_required_setting(compose: dict[str, Any]) -> None:
    example = (ROOT / ".env.example").read_text()
    names = {
        line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")
    }
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    assert required <= names, required - names
    assert "POSTGRES_PASSWORD" in names
    assert not any(name in names for name in ("CHATOPS_DATABASE_URL", "CHATOPS_CONFIG")), "compose sets those"
