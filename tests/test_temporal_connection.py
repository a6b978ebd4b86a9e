"""Temporal connection settings through temporalio.envconfig: a TOML profile, the variables
overriding it, TLS and API keys resolved to `Client.connect` arguments, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from core.config import Settings
from core.temporal_connection import TemporalConfigError, temporal_connection
from tests.conftest import make_settings

PROFILES = """
[profile.default]
address = "temporal.internal:7233"
namespace = "billing"

[profile.cloud]
address = "billing.a1b2c.tmprl.cloud:7233"
namespace = "billing.a1b2c"
api_key = "from-the-file"
"""


def _settings(**values: object) -> Settings:
    address = values.pop("temporal_address", None)
    return make_settings("postgresql://x@127.0.0.1/x", address, "q", **values)  # type: ignore[arg-type]


def test_defaults_are_the_local_dev_server() -> None:
    connection = temporal_connection(_settings())
    assert (connection.target_host, connection.namespace, connection.tls) == (
        "127.0.0.1:7233",
        "default",
        False,
    )


def test_the_profile_file_is_read_and_variables_win(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    from_file = temporal_connection(_settings(temporal_config_file=str(config)))
    assert (from_file.target_host, from_file.namespace) == ("temporal.internal:7233", "billing")
    overridden = temporal_connection(
        _settings(temporal_config_file=str(config), temporal_namespace="billing-blue")
    )
    assert (overridden.target_host, overridden.namespace) == (
        "temporal.internal:7233",
        "billing-blue",
    )
    cloud = temporal_connection(
        _settings(temporal_config_file=str(config), temporal_profile="cloud",
                  temporal_api_key="from-the-environment")
    )
    # An API key turns TLS on (Temporal Cloud); the variable beats the file's key.
    assert cloud.api_key == "from-the-environment" and cloud.tls is not False
    assert "from-the-environment" not in cloud.describe()
    assert cloud.describe() == (
        "billing.a1b2c.tmprl.cloud:7233 (namespace billing.a1b2c, TLS, API key)"
    )


def test_tls_files_become_the_tls_config(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text(f"-----{name}-----")
    connection = temporal_connection(
        _settings(
            temporal_address="temporal.internal:7233",
            temporal_tls=True,
            temporal_tls_server_ca_cert_path=str(tmp_path / "ca.pem"),
            temporal_tls_client_cert_path=str(tmp_path / "client.pem"),
            temporal_tls_client_key_path=str(tmp_path / "client.key"),
            temporal_tls_server_name="temporal.billing.internal",
        )
    )
    assert isinstance(connection.tls, TLSConfig)
    assert connection.tls.client_cert == b"-----client.pem-----"
    assert connection.tls.server_root_ca_cert == b"-----ca.pem-----"
    assert connection.tls.domain == "temporal.billing.internal"
    assert "mTLS" in connection.describe()


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"temporal_config_file": "/no/such/temporal.toml"}, "is not a readable file"),
        ({"temporal_profile": "cloud"}, "TEMPORAL_PROFILE is a profile of TEMPORAL_CONFIG_FILE"),
        ({"temporal_tls_client_cert_path": "/no/such/client.pem"}, "No such file"),
    ],
)
def test_unusable_settings_say_why(values: dict[str, object], reason: str) -> None:
    with pytest.raises(TemporalConfigError, match=reason):
        temporal_connection(_settings(**values))


def test_an_unknown_profile_is_named(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    with pytest.raises(TemporalConfigError, match="staging"):
        temporal_connection(_settings(temporal_config_file=str(config), temporal_profile="staging"))
