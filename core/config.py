"""Typed settings for every process of the service, read from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import stripe
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.payload_keys import PayloadKeys
from core.production_checks import production_refusal


class StartupError(RuntimeError):
    """The process cannot start as configured; the message is one line that says why."""


class SettingsError(StartupError):
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

    # Temporal connection: temporalio.envconfig's own variable names, resolved by
    # core/temporal_connection.py over the TOML profile of TEMPORAL_CONFIG_FILE (these win);
    # unset means "the profile's value", then 127.0.0.1:7233 / default / plain TCP.
    temporal_address: str | None = None
    temporal_namespace: str | None = None
    temporal_api_key: str | None = None
    temporal_tls: bool | None = None
    temporal_tls_server_ca_cert_path: str | None = None
    temporal_tls_client_cert_path: str | None = None
    temporal_tls_client_key_path: str | None = None
    temporal_tls_server_name: str | None = None
    temporal_profile: str | None = None
    temporal_config_file: str | None = None
    temporal_task_queue: str = "billing"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # Payload encryption (AES-256-GCM): `id:base64key` pairs, newest first; the first
    # encrypts, every one decrypts. Production refuses to run without unless told to.
    temporal_payload_keys: str | None = None
    temporal_allow_plaintext_payloads: bool = False
    # The codec endpoint the Temporal UI and CLI decode payloads through (`billing
    # codec-server`): never on the API port; `none` auth only off production on loopback.
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = Field(default=8081, ge=1, le=65535)
    codec_server_auth: Literal["required", "none"] = "required"
    codec_server_cors_origins: str | None = None  # comma-separated; default: TEMPORAL_UI_URL
    codec_server_jwt_audience: str | None = None  # the UI's OIDC tokens (via AUTH_JWKS_URL)

    stripe_api_base: str = "https://api.stripe.com"
    # A proxy or anything but Stripe over https is refused in production unless allowed.
    stripe_api_base_allow_custom: bool = False
    # One budget for every worker together (a token bucket in PostgreSQL): this rate, and
    # bursts of up to `stripe_max_burst` requests after a quiet spell.
    stripe_max_requests_per_second: float = Field(default=20.0, gt=0)
    stripe_max_burst: float = Field(default=5.0, ge=1)
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

    # Availability: the API's database work answers 503 within this deadline, whatever the
    # server does; the webhook route has its own small pool no other route can drain.
    api_db_timeout_seconds: float = Field(default=3.0, gt=0)
    # The longest a checkout or portal request waits on its workflow before answering 503
    # (the workflow goes on; a retry with the same key joins it).
    api_workflow_wait_seconds: float = Field(default=10.0, gt=0)
    api_db_pool_size: int = Field(default=10, ge=1)
    webhook_db_pool_size: int = Field(default=10, ge=1)
    # Per-workspace starts of checkout and portal workflows, per minute (429 beyond).
    checkout_starts_per_minute: int = Field(default=10, ge=1)
    portal_starts_per_minute: int = Field(default=20, ge=1)
    # A Stripe request's HTTP timeout; worker transactions that stay open across a Stripe
    # call are allowed (retries + 1) × this before PostgreSQL ends them.
    stripe_http_timeout_seconds: float = Field(default=20.0, gt=0)

    # Entitlements: the main application's back end reads them with this bearer token, and
    # is told of each new version at APP_WEBHOOK_URL, signed with APP_WEBHOOK_SECRET.
    billing_service_token: str | None = None
    app_webhook_url: str | None = None
    app_webhook_secret: str | None = None
    # One delivery's whole budget (connect, send, answer): an attempt never hangs longer.
    app_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Backoff of the newest undelivered version: doubling from the first to the cap, for
    # the window; then the notice is marked failed and alerted.
    app_webhook_retry_initial_seconds: float = Field(default=5.0, gt=0)
    app_webhook_retry_max_seconds: float = Field(default=900.0, gt=0)
    app_webhook_retry_window_hours: float = Field(default=72.0, gt=0)
    # The sweep wakes the drainer of any notice nobody attempted when due.
    entitlement_notice_sweep_cron: str = "* * * * *"
    # Catalog re-derive: workspaces per batch, and the pause between batches.
    entitlement_rederive_batch_size: int = Field(default=200, gt=0)
    entitlement_rederive_pause_seconds: float = Field(default=1.0, ge=0)

    # A worker takes at most this many workflow tasks and local activities at once (event
    # workflows apply inside a local activity, one database connection each); its database
    # pool holds them all. Beyond that, work waits in Temporal's task queue rather than in
    # the worker, where it would share the CPU and wait for a connection. Regular activities
    # (batches, entitlement notices: mostly HTTP) keep the SDK's own limit.
    worker_concurrency: int = Field(default=10, ge=1)

    # Operations.
    checkout_pending_reconcile_seconds: int = Field(default=30, ge=0)
    # The worker's own /metrics (prometheus_client) and the Temporal SDK's worker metrics.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    temporal_sdk_metrics_address: str | None = None  # host:port
    log_level: str = "INFO"
    log_json: bool = True
    # Development only: the stack file `billing dev` writes, whose demo owner token the dev
    # page at `/` offers for sign-in.
    billing_dev_stack_file: str | None = None
    # In production the API's /metrics answers only this bearer token (404 when unset).
    metrics_token: str | None = None
    # Schema changes run as this role (`billing migrate`); the service's own role only
    # reads and writes rows. Unset: DATABASE_URL.
    migration_database_url: str | None = None

    # Bearer tokens: the HS256 secret, and RS256/ES256 from an identity provider's JWKS.
    auth_jwt_audience: str | None = None
    auth_jwt_issuer: str | None = None
    auth_jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    auth_jwt_max_age_seconds: int | None = Field(default=None, gt=0)
    auth_jwks_url: str | None = None
    auth_jwks_cache_seconds: int = Field(default=300, gt=0)

    @field_validator(
        "stripe_internal_admin_token",
        "stripe_billing_portal_configuration_id",
        "temporal_sdk_metrics_address",
        "billing_dev_stack_file",
        "temporal_address",
        "temporal_namespace",
        "temporal_api_key",
        "temporal_tls_server_ca_cert_path",
        "temporal_tls_client_cert_path",
        "temporal_tls_client_key_path",
        "temporal_tls_server_name",
        "temporal_profile",
        "temporal_config_file",
        "temporal_payload_keys",
        "codec_server_cors_origins",
        "codec_server_jwt_audience",
        "metrics_token",
        "migration_database_url",
        "auth_jwt_audience",
        "auth_jwt_issuer",
        "auth_jwks_url",
        "billing_service_token",
        "app_webhook_url",
        "app_webhook_secret",
    )
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("temporal_payload_keys")
    @classmethod
    def _valid_payload_keys(cls, value: str | None) -> str | None:
        if value is not None:
            PayloadKeys.parse(value)  # raises ValueError naming what is wrong
        return value

    @property
    def payload_keys(self) -> PayloadKeys | None:
        return PayloadKeys.parse(self.temporal_payload_keys) if self.temporal_payload_keys else None

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.app_webhook_url and not self.app_webhook_secret:
            # An unsigned notice could not be told from a forged one.
            raise ValueError("APP_WEBHOOK_SECRET is required when APP_WEBHOOK_URL is set")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.billing_env == "production":
            refusal = production_refusal(self)
            if refusal:
                raise ValueError(refusal)
        return self

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log scrubber of each process."""
        values = (
            self.stripe_secret_key,
            self.stripe_webhook_signing_secret,
            self.auth_jwt_secret,
            self.stripe_internal_admin_token,
            self.temporal_api_key,
            self.metrics_token,
            self.billing_service_token,
            self.app_webhook_secret,
            *(entry.partition(":")[2] for entry in (self.temporal_payload_keys or "").split(",")),
        )
        return [value for value in values if value]

    @property
    def dev_tools_enabled(self) -> bool:
        """The dev page, its demo sign-in and the emulator controls exist outside production."""
        return self.billing_env != "production"

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
    if not first["loc"]:  # a refusal that weighs several settings names them itself
        return str(first["msg"]).removeprefix("Value error, ")
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    if first["type"] == "missing":
        return f"missing required setting: {name}"
    return f"invalid setting {name}: {first['msg']}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
