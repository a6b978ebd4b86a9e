"""Mounts the development-only demo page, its assets and routes; `create_app` skips this in
production (`BILLING_ENV=production`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.routes import dev_page, dev_stripe

ASSETS_PATH = "/dev-static"


def install_dev_tools(app: FastAPI) -> None:
    app.include_router(dev_page.router)
    app.include_router(dev_stripe.router)
    app.mount(ASSETS_PATH, StaticFiles(directory=dev_page.STATIC_DIR), name="dev-static")
