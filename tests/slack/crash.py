"""kill -9 for a running ``chatops serve``."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from conftest import Server, stop_server


def kill_instance(server: Server) -> None:
    """kill -9 the instance: its gunicorn master and every worker it forked (found by parent pid)."""
    master = server.process.pid
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)
    stop_server(server, sig=signal.SIGKILL)


@contextlib.contextmanager
def logs_shown_on_failure(*servers: Server) -> Iterator[None]:
    """On a failure inside the block, print each server's log (pytest shows it with the failure)."""
    try:
        yield
    except BaseException:
        for server in servers:
            print(f"----- {server.log.name} -----\n{server.output()}")
        raise
