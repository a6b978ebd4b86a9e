"""Stripe-shaped API errors: the exception handlers raise and its JSON body."""

from __future__ import annotations

from typing import Any

_DOC = "https://docs.stripe.com/error-codes/"


class StripeError(Exception):
    """An error answered as `{"error": {...}}` with the HTTP status Stripe uses for it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - Stripe's own field name
        code: str | None = None,
        param: str | None = None,
        replayable: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        # Stripe saves an idempotent result only once the endpoint began executing:
        # validation failures are not replayed, so a corrected retry may reuse the key.
        self.replayable = replayable
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = _DOC + self.code.replace("_", "-")
        if self.param:
            err["param"] = self.param
        if request_id:
            err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}?t=0"
        return {"error": err}

    @classmethod
    def missing(cls, param: str) -> StripeError:
        return cls(
            400,
            f"Missing required param: {param}.",
            code="parameter_missing",
            param=param,
            replayable=False,
        )


def no_such(kind: str, obj_id: str, param: str = "id", status: int = 404) -> StripeError:
    """Stripe's `resource_missing`: 404 for the URL's object, 400 for a referenced one."""
    return StripeError(status, f"No such {kind}: '{obj_id}'", code="resource_missing", param=param)


def invalid_param(param: str, message: str, code: str = "parameter_invalid_string") -> StripeError:
    return StripeError(400, message, code=code, param=param, replayable=False)


def invalid_request(message: str, param: str | None = None) -> StripeError:
    return StripeError(400, message, param=param)
