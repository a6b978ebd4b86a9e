"""What the browser tests do at the demo page and the hosted pages, and what they read back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.stack import DevStack


async def shot(page: Page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


async def open_signed_in(page: Page, stack: DevStack, workspace_id: str) -> None:
    await page.goto(stack.stack["page_url"])
    await page.click("#demo-signin")
    await expect(page.locator("#signed-in")).to_contain_text("the demo owner")
    await page.select_option("#workspace-select", workspace_id)
    await expect(page.locator("#buy-pro-monthly")).to_be_enabled()


async def buy(page: Page, stack: DevStack, plan: str, interval: str) -> str:
    """Click a plan; return the checkout session id once the hosted page shows it."""
    await page.click(f"#buy-{plan}-{interval}")
    await page.wait_for_url(f"{stack.stack['emulator_url']}/pay/*")
    return page.url.rsplit("/", 1)[1]


async def statuses(page: Page) -> list[str]:
    seen: list[str] = await page.evaluate("window.__statuses")
    return seen


def workspace_row(stack: DevStack, workspace_id: str) -> dict[str, Any]:
    [row] = stack.rows("SELECT plan FROM workspaces WHERE id = %(w)s", w=workspace_id)
    return row


def entitled(stack: DevStack, workspace_id: str) -> dict[str, Any]:
    [row] = stack.rows(
        "SELECT plan_slug, interval, status, stripe_subscription_id, stripe_price_id, "
        "cancel_at_period_end, last_stripe_event_id FROM subscriptions "
        "WHERE workspace_id = %(w)s AND status IN ('active', 'trialing', 'past_due')",
        w=workspace_id,
    )
    return row


def checkout_row(stack: DevStack, session_id: str) -> dict[str, Any]:
    [row] = stack.rows(
        "SELECT status, payment_status, stripe_subscription_id FROM checkout_sessions "
        "WHERE id = %(s)s",
        s=session_id,
    )
    return row


async def portal(page: Page, stack: DevStack) -> None:
    await page.click("#manage")
    await page.wait_for_url(f"{stack.stack['emulator_url']}/portal/*")


async def back_from_portal(page: Page) -> None:
    await page.get_by_role("link", name="← Return to the shop").click()
    await page.wait_for_url(re.compile(r"\?portal=returned"))
