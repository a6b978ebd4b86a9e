"""Settings: required variables, seed defaults, and refusal of placeholder secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.config import SettingsError, load_settings
from core.temporal_connection import temporal_connection

REQUIRED = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/billing",
    "AUTH_JWT_SECRET": "a" * 40,
    "STRIPE_SECRET_KEY": "sk_test_abc",
    "STRIPE_WEBHOOK_SIGNING_SECRET": "whsec_abc",
    "CHECKOUT_SUCCESS_URL": "http://app/success",
    "CHECKOUT_CANCEL_URL": "http://app/cancel",
    "BILLING_PORTAL_RETURN_URL": "http://app/billing",
    "CONTACT_SALES_URL": "http://app/sales",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_seed_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.billing_grace_days == 7
    assert settings.stripe_webhook_claim_ttl_seconds == 300
    assert settings.stripe_webhook_max_body_bytes == 262144
    assert settings.stripe_retry_batch_size == 200
    assert settings.stripe_grace_batch_size == 500
    assert settings.stripe_catalog_sync_enabled is True
    assert settings.stripe_catalog_sync_cron == "*/15 * * * *"
    assert settings.stripe_internal_admin_token is None
    connection = temporal_connection(settings)
    assert (connection.target_host, connection.namespace) == ("127.0.0.1:7233", "default")
    assert connection.tls is False


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_missing_required_variable_names_it(env: pytest.MonkeyPatch, missing: str) -> None:
    env.delenv(missing)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == f"missing required setting: {missing}"


def test_invalid_value_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("BILLING_GRACE_DAYS", "soon")
    with pytest.raises(SettingsError, match="invalid setting BILLING_GRACE_DAYS"):
        load_settings()


def test_production_refuses_placeholder_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("BILLING_ENV", "production")
    env.setenv("STRIPE_WEBHOOK_SIGNING_SECRET", "whsec_changeme")
    with pytest.raises(
        SettingsError, match="STRIPE_WEBHOOK_SIGNING_SECRET looks like a placeholder"
    ):
        load_settings()


def test_cli_stops_with_one_line_naming_the_variable(env: pytest.MonkeyPatch) -> None:
    env.delenv("STRIPE_SECRET_KEY")
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "billing: missing required setting: STRIPE_SECRET_KEY"
    ]
