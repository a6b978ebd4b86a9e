"""Temporal client construction shared by the API, the worker and every `billing` command."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RetryConfig

from core.config import Settings, StartupError
from core.payload_codec import codec_for
from core.payload_keys import PayloadKeys
from core.temporal_connection import TemporalConfigError, temporal_connection

# The API answers 503 quickly rather than holding a request while Temporal is down.
API_RETRY = RetryConfig(initial_interval_millis=50, max_interval_millis=500, max_retries=2)


class TemporalConnectError(StartupError):
    """Temporal could not be reached as configured; the message says where and how."""


def data_converter(keys: PayloadKeys | None) -> DataConverter:
    """Pydantic payloads, encrypted with `keys` (plaintext passes through decoding, so
    histories recorded before encryption still replay); failure messages and stack traces
    travel as encoded attributes, so an error quoting a customer is encrypted too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec_for(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# Without keys: writes plaintext, reads plaintext, and names the problem on an encrypted
# payload. Processes use `data_converter(settings.payload_keys)`; this one is for tools
# that only ever meet histories recorded without encryption.
DATA_CONVERTER = data_converter(None)


async def connect_temporal(
    settings: Settings,
    *,
    lazy: bool = False,
    retry: RetryConfig | None = None,
    runtime: Runtime | None = None,
) -> Client:
    """A client for the configured cluster, encrypting payloads with the configured keys."""
    connection = temporal_connection(settings)
    try:
        return await Client.connect(
            connection.target_host,
            namespace=connection.namespace,
            api_key=connection.api_key,
            tls=connection.tls,
            rpc_metadata=connection.rpc_metadata,
            data_converter=data_converter(settings.payload_keys),
            lazy=lazy,
            retry_config=retry,
            connect_timeout=timedelta(seconds=5),
            runtime=runtime,
        )
    except RuntimeError as exc:  # the SDK's "Failed client connect: …" (TLS, DNS, refused)
        raise TemporalConnectError(
            f"cannot connect to Temporal at {connection.describe()}: {exc}"
        ) from None


def runtime_with_prometheus(bind_address: str) -> Runtime:
    """A runtime exporting the SDK's own worker metrics on `bind_address` (host:port)."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


__all__ = [
    "API_RETRY",
    "DATA_CONVERTER",
    "TemporalConfigError",
    "TemporalConnectError",
    "connect_temporal",
    "data_converter",
    "runtime_with_prometheus",
]
