"""The 429 answer of the per-workspace start limits (`rules.request_limits`)."""

from __future__ import annotations

import uuid

from fastapi import Request

from api.db import run_db
from api.errors import ApiError
from models.vocabulary import ErrorCode
from rules.request_limits import take_start


async def limit_starts(
    request: Request, kind: str, workspace_id: uuid.UUID, per_minute: int
) -> None:
    """Count a start of `kind` for the workspace; 429 RATE_LIMITED with Retry-After beyond
    `per_minute`."""
    key = f"{kind}:{workspace_id}"
    retry_after = await run_db(request, lambda s: take_start(s, key, per_minute))
    if retry_after is not None:
        raise ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            f"too many {kind} requests for this workspace; retry in {retry_after}s",
            {"Retry-After": str(retry_after)},
        )
