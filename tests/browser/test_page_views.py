"""The demo page's other views in headless Chromium: the seeded states, every error answer as
a sentence, another user's token, an abandoned, an expired and a failed checkout, and /docs
with no network beyond 127.0.0.1."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.async_api import Page, Route, expect

from core.tokens import mint_token
from tests.browser.helpers import buy, checkout_row, open_signed_in, shot
from tests.browser.stack import DevStack

pytestmark = pytest.mark.slow


def demo(stack: DevStack, state: str) -> str:
    return next(w["id"] for w in stack.stack["demo_workspaces"] if w["state"] == state)


async def test_seeded_workspaces_show_their_state_and_errors_read_as_sentences(
    page: Page, dev_stack: DevStack, artifacts: Path
) -> None:
    await open_signed_in(page, dev_stack, demo(dev_stack, "active"))
    await expect(page.locator("#plan")).to_have_text("Pro")
    await expect(page.locator("#status")).to_have_text("active")
    await page.click("#buy-business-monthly")
    message = page.locator("#message")
    await expect(message).to_have_attribute("data-code", "SUBSCRIPTION_ALREADY_ACTIVE")
    await expect(message).to_contain_text("Use “Manage billing” to switch or cancel it.")

    await page.select_option("#workspace-select", demo(dev_stack, "past_due"))
    await expect(page.locator("#status")).to_have_text("past_due")
    await expect(page.locator("#grace")).to_contain_text("the last payment failed")
    await expect(message).to_be_hidden()
    await shot(page, artifacts, "10-past-due")

    await page.select_option("#workspace-select", demo(dev_stack, "member"))
    await expect(page.locator("#plan")).to_have_text("Free")
    await page.click("#buy-pro-monthly")
    await expect(message).to_have_attribute("data-code", "FORBIDDEN")
    await expect(message).to_contain_text("Only the workspace's owners and admins")

    # The answers no seeded workspace provokes, through the page's own wording.
    for code, status, retry, expected in [
        ("PLAN_NOT_AVAILABLE", 422, None, "That plan is not for sale right now"),
        ("BILLING_UNAVAILABLE", 503, None, "Nothing was charged — try again shortly."),
        ("RATE_LIMITED", 429, "7", "Too many requests at once. Try again in 7 seconds."),
    ]:
        text = await page.evaluate(
            "([code, status, retry]) => window.billingPage.describe("
            "new window.billingPage.ApiFailure(status, code, 'raw message', retry))",
            [code, status, retry],
        )
        assert expected in text, (code, text)


async def test_another_users_token_sees_only_its_workspaces(
    page: Page, dev_stack: DevStack
) -> None:
    user = uuid.uuid4()
    workspace = dev_stack.new_workspace("Someone else's")
    dev_stack.execute(
        "UPDATE workspace_members SET user_id = %(u)s WHERE workspace_id = %(w)s",
        u=str(user),
        w=workspace,
    )
    await page.goto(dev_stack.stack["page_url"])
    await page.click("#signin summary")
    await page.fill("#token-input", mint_token(dev_stack.stack["jwt_secret"], user))
    await page.click("#token-use")
    await expect(page.locator("#signed-in")).to_contain_text(f"user {user} · 1 workspace(s)")
    options = await page.locator("#workspace-select option").all_inner_texts()
    assert options == ["Someone else's — Free · owner"]

    await page.fill("#token-input", "not-a-token")
    await page.click("#token-use")
    await expect(page.locator("#message")).to_have_attribute("data-code", "UNAUTHENTICATED")
    await expect(page.locator("#workspace")).to_be_hidden()


async def test_abandoned_then_expired_checkout_offers_a_way_back(
    page: Page, dev_stack: DevStack, artifacts: Path
) -> None:
    stack = dev_stack
    workspace = stack.new_workspace("Changes its mind")
    await open_signed_in(page, stack, workspace)
    first = await buy(page, stack, "pro", "monthly")
    await page.get_by_role("link", name="Cancel").click()
    await page.wait_for_url(re.compile(r"\?checkout=canceled"))
    status = page.locator("#return-status")
    await expect(status).to_have_attribute("data-status", "abandoned")
    await expect(status).to_have_text("Checkout abandoned — nothing was charged.")
    await shot(page, artifacts, "11-abandoned")
    assert checkout_row(stack, first)["status"] == "pending"  # still open in Stripe

    # Another plan replaces the open session: the first one is expired in Stripe.
    await page.click("#return-back")
    await expect(page.locator("#return")).to_be_hidden()
    await buy(page, stack, "business", "yearly")
    await page.goto(f"{stack.stack['page_url']}?checkout=success&session_id={first}")
    await expect(status).to_have_attribute("data-status", "expired")
    assert checkout_row(stack, first)["status"] == "expired"
    await expect(page.locator("#return-back")).to_be_visible()
    await page.click("#return-back")
    assert urlparse(page.url).query == ""
    await expect(page.locator("#plan")).to_have_text("Free")


async def test_a_failed_bank_debit_is_shown_as_failed(page: Page, dev_stack: DevStack) -> None:
    stack = dev_stack
    workspace = stack.new_workspace("Debit bounces")
    await open_signed_in(page, stack, workspace)
    session_id = await buy(page, stack, "pro", "monthly")
    await page.get_by_role("button", name="Pay by bank debit").click()
    status = page.locator("#return-status")
    await expect(status).to_have_attribute("data-status", "processing")
    # A person settles it from the developer panel this time.
    await page.click("#dev-panel summary")
    await page.click("#settle-fail")
    await expect(status).to_have_attribute("data-status", "failed")
    await expect(page.locator("#return-detail")).to_contain_text("Reason: payment_failed.")
    await expect(page.locator("#return-back")).to_be_visible()
    assert checkout_row(stack, session_id)["status"] == "failed"
    await expect(page.locator("#plan")).to_have_text("Free")


async def test_docs_load_with_no_network_beyond_the_machine(
    browser: Any, dev_stack: DevStack, artifacts: Path
) -> None:
    context = await browser.new_context()
    refused: list[str] = []

    async def local_only(route: Route) -> None:
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1" or url.startswith("data:"):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await context.route("**/*", local_only)
    page = await context.new_page()
    try:
        await page.goto(f"{dev_stack.stack['api_url']}/docs")
        await expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        operations = {p.replace("\u200b", "") for p in paths}
        assert {
            "/api/v1/stripe/plans",
            "/api/v1/stripe/workspaces/{workspace_id}/checkout-session",
            "/api/v1/stripe/workspaces/{workspace_id}/checkout-session/{session_id}",
            "/api/v1/stripe/webhook",
        } <= operations
        await shot(page, artifacts, "12-docs-offline")
        await page.goto(f"{dev_stack.stack['api_url']}/redoc")
        # ReDoc renders every operation, the menu entry of this one possibly folded away.
        await page.wait_for_selector("text=The sellable plan variants", state="attached")
    finally:
        await context.close()
    assert refused == []
