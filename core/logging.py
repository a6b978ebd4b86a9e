"""Structured JSON log lines with billing context, scrubbed of secrets."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio import workflow as temporal_workflow

CONTEXT_FIELDS = ("event_id", "event_type", "workflow_id", "workspace_id", "request_id")
# Stripe keys, webhook secrets, bearer tokens and JWTs never reach a log line.
SECRET_PATTERNS = (
    re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
)
# PostgreSQL's DETAIL line quotes the values of the failing row or key, i.e. the statement's
# parameters; it ends at a newline, or at its escape inside a JSON line.
SQL_DETAIL = re.compile(r"DETAIL:(?:(?!\\n)[^\n])*")
_extra_secrets: set[str] = set()
# Fields bound for the current request or task (e.g. request_id, workspace_id).
_bound: ContextVar[dict[str, str] | None] = ContextVar("billing_log_context", default=None)
# Workflow id prefixes whose next part names the event or the workspace.
_ID_FIELDS = {"stripe-event": "event_id", "checkout": "workspace_id", "portal": "workspace_id"}


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add these fields to every log line emitted inside the block (same task/context)."""
    token = _bound.set({**(_bound.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _bound.reset(token)


def temporal_context(record: logging.LogRecord) -> dict[str, str]:
    """workflow_id, run_id, workflow/activity type (and the event or workspace its id names)
    of a line logged by workflow.logger, activity.logger or any logger inside an activity."""
    details = getattr(record, "temporal_workflow", None) or getattr(
        record, "temporal_activity", None
    )
    found: dict[str, Any] = dict(details) if isinstance(details, dict) else {}
    if not found and activity.in_activity():
        info = activity.info()
        found = {"workflow_id": info.workflow_id, "activity_type": info.activity_type}
    context = {
        key: str(found[key])
        for key in ("workflow_id", "run_id", "workflow_type", "activity_type")
        if found.get(key)
    }
    prefix, _, rest = context.get("workflow_id", "").partition(":")
    if prefix in _ID_FIELDS and rest:
        context[_ID_FIELDS[prefix]] = rest.split(":", 1)[0]
    return context


def register_secret(value: str | None) -> None:
    """Scrub this exact value from every log line (configured secrets, admin tokens)."""
    if value and len(value) >= 6:
        _extra_secrets.add(value)


def scrub(text: str) -> str:
    for secret in _extra_secrets:
        text = text.replace(secret, "[REDACTED]")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub("[REDACTED]", text)
    return SQL_DETAIL.sub("DETAIL: [REDACTED]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(temporal_context(record))
        entry.update(_bound.get() or {})
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


class ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else ScrubbingFormatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if json_lines:
        # Workflow/activity details become JSON fields instead of a suffix on the message.
        temporal_workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False
    # Request lines of the HTTP client carry URLs with object ids only; keep them quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Its DEBUG lines dump whole activations and results (customer and session payloads).
    logging.getLogger("temporalio.worker").setLevel(logging.INFO)
    logging.getLogger("stripe").setLevel(logging.WARNING)
