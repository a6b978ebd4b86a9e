"""`GET .../entitlements` and `.../entitlements/{grant_code}`: what a workspace may do, and until
when — from PostgreSQL alone, for members and the main application's back end."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Path, Request, Response

from api.db import run_db
from api.deps import ReaderDep
from api.errors import ApiError
from models.entitlements import EntitlementsPublic, GrantAnswerPublic
from models.vocabulary import ErrorCode
from rules.entitlement_reads import Reader, answer_grant, read_entitlements

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["entitlements"])

JSON = "application/json"
# Caches may keep the answer but must ask again (with If-None-Match) before using it.
CACHE_CONTROL = "private, no-cache"
ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` names the current version"},
    401: {
        "description": "UNAUTHENTICATED: no bearer, or neither a valid token nor the service token"
    },
    404: {"description": "WORKSPACE_NOT_FOUND: no such workspace, or the caller is not a member"},
}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison over a list of entity tags (`*` matches any)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


async def _read(request: Request, workspace_id: str, reader: Reader) -> EntitlementsPublic:
    try:
        workspace = uuid.UUID(workspace_id)
    except ValueError:
        raise ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace") from None
    found = await run_db(request, lambda s: read_entitlements(s, workspace, reader))
    if found is None:
        raise ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace")
    return found


def _answer(request: Request, version: int, body: str) -> Response:
    etag = f'"{version}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSON, headers=headers)


@router.get(
    "/{workspace_id}/entitlements",
    response_model=EntitlementsPublic,
    responses=ERRORS,
    summary="The workspace's entitlements, versioned (ETag)",
)
async def entitlements(request: Request, workspace_id: str, reader: ReaderDep) -> Response:
    found = await _read(request, workspace_id, reader)
    return _answer(request, found.version, found.model_dump_json())


@router.get(
    "/{workspace_id}/entitlements/{grant_code}",
    response_model=GrantAnswerPublic,
    responses=ERRORS,
    summary="May the workspace use this grant, and until when",
)
async def grant(
    request: Request,
    workspace_id: str,
    reader: ReaderDep,
    grant_code: str = Path(max_length=200),
) -> Response:
    found = await _read(request, workspace_id, reader)
    return _answer(request, found.version, answer_grant(found, grant_code).model_dump_json())
