"""Demo workspaces for `billing dev`, one per billing state, made true in Stripe — not in SQL.

The demo owner belongs to each. The free one is where a person buys; the paid ones get a
real subscription in the (emulated) Stripe account on a customer mapped to the workspace,
and the service learns of it through its webhooks like of any purchase. So the object
reconcile finds nothing to correct, and a portal opened on them shows the real thing.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import stripe

from models.vocabulary import ENTITLED_STATUSES
from ops.postgres import libpq_url

logger = logging.getLogger("billing.dev")

APPLY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class DemoWorkspace:
    key: str  # the name of its id in `.data/dev-secrets.json` and of its state
    name: str
    role: str  # the demo owner's role in it
    subscription: str | None  # the Stripe status it is seeded in; None = free


DEMOS: tuple[DemoWorkspace, ...] = (
    DemoWorkspace("demo_workspace_id", "Demo workspace", "owner", None),
    DemoWorkspace("demo_pro_workspace_id", "Demo · Pro (active)", "owner", "active"),
    DemoWorkspace(
        "demo_past_due_workspace_id", "Demo · Pro, renewal failed (past due)", "owner", "past_due"
    ),
    DemoWorkspace("demo_member_workspace_id", "Demo · you are only a member", "member", None),
)


def _insert_workspace(connection: psycopg.Connection[Any], demo: DemoWorkspace, ids: dict[str, str],
                      owner_id: str) -> None:
    connection.execute(
        "INSERT INTO workspaces (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
        (ids[demo.key], demo.name),
    )
    connection.execute(
        "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (ids[demo.key], owner_id, demo.role),
    )


def _customer(
    connection: psycopg.Connection[Any], client: stripe.StripeClient, workspace_id: str
) -> str:
    """The workspace's mapped Stripe customer; created and mapped when missing or deleted."""
    row = connection.execute(
        "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = %s",
        (workspace_id,),
    ).fetchone()
    if row is not None:
        try:
            found = client.v1.customers.retrieve(row[0])
            if not getattr(found, "deleted", False):
                return str(row[0])
        except stripe.InvalidRequestError:
            pass
    customer = client.v1.customers.create(
        params={"email": f"demo+{workspace_id[:8]}@example.com",
                "metadata": {"workspace_id": workspace_id}}
    )
    connection.execute(
        "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
        "VALUES (%s, %s) ON CONFLICT (workspace_id) DO UPDATE "
        "SET stripe_customer_id = EXCLUDED.stripe_customer_id, updated_at = now()",
        (workspace_id, customer.id),
    )
    return customer.id


def _subscribe(
    client: stripe.StripeClient,
    emulator_url: str,
    secret_key: str,
    customer_id: str,
    price_id: str,
    status: str,
    workspace_id: str,
) -> None:
    """A live pro subscription in `status`, unless the customer already has one."""
    live = [
        s
        for s in client.v1.subscriptions.list(params={"customer": customer_id, "status": "all"})
        if s.status in ("active", "trialing", "past_due")
    ]
    if live:
        return
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer_id,
            "items": [{"price": price_id}],
            "metadata": {"workspace_id": workspace_id},
        }
    )
    if status == "past_due":
        # The emulator renews the subscription with a declined card: past_due, as Stripe.
        httpx.post(
            f"{emulator_url}/_emulator/subscriptions/{subscription.id}/invoice",
            json={"paid": False},
            headers={"Authorization": f"Bearer {secret_key}"},
            timeout=10,
        ).raise_for_status()


def _applied(connection: psycopg.Connection[Any], workspace_id: str, status: str) -> bool:
    row = connection.execute(
        "SELECT status FROM subscriptions WHERE workspace_id = %s AND status = ANY(%s) "
        "AND stripe_subscription_id IS NOT NULL",
        (workspace_id, [str(s) for s in ENTITLED_STATUSES]),
    ).fetchone()
    return row is not None and row[0] == status


def seed_demo_workspaces(
    database_url: str,
    ids: dict[str, str],
    owner_id: str,
    *,
    stripe_client: stripe.StripeClient,
    emulator_url: str | None,
    secret_key: str,
    pro_price_id: str | None,
) -> list[dict[str, str]]:
    """Create what is missing of the demo workspaces; wait until the service shows each
    paid one in its seeded state. Returns `{id, name, state}` per workspace."""
    seeded: list[dict[str, str]] = []
    waiting: list[tuple[str, str]] = []
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        for demo in DEMOS:
            workspace_id = ids[demo.key]
            _insert_workspace(connection, demo, ids, owner_id)
            state = demo.subscription or ("member" if demo.role == "member" else "free")
            seeded.append({"id": workspace_id, "name": demo.name, "state": state})
            if demo.subscription is None:
                continue
            if emulator_url is None or pro_price_id is None:
                # Real Stripe needs a real card for a paid subscription: left free.
                logger.info("%s is left free: paid demos need the emulator", demo.name)
                continue
            customer = _customer(connection, stripe_client, workspace_id)
            _subscribe(
                stripe_client, emulator_url, secret_key, customer, pro_price_id,
                demo.subscription, workspace_id,
            )
            waiting.append((workspace_id, demo.subscription))
        deadline = time.monotonic() + APPLY_TIMEOUT_SECONDS
        while waiting and time.monotonic() < deadline:
            waiting = [(w, s) for w, s in waiting if not _applied(connection, w, s)]
            time.sleep(0.2)
    for workspace_id, status in waiting:
        logger.warning("demo workspace %s is not %s yet (see the worker log)", workspace_id, status)
    return seeded


def new_demo_ids(values: dict[str, str]) -> bool:
    """Add an id for every demo workspace a kept secrets file lacks; True if any was added."""
    added = False
    for demo in DEMOS:
        if demo.key not in values:
            values[demo.key] = str(uuid.uuid4())
            added = True
    return added
