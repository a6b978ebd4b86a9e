"""The embedded PostgreSQL of `billing dev`: a start while an earlier server of the same data
directory is shutting down (Ctrl-C reaches it from the terminal) waits and starts it again,
instead of failing on its vanished socket."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ops.postgres import _postmaster, libpq_url, start_embedded

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: its 0700 parents shut out the server's own system user.
    parent = Path(tempfile.mkdtemp(prefix="billing-embedded-pg-"))
    yield parent / "postgres"
    shutil.rmtree(parent, ignore_errors=True)


def test_start_waits_for_a_stopping_server_and_starts_it_again(data_dir: Path) -> None:
    server, url = start_embedded(data_dir)
    try:
        found = _postmaster(data_dir)
        assert found is not None and found[1] == "ready"
        # What Ctrl-C does to the postmaster: a fast shutdown, under our feet.
        os.kill(found[0], signal.SIGINT)
        again, again_url = start_embedded(data_dir)
        with psycopg.connect(libpq_url(again_url)) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        restarted = _postmaster(data_dir)
        assert restarted is not None and restarted[0] != found[0]
        server = again
    finally:
        server.cleanup()
