"""Asynchronous, signed webhook delivery with retries, pause/resume and a delivery log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from .webhook_faults import DeliveryFaults

if TYPE_CHECKING:
    from .core import Emulator

log = logging.getLogger(__name__)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header value for a payload."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass
class Job:
    event_id: str
    attempt: int
    generation: int
    faults_done: bool = False
    tag: str | None = None  # the fault that shaped this delivery, for the log


class WebhookDispatcher:
    """A queue drained by `delivery_concurrency` workers; never blocks the API response."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.paused = False
        self.backlog: list[Job] = []
        self.log: list[dict[str, Any]] = []
        self.faults = DeliveryFaults()
        self.generation = 0
        self._workers: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._held: Job | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.in_flight = 0

    # ---- configuration and lifecycle ----

    def configure_faults(self, spec: dict[str, Any]) -> None:
        self.faults = DeliveryFaults(spec)

    def reset(self) -> None:
        # Jobs and timers of the previous generation are recognised and dropped.
        self.generation += 1
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        while not self.queue.empty():
            self.queue.get_nowait()
        self.backlog.clear()
        self.log.clear()
        self._held = None
        self.paused = False

    def resize(self) -> None:
        self._workers = [t for t in self._workers if not t.done()]
        self._ensure_workers()

    async def aclose(self) -> None:
        for task in self._workers:
            task.cancel()
        for timer in self._timers:
            timer.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _ensure_workers(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet (seeding before start-up): `start()` picks the queue up
        wanted = max(1, int(self.emu.config.delivery_concurrency))
        self._workers = [t for t in self._workers if not t.done()]
        while len(self._workers) < wanted:
            index = len(self._workers)
            self._workers.append(loop.create_task(self._worker(index)))

    def start(self) -> None:
        """Called once the server's loop runs, to deliver anything queued before."""
        self._ensure_workers()

    # ---- queueing ----

    def enqueue(self, event: dict[str, Any]) -> None:
        if not self.emu.config.webhook_url:
            return
        event["pending_webhooks"] = 1
        self._submit(Job(event["id"], 1, self.generation))

    def _submit(self, job: Job) -> None:
        if job.generation != self.generation:
            return
        if self.paused:
            self.backlog.append(job)
            return
        self._ensure_workers()
        self.queue.put_nowait(job)

    def _later(self, delay: float, job: Job) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self._submit(job)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        backlog, self.backlog = self.backlog, []
        seq = self.emu.store.seq
        backlog.sort(key=lambda j: seq.get(j.event_id, 0))
        for job in backlog:
            self._submit(job)

    @property
    def idle(self) -> bool:
        return self.queue.empty() and self.in_flight == 0 and not self._timers and not self._held

    # ---- delivery ----

    async def _worker(self, index: int) -> None:
        while True:
            if index >= max(1, int(self.emu.config.delivery_concurrency)):
                return  # concurrency was lowered: this worker retires
            job = await self.queue.get()
            self.in_flight += 1
            try:
                await self._handle(job)
            except Exception:  # a broken delivery must never kill the worker
                log.exception("webhook delivery of %s failed unexpectedly", job.event_id)
            finally:
                self.in_flight -= 1

    async def _handle(self, job: Job) -> None:
        if job.generation != self.generation:
            return
        if self.paused:
            self.backlog.append(job)
            return
        event = self.emu.store.tables["events"].get(job.event_id)
        if event is None:
            return
        if not job.faults_done and job.attempt == 1:
            job.faults_done = True
            faults = self.faults.decide(event["type"])
            if "drop" in faults:
                self._record(event, job, None, "dropped by fault injection", 0.0, "drop")
                return
            if "delay" in faults:
                job.tag = "delay"
                self._later(self.faults.delay_seconds, job)
                return
            if "reorder" in faults and self._held is None:
                # Held back until the next event went out (or the window closes).
                job.tag = "reorder"
                self._held = job
                self._release_held_after(self.faults.reorder_window)
                return
            if "duplicate" in faults:
                await self._send(event, job, "duplicate")
        await self._send(event, job, None)
        if self._held is not None and self._held is not job:
            held, self._held = self._held, None
            await self._handle(held)

    def _release_held_after(self, delay: float) -> None:
        held = self._held

        def flush() -> None:
            if self._held is held and held is not None:
                self._held = None
                self._submit(held)

        def fire() -> None:
            self._timers.discard(handle)
            flush()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    async def _send(self, event: dict[str, Any], job: Job, fault: str | None) -> None:
        url = self.emu.config.webhook_url
        if not url:
            return
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, self.emu.config.webhook_secret),
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.emu.config.delivery_timeout)
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            resp = await self._client.post(url, content=payload.encode(), headers=headers)
            status = resp.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if job.generation != self.generation:
            return
        ok = status is not None and 200 <= status < 300
        self._record(event, job, status, error, time.monotonic() - started, fault or job.tag)
        if ok:
            event["pending_webhooks"] = 0
            self.emu.save_soon()
        elif fault is None and job.attempt < int(self.emu.config.max_delivery_attempts):
            delay = float(self.emu.config.retry_base_delay) * 2 ** (job.attempt - 1)
            self._later(delay, Job(job.event_id, job.attempt + 1, job.generation, True))

    def _record(
        self,
        event: dict[str, Any],
        job: Job,
        status: int | None,
        error: str | None,
        seconds: float,
        fault: str | None,
    ) -> None:
        self.log.append(
            {
                "event_id": event["id"],
                "type": event["type"],
                "attempt": job.attempt,
                "status_code": status,
                "ok": status is not None and 200 <= status < 300,
                "at": time.time(),
                "duration_ms": round(seconds * 1000, 2),
                "error": error,
                "fault": fault,
                "url": self.emu.config.webhook_url,
            }
        )
