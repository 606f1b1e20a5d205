"""The README's example proposal message and day strip are rendered by the real code; this keeps them so.

To refresh the README after a change to the messages: ``python tests/test_readme_example.py`` prints the block.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chatops.config import load_regions
from chatops.domain.evaluate import evaluate, evaluation_document
from chatops.domain.models import Window
from chatops.domain.policy import Status
from chatops.domain.suggest import choose
from chatops.slack import blocks
from chatops.store import ProposalRow

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- example-message: begin -->"
END = "<!-- example-message: end -->"


def message_text(message: dict[str, Any]) -> str:
    """A message as an approver reads it: each block's text, buttons in brackets."""
    out = []
    for block in message["blocks"]:
        if block["type"] == "divider":
            out.append("────────")
        elif isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        elif block["type"] == "actions":
            out.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
        else:
            out.extend(e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(out)


def example() -> str:
    config = load_regions(str(ROOT / "examples" / "iran-2009.toml"))
    window = Window.of(
        datetime(2009, 6, 15, 22, 0, tzinfo=ZoneInfo("America/Los_Angeles")), timedelta(hours=1)
    )
    evaluation = evaluate(window, regions=config.regions)
    choices = choose(window, regions=config.regions, team=config.team, horizon=config.policy.horizon)
    row = ProposalRow(
        id=12,
        idempotency_key=None,
        title="Core network upgrade",
        description="Replace the core routers in FRA1; traffic fails over to AMS1.",
        rollback_plan="",
        ticket_url="https://tickets.example.com/CHG-12",
        proposer="U0PROPOSER",
        channel="C0CHANGES",
        input_tz="America/Los_Angeles",
        start_ts=int(window.start.timestamp()),
        end_ts=int(window.end.timestamp()),
        status=Status.PENDING,
        flagged=evaluation.flagged,
        approvals_required=config.policy.approvals_for(flagged=evaluation.flagged),
        round=1,
        version=1,
        message_ts=None,
        evaluation=evaluation_document(evaluation, choices),
        created_at=0,
        updated_at=0,
    )
    message = blocks.proposal_message(row, [], mention=["S0OPS"])
    return f"{BEGIN}\n```\n{message_text(message)}\n```\n{END}"


def test_the_readme_shows_the_message_the_code_renders() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == example(), "run: python tests/test_readme_example.py, paste into README.md"


if __name__ == "__main__":
    sys.stdout.write(example() + "\n")


def test_the_readme_shows_the_day_strip_chatops_check_prints() -> None:
    from chatops.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("```\nLocal day") + 4 :]
    shown = block[: block.index("```")].rstrip("\n").splitlines()
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "check",
                "--start",
                "2009-06-15T22:00",
                "--tz",
                "America/Los_Angeles",
                "--duration",
                "1h",
                "--config",
                str(ROOT / "examples" / "iran-2009.toml"),
            ]
        )
    assert code == 1
    printed = [line.rstrip() for line in out.getvalue().splitlines()]
    assert len(shown) == 3 and all(line in printed for line in shown), out.getvalue()
