"""One `billing dev` per data directory: a new start waits for a stopping one, and clears up
after one that was killed.

The lock is an `flock` on `.data/dev.lock`, which the kernel drops when its holder dies, so a
crash never leaves it stuck. The file also names the holder's state and its children: a new
start waits while the previous stack is `stopping` (its Temporal still holds the SQLite
file, its PostgreSQL its socket), refuses while it is `running`, and stops the children of a
killed one (they run in sessions of their own and outlive it) before starting its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger("billing.dev")

WAIT_FOR_PREVIOUS_SECONDS = 90.0
ORPHAN_STOP_SECONDS = 15.0


class StackAlreadyRunning(RuntimeError):
    """Another `billing dev` runs on this data directory."""


class DevLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "dev.lock"
        self._fd: int | None = None
        self._children: list[dict[str, Any]] = []

    def acquire(self, timeout: float = WAIT_FOR_PREVIOUS_SECONDS) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self._read()
                if holder.get("state") != "stopping":
                    os.close(fd)
                    raise StackAlreadyRunning(
                        f"billing dev already runs on {self.path.parent} (pid "
                        f"{holder.get('pid', '?')}); stop it first or pass another --data-dir"
                    ) from None
                if not announced:
                    logger.info("waiting for the previous billing dev to stop")
                    announced = True
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise TimeoutError(
                        f"the previous billing dev did not stop within {timeout:.0f}s"
                    ) from None
                time.sleep(0.2)
        self._fd = fd
        _stop_orphans(self._read().get("children", []))
        self._write("running")

    def child_started(self, name: str, pid: int) -> None:
        started = psutil.Process(pid).create_time()
        self._children.append({"name": name, "pid": pid, "started": started})
        self._write("running")

    def stopping(self) -> None:
        self._write("stopping")

    def release(self) -> None:
        if self._fd is None:
            return
        self._children.clear()
        self._write("stopped")
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, state: str) -> None:
        record = {"pid": os.getpid(), "state": state, "children": self._children}
        self.path.write_text(json.dumps(record))


def _stop_orphans(children: list[dict[str, Any]]) -> None:
    """Stop what a killed `billing dev` left running: only processes it recorded, recognised
    by pid and start time (a reused pid is someone else's)."""
    alive: list[psutil.Process] = []
    for child in children:
        with contextlib.suppress(psutil.Error, KeyError, TypeError):
            process = psutil.Process(int(child["pid"]))
            if abs(process.create_time() - float(child["started"])) < 1.0:
                logger.warning("stopping %s (pid %d) left by a killed billing dev",
                               child.get("name", "?"), process.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                alive.append(process)
    _, still = psutil.wait_procs(alive, timeout=ORPHAN_STOP_SECONDS)
    for process in still:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
