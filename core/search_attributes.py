"""Registers the custom search attributes of DESIGN.md on a Temporal namespace (idempotent)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from core.constants import SEARCH_ATTRIBUTES


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add whichever of our Keyword attributes the namespace lacks; return the names added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = [key.name for key in SEARCH_ATTRIBUTES if key.name not in known]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes=dict.fromkeys(
                    missing, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                ),
            )
        )
    return missing
