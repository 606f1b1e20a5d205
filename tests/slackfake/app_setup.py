"""What the app under test is started with: the regions file the Slack tests (and the ack benchmark) use, the
regions the app ships with marked the same way (for benchmarks), and a free loopback port."""

from __future__ import annotations

import socket
from datetime import date, timedelta
from importlib import resources
from pathlib import Path


def regions_file(path: Path, *, today: date) -> Path:
    path.write_text(
        f"""
[policy]
approvals_required = 1
flagged_approvals_required = 2
horizon_days = 14

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]

[[regions.sensitive_periods]]
start = {today - timedelta(days=1)}
end = {today + timedelta(days=60)}
reason = "Election protests"

[[regions]]
id = "us-west"
name = "United States (West)"
timezone = "America/Los_Angeles"
peak_hours = ["mon-fri 07:00-23:00"]
""",
        encoding="utf-8",
    )
    return path


def shipped_regions_file(path: Path, *, today: date) -> Path:
    """The regions file chatops ships with (299 regions), Iran marked sensitive from yesterday for 60 days as in
    :func:`regions_file`, so the same windows are flagged for the same reason; its policy is the same too."""
    text = (
        resources.files("chatops.data").joinpath("regions.toml").read_text(encoding="utf-8")
    )  # as load_regions
    blocks = text.split("[[regions]]\n")
    (iran,) = [i for i, b in enumerate(blocks) if b.startswith('id = "ir"\n')]
    blocks[iran] = blocks[iran].rstrip("\n") + (
        f"\n\n[[regions.sensitive_periods]]\nstart = {today - timedelta(days=1)}\n"
        f'end = {today + timedelta(days=60)}\nreason = "Election protests"\n\n'
    )
    path.write_text("[[regions]]\n".join(blocks), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
