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


PRODUCTION = {
    "BILLING_ENV": "production",
    "AUTH_JWT_SECRET": "Jq8vN2pX7rT4wZ9kL3mB6yH1cF5dG0sA",
    "STRIPE_SECRET_KEY": "sk_live_51AbCdEf",
    "STRIPE_INTERNAL_ADMIN_TOKEN": "adm_7Tq2Wm9Zp4Kx8Rv3Nc6Hj1Lb5Fd0Gs",
    "TEMPORAL_PAYLOAD_KEYS": "2026-11:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=",
}


def test_a_complete_production_configuration_loads(env: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        env.setenv(name, value)
    settings = load_settings()
    assert settings.payload_keys is not None and settings.payload_keys.current_id == "2026-11"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("STRIPE_INTERNAL_ADMIN_TOKEN", "abc", "STRIPE_INTERNAL_ADMIN_TOKEN must be at least 32"),
        ("AUTH_JWT_SECRET", "ab" * 20, "AUTH_JWT_SECRET is too repetitive"),
        ("AUTH_JWT_SECRET", "short-but-random-Q8x", "AUTH_JWT_SECRET must be at least 32"),
        ("METRICS_TOKEN", "metrics", "METRICS_TOKEN must be at least 32"),
        ("STRIPE_API_BASE", "http://127.0.0.1:12111", "is not Stripe over https"),
        ("STRIPE_API_BASE", "https://stripe-proxy.internal", "is not Stripe over https"),
        ("STRIPE_API_BASE", "http://api.stripe.com", "is not Stripe over https"),
        ("TEMPORAL_PAYLOAD_KEYS", "", "TEMPORAL_PAYLOAD_KEYS is required in production"),
        ("CODEC_SERVER_AUTH", "none", "CODEC_SERVER_AUTH=none is for the local stack only"),
        ("AUTH_JWKS_URL", "http://idp.test/jwks", "AUTH_JWKS_URL must be an https URL"),
    ],
)
def test_production_refuses(env: pytest.MonkeyPatch, name: str, value: str, reason: str) -> None:
    for key, good in PRODUCTION.items():
        env.setenv(key, good)
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=reason):
        load_settings()
    # The same values are fine off production, where the local stack needs them.
    env.setenv("BILLING_ENV", "development")
    load_settings()


def test_production_allows_what_is_explicitly_allowed(env: pytest.MonkeyPatch) -> None:
    for key, good in PRODUCTION.items():
        env.setenv(key, good)
    env.setenv("STRIPE_API_BASE", "https://stripe-proxy.internal")
    env.setenv("STRIPE_API_BASE_ALLOW_CUSTOM", "true")
    env.delenv("TEMPORAL_PAYLOAD_KEYS")
    env.setenv("TEMPORAL_ALLOW_PLAINTEXT_PAYLOADS", "true")
    settings = load_settings()
    assert settings.payload_keys is None


def test_malformed_payload_keys_name_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_PAYLOAD_KEYS", "k1:c2hvcnQ=")
    with pytest.raises(SettingsError, match="invalid setting TEMPORAL_PAYLOAD_KEYS: .*32 bytes"):
        load_settings()


def test_every_secret_reaches_the_log_scrubber(env: pytest.MonkeyPatch) -> None:
    for key, good in PRODUCTION.items():
        env.setenv(key, good)
    env.setenv("TEMPORAL_API_KEY", "temporal-cloud-api-key-123")
    secrets = load_settings().secret_values()
    assert "temporal-cloud-api-key-123" in secrets
    assert PRODUCTION["TEMPORAL_PAYLOAD_KEYS"].split(":", 1)[1] in secrets
