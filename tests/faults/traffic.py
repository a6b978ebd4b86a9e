"""The load a case puts on the API: webhook deliveries, checkouts, polls; every answer kept."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.support import JWT_SECRET, SECRET, in_lanes
from stripe_emulator.webhooks import sign
from tests.faults.shop import Tenant

# A defined answer must come within this, whatever is down (issue #13: no hangs).
REQUEST_DEADLINE = 15.0
# Past this the client stops waiting and the request counts as hung.
CLIENT_TIMEOUT = 20.0


class UndefinedAnswers(AssertionError):
    """Answers outside the contract (a 500, no answer, a late one): the failure an xfail of a
    known production bug names, so that any other failure of the case still fails it."""


@dataclass(frozen=True)
class Answer:
    kind: str
    status: int | str  # HTTP status, "hung", or "error:<transport error>"
    seconds: float
    at: float  # time.monotonic() when sent


@dataclass
class Answers:
    """Every answer of a case, so it can say which were undefined, 500 or late."""

    items: list[Answer] = field(default_factory=list)

    async def call(self, kind: str, request: Callable[[], Awaitable[httpx.Response]]) -> Answer:
        sent = time.monotonic()
        status: int | str
        try:
            status = (await request()).status_code
        except httpx.TimeoutException:
            status = "hung"
        except httpx.TransportError as exc:
            status = f"error:{type(exc).__name__}"
        answer = Answer(kind, status, time.monotonic() - sent, sent)
        self.items.append(answer)
        return answer

    def of(self, kind: str, since: float = 0.0, until: float = float("inf")) -> list[Answer]:
        return [a for a in self.items if a.kind == kind and since <= a.at <= until]

    def statuses(self, kind: str, since: float = 0.0, until: float = float("inf")) -> Counter[Any]:
        return Counter(a.status for a in self.of(kind, since, until))

    def undefined(
        self, allowed: dict[str, set[int]], since: float = 0.0, until: float = float("inf")
    ) -> list[Answer]:
        """Answers outside the allowed statuses of their kind, or later than the deadline."""
        return [
            a for a in self.items
            if a.kind in allowed and since <= a.at <= until
            and (a.status not in allowed[a.kind] or a.seconds > REQUEST_DEADLINE)
        ]

    def slowest(self, kind: str, since: float = 0.0, until: float = float("inf")) -> float:
        return max((a.seconds for a in self.of(kind, since, until)), default=0.0)

    def summary(self, since: float = 0.0, until: float = float("inf")) -> str:
        kinds = sorted({a.kind for a in self.items})
        return "; ".join(
            f"{k}: {dict(self.statuses(k, since, until))} max {self.slowest(k, since, until):.1f}s"
            for k in kinds
        )


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT,
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so a reused
        # connection is never one the server is closing (a client artifact, not a fault).
        limits=httpx.Limits(
            max_connections=128, max_keepalive_connections=64, keepalive_expiry=3.0
        ),
    )


class WebhookSender:
    """Delivers signed events as Stripe does: until a 2xx, backing off between attempts
    (compressed from Stripe's hours to seconds), unless `retry` is off."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        answers: Answers,
        *,
        retry: bool = True,
        give_up_after: float = 240.0,
    ) -> None:
        self.http = http
        self.url = f"{api_url}/api/v1/stripe/webhook"
        self.answers = answers
        self.retry = retry
        self.give_up_after = give_up_after
        self.acked: set[str] = set()

    async def deliver(self, event: dict[str, Any]) -> bool:
        started, pause = time.monotonic(), 0.5
        body = json.dumps(event).encode()
        while True:
            headers = {"Stripe-Signature": sign(body.decode(), SECRET),
                       "Content-Type": "application/json"}
            answer = await self.answers.call("webhook", self._post(body, headers))
            if answer.status == 200:
                self.acked.add(event["id"])
                return True
            if not self.retry or time.monotonic() - started > self.give_up_after:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4.0)

    def _post(
        self, body: bytes, headers: dict[str, str]
    ) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: self.http.post(self.url, content=body, headers=headers)

    async def burst(
        self, deliveries: list[dict[str, Any]], lanes: int, per_second: float | None = None
    ) -> dict[str, float]:
        """Every delivery, at most `lanes` in flight, started `per_second` (or at once);
        figures of whole deliveries, retries included."""
        started = time.monotonic()

        async def one(i: int) -> None:
            if per_second is not None:
                await asyncio.sleep(max(0.0, started + i / per_second - time.monotonic()))
            await self.deliver(deliveries[i])

        return await in_lanes(len(deliveries), lanes, one)


class ApiCalls:
    """What a browser and the main application ask of the API, each answer kept."""

    def __init__(self, http: httpx.AsyncClient, api_url: str, answers: Answers) -> None:
        self.http = http
        self.url = api_url
        self.answers = answers

    def _workspace(self, tenant: Tenant, tail: str) -> str:
        return f"{self.url}/api/v1/stripe/workspaces/{tenant.workspace_id}/{tail}"

    async def checkout(self, tenant: Tenant, key: str, plan: str = "pro") -> Answer:
        headers = {**tenant.bearer(JWT_SECRET), "Idempotency-Key": key}
        body = {"plan_slug": plan, "interval": "monthly"}
        url = self._workspace(tenant, "checkout-session")
        return await self.answers.call(
            "checkout", lambda: self.http.post(url, json=body, headers=headers)
        )

    async def portal(self, tenant: Tenant) -> Answer:
        url = self._workspace(tenant, "portal-session")
        headers = tenant.bearer(JWT_SECRET)
        return await self.answers.call("portal", lambda: self.http.post(url, headers=headers))

    async def status(self, tenant: Tenant) -> Answer:
        url = self._workspace(tenant, "billing")
        headers = tenant.bearer(JWT_SECRET)
        return await self.answers.call("status", lambda: self.http.get(url, headers=headers))

    async def readyz(self) -> Answer:
        return await self.answers.call("readyz", lambda: self.http.get(f"{self.url}/readyz"))


def shuffled(events: Iterable[dict[str, Any]], seed: int, most: int = 3) -> list[dict[str, Any]]:
    """Each event 1..`most` times, all shuffled: Stripe's at-least-once, in any order."""
    rnd = random.Random(seed)
    picks = [e for e in events for _ in range(rnd.randint(1, most))]
    rnd.shuffle(picks)
    return picks


async def poll_until(
    stop: asyncio.Event, every: float, call: Callable[[], Coroutine[Any, Any, Any]]
) -> None:
    """`call` every `every` seconds (not waiting for a slow one) until `stop` is set; a
    failing call fails the poller (the answers themselves are kept by `call`)."""
    calls: list[asyncio.Task[Any]] = []
    while not stop.is_set():
        calls.append(asyncio.create_task(call()))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
    await asyncio.gather(*calls)
