"""Where and how to reach Temporal: temporalio.envconfig over the settings, one clear error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from core.config import Settings, StartupError

DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
# Settings fields that are envconfig's own variables (the field name, upper-cased).
ENVCONFIG_FIELDS = (
    "temporal_address",
    "temporal_namespace",
    "temporal_api_key",
    "temporal_tls",
    "temporal_tls_server_ca_cert_path",
    "temporal_tls_client_cert_path",
    "temporal_tls_client_key_path",
    "temporal_tls_server_name",
)


class TemporalConfigError(StartupError):
    """The Temporal connection settings cannot be loaded; the message says which and why."""


@dataclass(frozen=True)
class TemporalConnection:
    """Arguments of `Client.connect`, resolved from the profile and the environment."""

    target_host: str
    namespace: str
    api_key: str | None = None
    tls: bool | TLSConfig = False
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """Where and how, never a secret: `host:port (namespace ns, mTLS, API key)`."""
        if self.tls is False:
            mode = "plain TCP"
        elif isinstance(self.tls, TLSConfig) and self.tls.client_cert:
            mode = "mTLS"
        else:
            mode = "TLS"
        extra = ", API key" if self.api_key else ""
        return f"{self.target_host} (namespace {self.namespace}, {mode}{extra})"


def envconfig_environment(settings: Settings) -> dict[str, str]:
    """The settings that are set, under envconfig's variable names."""
    env: dict[str, str] = {}
    for name in ENVCONFIG_FIELDS:
        value = getattr(settings, name)
        if isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        elif value is not None:
            env[name.upper()] = str(value)
    return env


def temporal_connection(settings: Settings) -> TemporalConnection:
    """The profile of TEMPORAL_CONFIG_FILE (TEMPORAL_PROFILE, else `default`), each variable
    that is set overriding its value — the precedence of envconfig and the `temporal` CLI."""
    config_file = settings.temporal_config_file
    if config_file and not Path(config_file).is_file():
        # envconfig would quietly read nothing; a typo must not mean "connect to localhost".
        raise TemporalConfigError(f"TEMPORAL_CONFIG_FILE {config_file} is not a readable file")
    if settings.temporal_profile and not config_file:
        raise TemporalConfigError("TEMPORAL_PROFILE is a profile of TEMPORAL_CONFIG_FILE; set it")
    try:
        profile = ClientConfigProfile.load(
            profile=settings.temporal_profile,
            config_source=Path(config_file) if config_file else None,
            # Only the file named in the settings: a service never reads a user's ~/.config.
            disable_file=not config_file,
            override_env_vars=envconfig_environment(settings),
        )
        config = profile.to_client_connect_config()
    except Exception as exc:  # the bridge's ConfigError, a missing certificate, bad TOML
        raise TemporalConfigError(
            f"cannot load the Temporal connection settings: {type(exc).__name__}: {exc}"
        ) from None
    return TemporalConnection(
        target_host=config.get("target_host") or DEFAULT_ADDRESS,
        namespace=config.get("namespace") or DEFAULT_NAMESPACE,
        api_key=config.get("api_key"),
        tls=config.get("tls", False),
        rpc_metadata=dict(config.get("rpc_metadata") or {}),
    )


def namespace_of(settings: Settings) -> str:
    """The namespace the processes use (for UI links); the default when unresolvable."""
    try:
        return temporal_connection(settings).namespace
    except TemporalConfigError:
        return DEFAULT_NAMESPACE
