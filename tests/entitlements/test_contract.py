"""The notice contract's edges: `Billing-Signature` (and the README's verification example),
the settings it needs, and the migration that gives paid workspaces their first version."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from core.config import SettingsError, load_settings
from core.notice_signature import sign, verify
from ops import migrate
from ops.postgres import drop_database, ensure_database, libpq_url, with_database
from tests.test_settings import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
SECRET = "app-webhook-secret"
BODY = json.dumps({"id": "ent_w_1", "version": 1}).encode()


def test_a_signature_verifies_only_its_body_secret_and_time() -> None:
    header = sign(SECRET, BODY, timestamp=1_800_000_000)
    assert re.fullmatch(r"t=1800000000,v1=[0-9a-f]{64}", header)
    assert verify(header, BODY, SECRET, now=1_800_000_100)
    assert not verify(header, BODY + b" ", SECRET, now=1_800_000_100)
    assert not verify(header, BODY, "another-secret", now=1_800_000_100)
    assert not verify(header, BODY, SECRET, now=1_800_000_301)  # older than 5 minutes
    for broken in ("", "t=1800000000", "v1=abc", "t=soon,v1=abc", "garbage"):
        assert not verify(broken, BODY, SECRET, now=1_800_000_000)
    # A receiver rotating secrets may be sent several v1 (as Stripe does): any one suffices.
    rotated = header + ",v1=" + "0" * 64
    assert verify(rotated, BODY, SECRET, now=1_800_000_000)


def readme_example() -> Callable[[str, bytes, str], bool]:
    """The verification example of the README, run as written."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(import hashlib, hmac, time\n.*?)```", text, re.S)
    assert block, "the README's verification example is missing"
    assert len(block.group(1).strip().splitlines()) <= 7
    scope: dict[str, object] = {}
    exec(block.group(1), scope)  # our own README's code: running it is the point
    found = scope["verify_billing_signature"]
    assert callable(found)
    return found


def test_the_readme_example_verifies_a_real_notice() -> None:
    verify_example = readme_example()
    header = sign(SECRET, BODY)
    assert verify_example(header, BODY, SECRET)
    assert not verify_example(header, BODY + b"x", SECRET)
    stale = sign(SECRET, BODY, timestamp=int(time.time()) - 3600)
    assert not verify_example(stale, BODY, SECRET)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_notices_need_a_secret_and_production_needs_strong_ones(env: pytest.MonkeyPatch) -> None:
    env.setenv("APP_WEBHOOK_URL", "https://app.example/billing/entitlements")
    with pytest.raises(SettingsError, match="APP_WEBHOOK_SECRET is required"):
        load_settings()
    env.setenv("APP_WEBHOOK_SECRET", "x7Kq2mP9vL4nR8tW1yB6cF3hJ5dG0sA2")
    settings = load_settings()
    assert settings.app_webhook_timeout_seconds == 10.0
    assert settings.app_webhook_retry_window_hours == 72.0
    assert "x7Kq2mP9vL4nR8tW1yB6cF3hJ5dG0sA2" in settings.secret_values()

    env.setenv("BILLING_ENV", "production")
    env.setenv("STRIPE_API_BASE_ALLOW_CUSTOM", "true")
    env.setenv("TEMPORAL_ALLOW_PLAINTEXT_PAYLOADS", "true")
    env.setenv("AUTH_JWT_SECRET", "Zq8wX3eR5tY7uI9oP1aS4dF6gH2jK0lM")
    env.setenv("BILLING_SERVICE_TOKEN", "short")
    with pytest.raises(SettingsError, match="BILLING_SERVICE_TOKEN must be at least 32"):
        load_settings()


@pytest.fixture
def empty_database(admin_database_url: str) -> Iterator[str]:
    name = f"billing_entitlements_{uuid.uuid4().hex[:12]}"
    ensure_database(admin_database_url, name)
    yield with_database(admin_database_url, name)
    drop_database(admin_database_url, name)


def test_the_migration_gives_paid_workspaces_their_first_version(empty_database: str) -> None:
    migrate.upgrade(empty_database, "0003")
    paid, free = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(empty_database), autocommit=True) as db:
        for workspace in (paid, free):
            db.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'w')", (workspace,))
        db.execute(
            "INSERT INTO plan_variants (plan_slug, interval, currency, stripe_price_id, "
            "gating_bundle, grants) VALUES ('pro', 'monthly', 'usd', 'price_m', 'pro-bundle', "
            "'{\"seats\": 5}')"
        )
        db.execute(
            "INSERT INTO subscriptions (workspace_id, plan_slug, status, stripe_subscription_id, "
            "stripe_price_id, interval, cancel_at_period_end, current_period_end) VALUES "
            "(%s, 'pro', 'active', 'sub_m', 'price_m', 'monthly', true, '2027-01-01Z')",
            (paid,),
        )
        db.execute(
            "INSERT INTO workspace_grants (workspace_id, grant_program_code, value) "
            "VALUES (%s, 'seats', '5')",
            (paid,),
        )
        db.execute(
            "INSERT INTO subscriptions (workspace_id, plan_slug, status) "
            "VALUES (%s, 'free', 'active')",
            (free,),
        )
    migrate.upgrade(empty_database)
    with psycopg.connect(libpq_url(empty_database)) as db:
        rows = db.execute(
            "SELECT workspace_id, version, plan, interval, grants, gating_bundle, "
            "effective_until IS NOT NULL, in_grace, cause FROM workspace_entitlements"
        ).fetchall()
    assert rows == [
        (paid, 1, "pro", "monthly", {"seats": 5}, "pro-bundle", True, False, "migration")
    ]
    migrate.downgrade(empty_database, "0003")
    migrate.upgrade(empty_database)  # and back: the backfill runs again, once
