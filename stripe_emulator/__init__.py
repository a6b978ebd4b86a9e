"""A stateful, offline stand-in for the part of Stripe's API the billing service uses."""

from __future__ import annotations

from pathlib import Path

from .app import EmulatorApp
from .config import EmulatorConfig
from .core import Emulator


def create_app(
    config: EmulatorConfig | None = None,
    *,
    seed_env: str | None = None,
    state_file: Path | None = None,
) -> EmulatorApp:
    """Build the ASGI app around an emulated account: fresh, or the one kept in `state_file`."""
    from . import control, pages, portal_page
    from .persistence import StateFile
    from .routes import api_routes
    from .seed import seed_catalog

    emu = Emulator(config)
    if state_file is not None:
        emu.state_file = StateFile(state_file)
        emu.state_file.load(emu)
    if seed_env:
        # Seeding finds a restored catalog in place and creates nothing then.
        seed_catalog(emu, seed_env)
    emu.save()
    return EmulatorApp(emu, api_routes(), [*control.ROUTES, *pages.ROUTES, *portal_page.ROUTES])


__all__ = ["Emulator", "EmulatorApp", "EmulatorConfig", "create_app"]
