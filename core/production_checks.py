"""What production mode refuses to start with: weak secrets, short tokens, a non-Stripe API
base, plaintext Temporal payloads and an unauthenticated codec endpoint."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from core.config import Settings

PLACEHOLDER_MARKERS = ("changeme", "change-me", "placeholder", "xxx", "dev-secret")
MIN_SECRET_LENGTH = 32
# A 32-character secret of three repeated letters is long but guessable.
MIN_DISTINCT_CHARACTERS = 10
STRIPE_HOSTS = ("api.stripe.com",)


def weakness(name: str, value: str) -> str | None:
    """Why `value` is too weak a secret for production, or None."""
    lowered = value.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return f"{name} looks like a placeholder; set a real secret"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} must be at least {MIN_SECRET_LENGTH} characters in production"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"{name} is too repetitive to be a secret; generate a random one"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stripe_base_refusal(settings: Settings) -> str | None:
    if settings.stripe_api_base_allow_custom:
        return None
    parts = urlsplit(settings.stripe_api_base)
    if parts.scheme == "https" and parts.hostname in STRIPE_HOSTS:
        return None
    return (
        f"STRIPE_API_BASE={settings.stripe_api_base} is not Stripe over https; set "
        "STRIPE_API_BASE_ALLOW_CUSTOM=true if a proxy is intended"
    )


def production_refusal(settings: Settings) -> str | None:
    """The first reason production mode refuses these settings, or None."""
    # Only the Stripe key and webhook secret have fixed prefixes: placeholders, not length.
    for name, value in (
        ("STRIPE_SECRET_KEY", settings.stripe_secret_key),
        ("STRIPE_WEBHOOK_SIGNING_SECRET", settings.stripe_webhook_signing_secret),
    ):
        if any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
            return f"{name} looks like a placeholder; set a real secret"
    tokens = {
        "AUTH_JWT_SECRET": settings.auth_jwt_secret,
        "STRIPE_INTERNAL_ADMIN_TOKEN": settings.stripe_internal_admin_token,
        "METRICS_TOKEN": settings.metrics_token,
        "BILLING_SERVICE_TOKEN": settings.billing_service_token,
        "APP_WEBHOOK_SECRET": settings.app_webhook_secret,
    }
    for name, token in tokens.items():
        if token is not None and (reason := weakness(name, token)):
            return reason
    if refusal := _stripe_base_refusal(settings):
        return refusal
    if not settings.temporal_payload_keys and not settings.temporal_allow_plaintext_payloads:
        return (
            "TEMPORAL_PAYLOAD_KEYS is required in production (histories would hold customer "
            "data in clear); set TEMPORAL_ALLOW_PLAINTEXT_PAYLOADS=true to run without"
        )
    if settings.codec_server_auth == "none":
        return "CODEC_SERVER_AUTH=none is for the local stack only"
    if settings.auth_jwks_url and urlsplit(settings.auth_jwks_url).scheme != "https":
        return "AUTH_JWKS_URL must be an https URL in production"
    return None


def codec_bind_refusal(settings: Settings, host: str) -> str | None:
    """An unauthenticated codec decrypts for anyone who reaches it: loopback only."""
    if settings.codec_server_auth == "none" and not is_loopback(host):
        return f"CODEC_SERVER_AUTH=none may only bind a loopback address, not {host}"
    return None
