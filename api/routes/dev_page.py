"""Development only: the demo page at `/`, its demo sign-in and the caller's workspaces."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from api.db import run_db
from api.deps import CurrentUser, SettingsDep
from core.temporal_connection import namespace_of
from models.dev_schemas import DemoPublic, WorkspacesPublic, WorkspaceSummaryPublic
from rules.memberships import memberships

STATIC_DIR = Path(__file__).resolve().parents[1] / "static" / "dev"

router = APIRouter(tags=["development"])


@router.get("/", include_in_schema=False)
async def demo_page() -> FileResponse:
    # The page reads its state from the URL and the API, so one static file serves every view.
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


def _demo_owner_token(stack_file: str | None) -> str | None:
    if not stack_file:
        return None
    try:
        stack = json.loads(Path(stack_file).read_text())
    except (OSError, ValueError):
        return None  # the stack is still starting: the page offers to paste a token
    token = stack.get("demo_owner_token")
    return token if isinstance(token, str) else None


@router.get(
    "/api/v1/dev/demo",
    response_model=DemoPublic,
    summary="Development only: the demo owner's token and links for the demo page",
)
async def demo(settings: SettingsDep) -> DemoPublic:
    token = await asyncio.to_thread(_demo_owner_token, settings.billing_dev_stack_file)
    return DemoPublic(
        demo_owner_token=token,
        temporal_ui_url=settings.temporal_ui_url,
        temporal_namespace=namespace_of(settings),
        stripe_emulator=settings.uses_stripe_emulator,
        checkout_pending_reconcile_seconds=settings.checkout_pending_reconcile_seconds,
    )


@router.get(
    "/api/v1/dev/workspaces",
    response_model=WorkspacesPublic,
    summary="Development only: the workspaces the caller belongs to, for the page's picker",
)
async def my_workspaces(request: Request, user_id: CurrentUser) -> WorkspacesPublic:
    found = await run_db(request, lambda s: memberships(s, user_id))
    return WorkspacesPublic(
        workspaces=[
            WorkspaceSummaryPublic(id=str(m.workspace_id), name=m.name, plan=m.plan, role=m.role)
            for m in found
        ]
    )
