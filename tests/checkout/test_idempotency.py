"""The Idempotency-Key contract of seed 002 §3, through HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from models.schedule_payloads import CleanupInput
from tests.checkout.conftest import Billing, assert_error
from tests.conftest import make_settings
from workflows.cleanup import CleanupWorkflow


async def test_same_key_and_payload_replays_the_cached_session(
    billing: Billing, temporal_env: WorkflowEnvironment
) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    first = await billing.checkout(workspace_id, user_id, key)
    assert first.status_code == 200, first.text
    replay = await billing.checkout(workspace_id, user_id, key)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert await billing.created("checkout_sessions") == 1
    # Answered from the row: the one execution of that key is still the only one.
    runs = [
        wf
        async for wf in temporal_env.client.list_workflows(
            f"WorkflowId = 'checkout:{workspace_id}:{key}'"
        )
    ]
    assert len(runs) == 1


async def test_same_key_with_another_payload_is_refused(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    assert (await billing.checkout(workspace_id, user_id, key)).status_code == 200
    other = {"plan_slug": "business", "interval": "monthly"}
    response = await billing.checkout(workspace_id, user_id, key, body=other)
    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD")
    assert await billing.created("checkout_sessions") == 1


async def test_key_bound_to_a_failed_attempt_still_refuses_another_payload(
    billing: Billing,
) -> None:
    workspace_id, user_id = await billing.workspace()
    await billing.execute(
        "INSERT INTO subscriptions (workspace_id, plan_slug, status) VALUES (:w, 'pro', 'active')",
        w=workspace_id,
    )
    key = uuid.uuid4()
    assert_error(
        await billing.checkout(workspace_id, user_id, key), 409, "SUBSCRIPTION_ALREADY_ACTIVE"
    )
    other = {"plan_slug": "business", "interval": "yearly"}
    assert_error(
        await billing.checkout(workspace_id, user_id, key, body=other),
        422,
        "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD",
    )


async def test_expired_key_is_refused(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    assert (await billing.checkout(workspace_id, user_id, key)).status_code == 200
    await billing.execute(
        "UPDATE stripe_checkout_idempotency SET expires_at = now() - interval '1 second' "
        "WHERE idempotency_key = :k",
        k=key,
    )
    assert_error(await billing.checkout(workspace_id, user_id, key), 422, "IDEMPOTENCY_KEY_EXPIRED")
    other = {"plan_slug": "business", "interval": "monthly"}
    assert_error(
        await billing.checkout(workspace_id, user_id, key, body=other),
        422,
        "IDEMPOTENCY_KEY_EXPIRED",
    )
    assert await billing.created("checkout_sessions") == 1


async def test_an_expired_key_stays_refused_after_the_nightly_cleanup(
    billing: Billing, temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    first = await billing.checkout(workspace_id, user_id, key)
    assert first.status_code == 200

    async def expire(days: int) -> None:
        await billing.execute(
            "UPDATE stripe_checkout_idempotency SET expires_at = now() - make_interval(days => :d) "
            "WHERE idempotency_key = :k",
            d=days,
            k=key,
        )

    async def cleanup() -> None:
        await temporal_env.client.execute_workflow(
            CleanupWorkflow.run,
            CleanupInput(),
            id=f"cleanup-keys-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )

    # Expired two days ago: the cleanup keeps the row, so the reuse is still refused (it used to
    # be deleted, and the key then joined its old, closed workflow: 200 with the old session).
    await expire(2)
    await cleanup()
    assert_error(await billing.checkout(workspace_id, user_id, key), 422, "IDEMPOTENCY_KEY_EXPIRED")
    # Past STRIPE_IDEMPOTENCY_RETENTION_DAYS after expiry the row goes.
    await expire(settings.stripe_idempotency_retention_days + 1)
    await cleanup()
    left = await billing.rows(
        "SELECT 1 FROM stripe_checkout_idempotency WHERE idempotency_key = :k", k=key
    )
    assert left == []


async def test_twenty_concurrent_duplicates_share_one_stripe_session(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    responses = await asyncio.gather(
        *(billing.checkout(workspace_id, user_id, key) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert await billing.created("checkout_sessions") == 1
    assert await billing.created("customers") == 1
    rows = await billing.rows(
        "SELECT id FROM checkout_sessions WHERE workspace_id = :w", w=workspace_id
    )
    assert [r["id"] for r in rows] == [responses[0].json()["id"]]


async def test_stripe_outage_is_502_and_the_same_key_can_retry(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    await billing.control(
        "config",
        {
            "api_faults": [
                {"path": "/v1/checkout/sessions", "method": "POST", "mode": "500", "count": 100}
            ]
        },
    )
    response = await billing.checkout(workspace_id, user_id, key)
    assert_error(response, 502, "STRIPE_CHECKOUT_SESSION_FAILED")
    assert await billing.faults_fired() == 4  # one call and three bounded retries
    await billing.control("config", {"api_faults": []})
    retry = await billing.checkout(workspace_id, user_id, key)
    assert retry.status_code == 200, retry.text
    assert await billing.created("checkout_sessions") == 1
    assert (await billing.checkout(workspace_id, user_id, key)).json() == retry.json()


async def test_rate_limited_stripe_is_retried_transparently(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    await billing.control(
        "config",
        {
            "api_faults": [
                {"path": "/v1/checkout/sessions", "method": "POST", "mode": "429", "count": 2}
            ]
        },
    )
    response = await billing.checkout(workspace_id, user_id, uuid.uuid4())
    assert response.status_code == 200, response.text
    assert await billing.faults_fired() == 2
    assert await billing.created("checkout_sessions") == 1


async def test_unreachable_temporal_is_503_and_the_key_stays_usable(
    billing: Billing, settings: Settings
) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    down = make_settings(
        settings.database_url,
        "127.0.0.1:1",
        settings.temporal_task_queue,
        stripe_api_base=settings.stripe_api_base,
    )
    app = create_app(down)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            unavailable = Billing(http, billing.sessions, billing.stripe, billing.emulator_url)
            response = await unavailable.checkout(workspace_id, user_id, key)
            assert_error(response, 503, "BILLING_UNAVAILABLE")
            portal = await unavailable.portal(workspace_id, user_id)
            assert_error(portal, 503, "BILLING_UNAVAILABLE")
    assert await billing.created("checkout_sessions") == 0
    retry = await billing.checkout(workspace_id, user_id, key)
    assert retry.status_code == 200, retry.text
