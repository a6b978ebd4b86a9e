"""Run Alembic migrations programmatically, from the CLI, the dev stack and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str, billing_env: str = "development") -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    # 0001 creates the main application's tables only off production.
    config.attributes["billing_env"] = billing_env
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", *, billing_env: str = "development") -> None:
    command.upgrade(alembic_config(database_url, billing_env), revision)


def downgrade(database_url: str, revision: str, *, billing_env: str = "development") -> None:
    command.downgrade(alembic_config(database_url, billing_env), revision)
