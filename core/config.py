"""Typed settings for every process of the service, read from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import stripe
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_MARKERS = ("changeme", "change-me", "placeholder", "xxx", "dev-secret")


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message is one line naming it."""


class Settings(BaseSettings):
    """Environment variables of seed 002 §2, adapted as DESIGN.md says."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    billing_env: Literal["development", "test", "production"] = "development"

    # Required (seed 002 §2, Supabase replaced by PostgreSQL + JWT).
    database_url: str
    auth_jwt_secret: str
    stripe_secret_key: str
    stripe_webhook_signing_secret: str
    checkout_success_url: str
    checkout_cancel_url: str
    billing_portal_return_url: str
    contact_sales_url: str

    # Temporal and Stripe wiring (DESIGN.md).
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "billing"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    stripe_api_base: str = "https://api.stripe.com"
    stripe_max_requests_per_second: float = Field(default=20.0, gt=0)
    stripe_max_network_retries: int = Field(default=0, ge=0)
    # Sent as Stripe-Version on every call, so responses keep one shape whatever the account's
    # default; the default is the version the installed SDK (and the emulator) is tested with.
    stripe_api_version: str = Field(
        default=stripe.api_version, pattern=r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$"
    )

    # Optional (seed 002 §2 defaults).
    stripe_billing_portal_configuration_id: str | None = None
    billing_grace_days: int = Field(default=7, ge=0)
    stripe_internal_admin_token: str | None = None
    stripe_webhook_claim_ttl_seconds: int = Field(default=300, gt=0)
    stripe_webhook_max_body_bytes: int = Field(default=262144, gt=0)
    stripe_retry_batch_size: int = Field(default=200, gt=0)
    stripe_grace_batch_size: int = Field(default=500, gt=0)
    stripe_catalog_sync_enabled: bool = True
    stripe_catalog_sync_cron: str = "*/15 * * * *"
    stripe_catalog_env: str = "dev"

    # Schedules (seed 002 §2 "Wrangler schedule defaults").
    stripe_replay_cron: str = "*/5 * * * *"
    billing_grace_cron: str = "0 * * * *"
    stripe_cleanup_cron: str = "30 2 * * *"
    stripe_webhook_retention_days: int = Field(default=30, gt=0)
    # An event that failed this many times becomes `dead`: kept, never swept, alerted.
    stripe_webhook_max_attempts: int = Field(default=8, ge=1)
    # Expired Idempotency-Keys are kept this long, so their reuse is still answered 422.
    stripe_idempotency_retention_days: int = Field(default=7, ge=0)
    # First replay run without a cursor reads the Events API this far back (Stripe keeps 30).
    stripe_replay_lookback_days: int = Field(default=3, ge=1, le=30)

    # Duplicate paid subscriptions of one workspace (seed 001: not stackable): cancel the
    # loser in Stripe (refunded in full when it started within the window, else prorated to
    # balance credit), or only flag it.
    billing_duplicate_subscription_action: Literal["cancel", "flag"] = "cancel"
    billing_duplicate_refund_window_hours: int = Field(default=48, ge=0)

    # Operations.
    checkout_pending_reconcile_seconds: int = Field(default=30, ge=0)
    # The worker's own /metrics (prometheus_client) and the Temporal SDK's worker metrics.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    temporal_sdk_metrics_address: str | None = None  # host:port
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator(
        "stripe_internal_admin_token",
        "stripe_billing_portal_configuration_id",
        "temporal_sdk_metrics_address",
    )
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.billing_env != "production":
            return self
        secrets = {
            "AUTH_JWT_SECRET": self.auth_jwt_secret,
            "STRIPE_SECRET_KEY": self.stripe_secret_key,
            "STRIPE_WEBHOOK_SIGNING_SECRET": self.stripe_webhook_signing_secret,
            "STRIPE_INTERNAL_ADMIN_TOKEN": self.stripe_internal_admin_token or "",
        }
        for name, value in secrets.items():
            lowered = value.lower()
            if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
                raise ValueError(f"{name} looks like a placeholder; set a real secret")
        if len(self.auth_jwt_secret) < 32:
            raise ValueError("AUTH_JWT_SECRET must be at least 32 characters in production")
        return self

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log scrubber of each process."""
        values = (
            self.stripe_secret_key,
            self.stripe_webhook_signing_secret,
            self.auth_jwt_secret,
            self.stripe_internal_admin_token,
        )
        return [value for value in values if value]

    @property
    def uses_stripe_emulator(self) -> bool:
        return not self.stripe_api_base.startswith("https://api.stripe.com")


def load_settings() -> Settings:
    """Build settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None


def describe_settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    if first["type"] == "missing":
        return f"missing required setting: {name}"
    return f"invalid setting {name}: {first['msg']}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
