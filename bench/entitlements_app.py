"""The API as deployed, plus the benchmark's floor: a bare SELECT of the same row, served the
same way (FastAPI, `run_db` with its deadline), without auth, membership or the contract."""

from __future__ import annotations

import json
import uuid

from fastapi import FastAPI, Request, Response
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from api.db import run_db
from api.main import create_app

BARE = text(
    "SELECT version, plan, grants FROM workspace_entitlements WHERE workspace_id = :w "
    "ORDER BY version DESC LIMIT 1"
)


def create_bench_app() -> FastAPI:
    app = create_app()

    @app.get("/bench/bare/{workspace_id}")
    async def bare(request: Request, workspace_id: uuid.UUID) -> Response:
        async def select(session: AsyncSession) -> dict[str, object]:
            row = (await session.execute(BARE, {"w": workspace_id})).one()
            return dict(row._mapping)

        found = await run_db(request, select)
        return Response(json.dumps(found), media_type="application/json")

    return app
