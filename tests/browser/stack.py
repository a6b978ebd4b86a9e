"""`billing dev` as a black box for the slow tests: started in its own process group on free
ports and a fresh database, read through its stack file, stopped as Ctrl-C would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from ops.postgres import libpq_url
from ops.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 180.0
# Variables a developer's shell may hold that would point the stack elsewhere.
FOREIGN = (
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_SIGNING_SECRET",
    "AUTH_JWT_SECRET",
    "STRIPE_INTERNAL_ADMIN_TOKEN",
    "CHECKOUT_SUCCESS_URL",
    "CHECKOUT_CANCEL_URL",
    "BILLING_PORTAL_RETURN_URL",
    "BILLING_DEV_STACK_FILE",
    "TEMPORAL_ADDRESS",
)


class DevStack:
    def __init__(self, data_dir: Path, database_url: str, **env: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
        self.env.update(
            DATABASE_URL=database_url,
            API_PORT=str(free_port()),
            EMULATOR_PORT=str(free_port()),
            TEMPORAL_PORT=str(free_port()),
            TEMPORAL_UI_PORT=str(free_port()),
            LOG_JSON="false",
            **env,
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.stack: dict[str, Any] = {}
        self.output = data_dir / "billing-dev.out"

    @property
    def stack_file(self) -> Path:
        return self.data_dir / "dev-stack.json"

    def start(self, *extra: str) -> dict[str, Any]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A stopping earlier stack's file is not ours; the new stack writes its own when up.
        self.stack_file.unlink(missing_ok=True)
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ops.cli", "dev", "--data-dir", str(self.data_dir), *extra],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own group, as in a terminal: the stop signal reaches every process of it.
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.stack_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"billing dev did not come up:\n{self.tail()}")
            time.sleep(0.2)
        self.stack = json.loads(self.stack_file.read_text())
        return self.stack

    def signal_stop(self) -> None:
        """Ctrl-C: SIGINT to the whole process group, as a terminal sends it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)

    def stop(self) -> None:
        """Ctrl-C, then wait for the stack to finish."""
        if self.process is None or self.process.poll() is not None:
            return
        self.signal_stop()
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.output.read_text().splitlines()[-lines:])
        except OSError:
            return "(no output)"

    @property
    def printed(self) -> str:
        return self.output.read_text()

    # ---- observers ----

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(libpq_url(self.database_url), row_factory=dict_row) as connection:
            return list(connection.execute(sql, params).fetchall())

    def execute(self, sql: str, **params: Any) -> None:
        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as connection:
            connection.execute(sql, params)

    def emulator(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(
            method,
            f"{self.stack['emulator_url']}{path}",
            # Control routes take JSON bodies only: a POST without one still sends `{}`.
            json=body if body is not None or method == "GET" else {},
            headers={"Authorization": f"Bearer {self.stack['stripe_secret_key']}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def owner_id(self) -> str:
        secrets: dict[str, str] = json.loads((self.data_dir / "dev-secrets.json").read_text())
        return secrets["demo_owner_id"]

    def new_workspace(self, name: str, role: str = "owner") -> str:
        """A workspace of the demo owner, inserted as the main application would."""
        workspace_id = str(uuid.uuid4())
        self.execute(
            "INSERT INTO workspaces (id, name) VALUES (%(id)s, %(name)s)", id=workspace_id,
            name=name,
        )
        self.execute(
            "INSERT INTO workspace_members (workspace_id, user_id, role) "
            "VALUES (%(w)s, %(u)s, %(r)s)",
            w=workspace_id,
            u=self.owner_id(),
            r=role,
        )
        return workspace_id
