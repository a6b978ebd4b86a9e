"""Temporal client construction shared by the API, the worker and the CLI."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RetryConfig

from core.config import Settings

# Every client and worker shares this converter, so payloads may be pydantic models.
DATA_CONVERTER = pydantic_data_converter

# The API answers 503 quickly rather than holding a request while Temporal is down.
API_RETRY = RetryConfig(initial_interval_millis=50, max_interval_millis=500, max_retries=2)


async def connect_temporal(
    settings: Settings,
    *,
    lazy: bool = False,
    retry: RetryConfig | None = None,
    runtime: Runtime | None = None,
) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        lazy=lazy,
        retry_config=retry,
        connect_timeout=timedelta(seconds=5),
        runtime=runtime,
    )


def runtime_with_prometheus(bind_address: str) -> Runtime:
    """A runtime exporting the SDK's own worker metrics on `bind_address` (host:port)."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))
