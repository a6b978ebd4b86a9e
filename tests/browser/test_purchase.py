"""A person at the demo page, in headless Chromium, against `billing dev`: buy, pay on the
emulator's hosted page, watch pending turn confirmed, switch and cancel in the portal — with
the page and the database checked after each step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import RECONCILE_SECONDS
from tests.browser.helpers import (
    back_from_portal,
    buy,
    checkout_row,
    entitled,
    open_signed_in,
    portal,
    shot,
    statuses,
    workspace_row,
)
from tests.browser.stack import DevStack

pytestmark = pytest.mark.slow


async def test_buy_pro_then_switch_to_business_then_cancel(
    page: Page, dev_stack: DevStack, artifacts: Path
) -> None:
    stack = dev_stack
    workspace = stack.stack["demo_workspace_id"]
    await open_signed_in(page, stack, workspace)
    await expect(page.locator("#plan")).to_have_text("Free")
    await expect(page.locator("#pricing-table")).to_contain_text("$20.00 / month")
    await expect(page.locator("#pricing-table")).to_contain_text("forms: 50, seats: 5")
    await shot(page, artifacts, "01-page-free")
    assert workspace_row(stack, workspace)["plan"] == "free"

    # Webhooks go out 2 s late, so the return page has a pending moment to show.
    stack.emulator("POST", "/_emulator/config", {"delivery_faults": {"delay": 1.0,
                                                                     "delay_seconds": 2.0}})
    try:
        session_id = await buy(page, stack, "pro", "monthly")
        await expect(page.locator("body")).to_contain_text("Total due today: 20.00 USD")
        await shot(page, artifacts, "02-hosted-checkout")
        assert checkout_row(stack, session_id)["status"] == "pending"
        await page.get_by_role("button", name="Pay", exact=True).click()
        await page.wait_for_url(re.compile(r"\?checkout=success&session_id=" + session_id))
        status = page.locator("#return-status")
        await expect(status).to_have_attribute("data-status", "pending")
        await expect(status).to_have_text("Pending — waiting for Stripe to confirm your payment.")
        await expect(page.locator("#plan")).to_have_text("Free")  # the redirect grants nothing
        await expect(status).to_have_attribute("data-status", "confirmed")
    finally:
        stack.emulator("POST", "/_emulator/config", {"delivery_faults": {}})
    assert await statuses(page) == ["checking", "pending", "confirmed"]
    await expect(status).to_contain_text("now on Pro (monthly)")
    await expect(page.locator("#plan")).to_have_text("Pro")
    await expect(page.locator("#status")).to_have_text("active")
    await expect(page.locator("#grants")).to_have_text("forms: 50, seats: 5")
    await shot(page, artifacts, "03-confirmed-pro")
    assert workspace_row(stack, workspace)["plan"] == "pro"
    pro = entitled(stack, workspace)
    assert (pro["plan_slug"], pro["interval"], pro["status"]) == ("pro", "monthly", "active")
    assert checkout_row(stack, session_id) == {
        "status": "confirmed",
        "payment_status": None,
        "stripe_subscription_id": pro["stripe_subscription_id"],
    }

    # The portal: switch to business monthly.
    await portal(page, stack)
    await expect(page.locator("body")).to_contain_text("FormSandbox Pro — 20.00 USD / month")
    await shot(page, artifacts, "04-portal")
    await page.get_by_role(
        "button", name="Switch to FormSandbox Business — 50.00 USD / month"
    ).click()
    await expect(page.get_by_role("status")).to_have_text("Your plan was updated.")
    await back_from_portal(page)
    await expect(page.locator("#plan")).to_have_text("Business", timeout=20_000)
    await expect(page.locator("#grants")).to_have_text("forms: 100, seats: 25")
    await shot(page, artifacts, "05-business")
    business = entitled(stack, workspace)
    assert business["plan_slug"] == "business"
    assert business["stripe_subscription_id"] == pro["stripe_subscription_id"]
    assert workspace_row(stack, workspace)["plan"] == "business"

    # Cancel at the end of the period: still business, ending.
    await portal(page, stack)
    await page.get_by_role("button", name="Cancel plan").click()
    await expect(page.get_by_role("status")).to_contain_text("canceled at the end")
    await back_from_portal(page)
    await expect(page.locator("#period-label")).to_have_text("Cancels on", timeout=20_000)
    await expect(page.locator("#plan")).to_have_text("Business")
    assert entitled(stack, workspace)["cancel_at_period_end"] is True

    # Cancel now: back on the free plan.
    await portal(page, stack)
    await page.get_by_role("button", name="Cancel now").click()
    await expect(page.locator("body")).to_contain_text("No active subscriptions.")
    await back_from_portal(page)
    await expect(page.locator("#plan")).to_have_text("Free", timeout=20_000)
    await shot(page, artifacts, "06-canceled")
    assert workspace_row(stack, workspace)["plan"] == "free"
    free = entitled(stack, workspace)
    assert (free["plan_slug"], free["stripe_subscription_id"]) == ("free", None)
    [ended] = stack.rows(
        "SELECT status FROM subscriptions WHERE stripe_subscription_id = %(s)s",
        s=pro["stripe_subscription_id"],
    )
    assert ended["status"] == "canceled"


async def test_a_declined_card_stays_on_the_hosted_page_then_pays(
    page: Page, dev_stack: DevStack, artifacts: Path
) -> None:
    stack = dev_stack
    workspace = stack.new_workspace("Declined card first")
    await open_signed_in(page, stack, workspace)
    session_id = await buy(page, stack, "pro", "yearly")
    await page.get_by_role("button", name="Decline").click()
    await expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    await expect(page.get_by_role("button", name="Pay", exact=True)).to_be_visible()
    assert f"/pay/{session_id}" in page.url
    await shot(page, artifacts, "07-card-declined")
    assert checkout_row(stack, session_id)["status"] == "pending"
    assert stack.rows(
        "SELECT 1 FROM subscriptions WHERE workspace_id = %(w)s AND plan_slug <> 'free'",
        w=workspace,
    ) == []

    await page.get_by_role("button", name="Pay", exact=True).click()
    await page.wait_for_url(re.compile(r"\?checkout=success"))
    await expect(page.locator("#return-status")).to_have_attribute("data-status", "confirmed")
    assert "failed" not in await statuses(page)
    await expect(page.locator("#plan")).to_have_text("Pro")
    await expect(page.locator("#interval")).to_have_text("yearly")
    assert entitled(stack, workspace)["interval"] == "yearly"


async def test_bank_debit_shows_processing_until_the_bank_settles(
    page: Page, dev_stack: DevStack, artifacts: Path
) -> None:
    stack = dev_stack
    workspace = stack.new_workspace("Pays by bank debit")
    await open_signed_in(page, stack, workspace)
    session_id = await buy(page, stack, "business", "monthly")
    await page.get_by_role("button", name="Pay by bank debit").click()
    await page.wait_for_url(re.compile(r"\?checkout=success"))
    status = page.locator("#return-status")
    await expect(status).to_have_attribute("data-status", "processing")
    await expect(status).to_contain_text("Payment processing")
    await shot(page, artifacts, "08-payment-processing")
    await expect(page.locator("#plan")).to_have_text("Free")
    row = checkout_row(stack, session_id)
    assert (row["status"], row["payment_status"]) == ("pending", "processing")
    assert workspace_row(stack, workspace)["plan"] == "free"

    stack.emulator("POST", f"/_emulator/checkout/sessions/{session_id}/settle",
                   {"succeeded": True})
    await expect(status).to_have_attribute("data-status", "confirmed")
    await expect(page.locator("#plan")).to_have_text("Business")
    assert checkout_row(stack, session_id)["status"] == "confirmed"
    assert entitled(stack, workspace)["plan_slug"] == "business"


async def test_paused_webhooks_are_rescued_by_the_reconcile(
    page: Page, dev_stack: DevStack, artifacts: Path
) -> None:
    stack = dev_stack
    workspace = stack.new_workspace("Webhooks paused")
    await open_signed_in(page, stack, workspace)
    await page.click("#dev-panel summary")
    await page.click("#webhooks-pause")
    await expect(page.locator("#webhooks-state")).to_contain_text("paused")
    try:
        session_id = await buy(page, stack, "pro", "monthly")
        await page.get_by_role("button", name="Pay", exact=True).click()
        await page.wait_for_url(re.compile(r"\?checkout=success"))
        status = page.locator("#return-status")
        await expect(status).to_have_attribute("data-status", "pending")
        await expect(page.locator("#return-detail")).to_contain_text(
            "asking Stripe directly (reconcile)", timeout=(RECONCILE_SECONDS + 10) * 1000
        )
        await shot(page, artifacts, "09-reconcile-rescue")
        await expect(status).to_have_attribute("data-status", "confirmed", timeout=30_000)
        await expect(page.locator("#plan")).to_have_text("Pro")
        hooks = stack.emulator("GET", "/_emulator/webhooks")
        assert hooks["paused"] is True and hooks["backlog"] > 0
        # No webhook reached the service: the reconcile applied the purchase.
        assert stack.rows(
            "SELECT id FROM stripe_webhook_events WHERE stripe_object_id = %(s)s", s=session_id
        ) == []
        rescued = entitled(stack, workspace)
        assert rescued["last_stripe_event_id"] == f"checkout-reconcile:{session_id}"
        assert checkout_row(stack, session_id)["status"] == "confirmed"
    finally:
        stack.emulator("POST", "/_emulator/webhooks/resume")
    # The late webhooks change nothing.
    await page.reload()
    await expect(page.locator("#plan")).to_have_text("Pro")
    assert entitled(stack, workspace)["plan_slug"] == "pro"
