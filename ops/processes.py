"""Child processes of the local stack: start, wait until ready, stop in reverse order."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

logger = logging.getLogger("billing.dev")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port in TIME_WAIT after a restart is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return True
        except OSError:
            return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def choose_port(preferred: int) -> int:
    """The configured port when it is free, else any free one (said in the log)."""
    if port_free(preferred):
        return preferred
    chosen = free_port()
    logger.warning("port %d is taken; using %d instead", preferred, chosen)
    return chosen


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout: float = 60.0,
    gone: Callable[[], str | None] | None = None,
) -> None:
    """Poll `check`; `gone` names a child that exited, which ends the wait at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        exited = gone() if gone else None
        if exited:
            raise RuntimeError(f"{exited} exited while waiting for {what}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f}s")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def tcp_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


@dataclass
class ProcessGroup:
    """Children started in order and stopped in reverse order, each given time to finish."""

    log_dir: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        child = subprocess.Popen(  # noqa: S603 - argv is built by us, never from input
            list(argv),
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append((name, child))
        logger.info("started %s (pid %d, log %s)", name, child.pid, log.name)
        return child.pid

    def first_exited(self) -> str | None:
        for name, child in self.children:
            if child.poll() is not None:
                return name
        return None

    def stop(self, timeout: float = 15.0) -> None:
        for name, child in reversed(self.children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout)
                except subprocess.TimeoutExpired:
                    logger.warning("%s did not stop in %.0fs; killing it", name, timeout)
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
        self.children.clear()
