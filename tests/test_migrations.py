"""Migrations and the main application's tables: created only where absent and never in
production, their required columns checked with a clear error, never dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ops import migrate
from ops.postgres import drop_database, ensure_database, libpq_url, with_database

BILLING_TABLES = {"subscriptions", "stripe_webhook_events", "checkout_sessions"}


@pytest.fixture
def empty_database(admin_database_url: str) -> Iterator[str]:
    name = f"billing_migrations_{uuid.uuid4().hex[:12]}"
    ensure_database(admin_database_url, name)
    yield with_database(admin_database_url, name)
    drop_database(admin_database_url, name)


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def tables(url: str) -> set[str]:
    rows = sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {str(row[0]) for row in rows}


def main_application_schema(url: str, *, with_plan: bool = True) -> None:
    """The main application's own tables, with a column of its own billing knows nothing of."""
    plan = ", plan text NOT NULL DEFAULT 'free'" if with_plan else ""
    sql(url, f"CREATE TABLE workspaces (id uuid PRIMARY KEY, name text NOT NULL, "
             f"billing_email text{plan})")
    sql(url, "CREATE TABLE workspace_members (workspace_id uuid REFERENCES workspaces(id), "
             "user_id uuid, role text, PRIMARY KEY (workspace_id, user_id))")
    sql(url, "INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'Acme')")


def test_production_never_creates_the_main_applications_tables(empty_database: str) -> None:
    with pytest.raises(Exception, match="workspaces, workspace_members do not exist.*production"):
        migrate.upgrade(empty_database, billing_env="production")
    assert tables(empty_database) == set()  # the failed migration left nothing behind


def test_a_missing_required_column_is_named(empty_database: str) -> None:
    main_application_schema(empty_database, with_plan=False)
    with pytest.raises(Exception, match="workspaces lacks the column.s. plan"):
        migrate.upgrade(empty_database, billing_env="production")


def test_production_migrates_alongside_the_main_application(empty_database: str) -> None:
    main_application_schema(empty_database)
    migrate.upgrade(empty_database, billing_env="production")
    assert BILLING_TABLES <= tables(empty_database)
    # The main application's table is as it was: its own column, its row.
    assert sql(empty_database, "SELECT name, billing_email FROM workspaces") == [("Acme", None)]
    migrate.downgrade(empty_database, "base", billing_env="production")
    assert tables(empty_database) == {"workspaces", "workspace_members", "alembic_version"}
    assert sql(empty_database, "SELECT name FROM workspaces") == [("Acme",)]


def test_development_creates_them_once_and_the_downgrade_keeps_them(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert {"workspaces", "workspace_members"} | BILLING_TABLES <= tables(empty_database)
    sql(empty_database, "INSERT INTO workspaces (name) VALUES ('Local')")
    migrate.downgrade(empty_database, "base")
    assert {"workspaces", "workspace_members"} <= tables(empty_database)
    assert not BILLING_TABLES & tables(empty_database)
    migrate.upgrade(empty_database)  # finds them present: checks, does not recreate
    assert sql(empty_database, "SELECT name FROM workspaces") == [("Local",)]
