"""Log lines never carry SQL parameters: not SQLAlchemy's `[parameters: …]`, not the row
values PostgreSQL quotes in an error's DETAIL, in JSON or in plain lines."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.db import create_db_engine, create_sync_engine
from core.logging import JsonFormatter, ScrubbingFormatter

EMAIL = "dana.customer@example.com"
SETUP = (
    "CREATE TEMP TABLE people (id int PRIMARY KEY, email text CHECK (email NOT LIKE 'dana%'))"
)


def _logged(exc: BaseException, formatter: logging.Formatter) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("billing.test.sql")
    logger.addHandler(handler)
    try:
        try:
            raise exc
        except DBAPIError:
            logger.exception("the insert failed: %s", exc)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


async def test_async_engine_errors_log_no_parameters(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(SETUP))
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(
                    text("INSERT INTO people VALUES (:id, :email)"), {"id": 1, "email": EMAIL}
                )
    finally:
        await engine.dispose()
    assert "Failing row contains" in str(raised.value.orig)  # PostgreSQL did quote it
    for formatter in (JsonFormatter(), ScrubbingFormatter("%(message)s")):
        line = _logged(raised.value, formatter)
        assert EMAIL not in line and "dana" not in line, line
        assert "check constraint" in line  # the reason stays readable


def test_sync_engine_errors_log_no_parameters(database_url: str) -> None:
    engine = create_sync_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text(SETUP))
        connection.execute(text("INSERT INTO people VALUES (1, 'a@example.com')"))
        with pytest.raises(DBAPIError) as raised:
            connection.execute(
                text("INSERT INTO people VALUES (:id, :email)"), {"id": 1, "email": EMAIL}
            )
    engine.dispose()
    assert "[parameters:" not in str(raised.value)
    line = _logged(raised.value, JsonFormatter())
    assert EMAIL not in line and "Key (id)=(1)" not in line, line
