"""`billing setup-temporal` registers our search attributes on any namespace, idempotently."""

from __future__ import annotations

import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.constants import SEARCH_ATTRIBUTES
from core.search_attributes import ensure_search_attributes


async def test_registers_missing_attributes_once(temporal_env: WorkflowEnvironment) -> None:
    namespace = f"billing-{uuid.uuid4().hex[:8]}"
    await temporal_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host, namespace=namespace
    )
    names = [key.name for key in SEARCH_ATTRIBUTES]
    assert sorted(await ensure_search_attributes(client, namespace)) == sorted(names)
    assert await ensure_search_attributes(client, namespace) == []
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert set(names) <= set(listed.custom_attributes)


async def test_dev_server_already_has_them(temporal_env: WorkflowEnvironment) -> None:
    assert await ensure_search_attributes(temporal_env.client, "default") == []
