"""The compose database roles, from the very SQL files compose runs: the migration role
owns the schema, the service role only reads and writes rows, the main application's
tables stay the main application's."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from ops import migrate
from ops.postgres import drop_database, libpq_url

SQL = Path(__file__).resolve().parent.parent / "deploy" / "postgres"
pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="needs the psql client")


@dataclass(frozen=True)
class Roles:
    database: str
    migrator_url: str
    app_url: str
    owner_url: str


def _psql(admin_url: str, script: str, **variables: str) -> None:
    argv = ["psql", "-X", "-q", libpq_url(admin_url), "-f", str(SQL / script)]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60)


def _url(admin_url: str, role: str, password: str, database: str) -> str:
    url = make_url(admin_url).set(username=role, password=password, database=database)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def roles(admin_database_url: str) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:10]
    names = {k: f"{k}_{suffix}" for k in ("billing_db", "migrator", "app", "owner")}
    passwords = {k: uuid.uuid4().hex for k in ("migrator", "app", "owner")}
    try:
        _psql(admin_database_url, "20-billing-roles.sql", billing_db=names["billing_db"],
              migrator_role=names["migrator"], migrator_password=passwords["migrator"],
              app_role=names["app"], app_password=passwords["app"])
        _psql(admin_database_url, "30-main-application.sql", billing_db=names["billing_db"],
              owner_role=names["owner"], owner_password=passwords["owner"],
              migrator_role=names["migrator"], app_role=names["app"])
        yield Roles(
            database=names["billing_db"],
            migrator_url=_url(admin_database_url, names["migrator"], passwords["migrator"],
                              names["billing_db"]),
            app_url=_url(admin_database_url, names["app"], passwords["app"], names["billing_db"]),
            owner_url=_url(admin_database_url, names["owner"], passwords["owner"],
                           names["billing_db"]),
        )
    finally:
        drop_database(admin_database_url, names["billing_db"])
        with psycopg.connect(libpq_url(admin_database_url), autocommit=True) as admin:
            for role in ("app", "owner", "migrator"):
                admin.execute(f'DROP ROLE IF EXISTS "{names[role]}"')


def _run(url: str, statement: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(statement)


def test_the_service_role_reads_and_writes_rows_and_changes_no_schema(roles: Roles) -> None:
    migrate.upgrade(roles.migrator_url, billing_env="production")
    workspace = str(uuid.uuid4())
    _run(roles.owner_url, f"INSERT INTO workspaces (id, name) VALUES ('{workspace}', 'Acme')")
    # What the service does day to day.
    _run(roles.app_url, f"UPDATE workspaces SET plan = 'pro' WHERE id = '{workspace}'")
    _run(roles.app_url, "INSERT INTO stripe_webhook_events (id, type, status, source) "
                        "VALUES ('evt_1', 'invoice.paid', 'pending', 'webhook')")
    _run(roles.app_url, "DELETE FROM stripe_webhook_events WHERE id = 'evt_1'")
    _run(roles.app_url, "INSERT INTO workspace_billing_customer_events (workspace_id, "
                        f"event_type) VALUES ('{workspace}', 'validated')")  # identity column
    # What it must not.
    for statement in (
        "CREATE TABLE intruder (id int)",
        "DROP TABLE subscriptions",
        "ALTER TABLE subscriptions ADD COLUMN x int",
        f"UPDATE workspaces SET name = 'renamed' WHERE id = '{workspace}'",
        f"DELETE FROM workspaces WHERE id = '{workspace}'",
        "TRUNCATE stripe_webhook_events",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _run(roles.app_url, statement)
    # Neither the service role nor the migration role may drop the main application's table.
    for url in (roles.app_url, roles.migrator_url):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _run(url, "DROP TABLE workspace_members")
    migrate.downgrade(roles.migrator_url, "base", billing_env="production")
    with psycopg.connect(libpq_url(roles.owner_url)) as owner:
        assert owner.execute("SELECT plan FROM workspaces").fetchall() == [("pro",)]
