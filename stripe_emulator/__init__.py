"""A stateful, offline stand-in for the part of Stripe's API the billing service uses."""

from __future__ import annotations

from .app import EmulatorApp
from .config import EmulatorConfig
from .core import Emulator


def create_app(config: EmulatorConfig | None = None, *, seed_env: str | None = None) -> EmulatorApp:
    """Build the ASGI app around a fresh emulated account."""
    from . import control, pages
    from .routes import api_routes
    from .seed import seed_catalog

    emu = Emulator(config)
    if seed_env:
        seed_catalog(emu, seed_env)
    return EmulatorApp(emu, api_routes(), [*control.ROUTES, *pages.ROUTES])


__all__ = ["Emulator", "EmulatorApp", "EmulatorConfig", "create_app"]
