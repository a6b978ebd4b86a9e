"""Histories hold no portal or checkout URL and no portal customer in clear; rotating the
payload keys keeps recorded histories readable, and a process without the key says so."""

from __future__ import annotations

import uuid

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.codec_app import create_codec_app
from core.config import Settings
from core.constants import checkout_workflow_id, portal_workflow_id
from core.payload_keys import PayloadKeys
from core.temporal_client import DATA_CONVERTER, data_converter
from tests.checkout.conftest import Billing
from tests.conftest import ADMIN_TOKEN, TEST_PAYLOAD_KEYS
from worker import workflow_runner
from workflows.portal import PortalWorkflow


def _raw(history: WorkflowHistory) -> bytes:
    """Every byte Temporal stores for the execution, as an operator with DB access sees it."""
    return b"".join(event.SerializeToString() for event in history.events)


def _payload_encodings(history: WorkflowHistory) -> set[bytes]:
    found: set[bytes] = set()
    for event in history.events:
        completed = event.workflow_execution_completed_event_attributes
        for payload in completed.result.payloads:
            found.add(payload.metadata["encoding"])
        started = event.workflow_execution_started_event_attributes
        for payload in started.input.payloads:
            found.add(payload.metadata["encoding"])
    return found


async def _portal_history(
    billing: Billing, temporal_env: WorkflowEnvironment
) -> tuple[WorkflowHistory, str, str]:
    workspace_id, user_id = await billing.workspace()
    request_id = str(uuid.uuid4())
    response = await billing.portal(workspace_id, user_id, {"X-Request-Id": request_id})
    assert response.status_code == 200, response.text
    customer = await billing.mapped_customer(workspace_id)
    assert customer is not None
    handle = temporal_env.client.get_workflow_handle(
        portal_workflow_id(str(workspace_id), request_id)
    )
    return await handle.fetch_history(), response.json()["url"], customer


async def test_portal_history_holds_no_url_or_customer_in_clear(
    billing: Billing, temporal_env: WorkflowEnvironment
) -> None:
    history, url, customer = await _portal_history(billing, temporal_env)
    raw = _raw(history)
    session_id = url.rstrip("/").rsplit("/", 1)[-1]
    for secret in (url, session_id, customer):
        assert secret.encode() not in raw, f"{secret} is in the history in clear"
    assert _payload_encodings(history) == {b"binary/encrypted"}
    # The keys read it back: the same history, decoded, is the portal answer.
    handle = temporal_env.client.get_workflow_handle(history.workflow_id)
    assert (await handle.result())["url"] == url


async def test_the_codec_endpoint_shows_an_operator_the_portal_answer(
    billing: Billing, temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    history, url, customer = await _portal_history(billing, temporal_env)
    completed = next(
        e.workflow_execution_completed_event_attributes
        for e in history.events
        if e.HasField("workflow_execution_completed_event_attributes")
    )
    body = json_format.MessageToDict(completed.result)  # what the UI posts to /decode
    transport = httpx.ASGITransport(app=create_codec_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec.test") as http:
        refused = await http.post("/decode", json=body)
        shown = await http.post(
            "/decode", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert refused.status_code == 401
    assert shown.status_code == 200
    [decoded] = json_format.ParseDict(shown.json(), Payloads()).payloads
    assert decoded.metadata["encoding"] == b"json/plain"
    assert url.encode() in decoded.data and customer.encode() in decoded.data


async def test_checkout_history_holds_no_checkout_url_in_clear(
    billing: Billing, temporal_env: WorkflowEnvironment
) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    response = await billing.checkout(workspace_id, user_id, key)
    assert response.status_code == 200, response.text
    history = await temporal_env.client.get_workflow_handle(
        checkout_workflow_id(str(workspace_id), str(key))
    ).fetch_history()
    assert response.json()["url"].encode() not in _raw(history)
    assert _payload_encodings(history) == {b"binary/encrypted"}


async def test_rotated_keys_still_replay_histories_of_the_old_key(
    billing: Billing, temporal_env: WorkflowEnvironment
) -> None:
    history, _, _ = await _portal_history(billing, temporal_env)
    newer = PayloadKeys.generate_entry("tests-2")
    rotated = data_converter(PayloadKeys.parse(f"{newer},{TEST_PAYLOAD_KEYS}"))
    replayer = Replayer(
        workflows=[PortalWorkflow], data_converter=rotated, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
    # Dropping the old key too early fails the replay on the key error (its message, which
    # names the key, travels encrypted like every failure message).
    for converter in (data_converter(PayloadKeys.parse(newer)), DATA_CONVERTER):
        stranger = Replayer(
            workflows=[PortalWorkflow], data_converter=converter, workflow_runner=workflow_runner()
        )
        with pytest.raises(Exception, match="PayloadKeyError"):
            await stranger.replay_workflow(history, raise_on_replay_failure=True)
