"""Fixtures of the slow suite: one `billing dev` stack for the module, and headless Debian
Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ops.postgres import fresh_database
from tests.browser.stack import ROOT, DevStack

CHROMIUM = Path("/usr/bin/chromium")
# The flags that work on this machine kind; Playwright adds a fresh --user-data-dir itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# Short, so the reconcile rescue shows within a test; webhooks still win when they arrive.
RECONCILE_SECONDS = 6

# Records every status the return page shows, so a test can prove what was never shown.
RECORD_STATUSES = """
window.__statuses = [];
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("return-status");
  if (!el) return;
  new MutationObserver(() => {
    const s = el.dataset.status;
    if (s && window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
  }).observe(el, { attributes: true, attributeFilter: ["data-status"] });
});
"""


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def dev_stack(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevStack]:
    with fresh_database(admin_database_url, "billing_dev") as database_url:
        stack = DevStack(
            tmp_path_factory.mktemp("dev-data"),
            database_url,
            CHECKOUT_PENDING_RECONCILE_SECONDS=str(RECONCILE_SECONDS),
            # No Events API replay mid-test: only the checkout reconcile may rescue a purchase.
            STRIPE_REPLAY_CRON="0 0 1 1 *",
        )
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed (./scripts/test.sh --slow installs it as root)"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (the dev extra brings it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser profile per test (no token or workspace remembered)."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.add_init_script(RECORD_STATUSES)
    context.set_default_timeout(30_000)
    opened = await context.new_page()
    yield opened
    await context.close()
