"""Hypothesis against the webhook door: random bodies, headers, signatures, sizes and encodings.

Only 200, 400 and 413 may come back, never a 500 or a 503 (the database and Temporal are up),
and nothing is stored from a request whose signature does not verify. A validly signed
Stripe-shaped event must be answered 200 and be in the ledger. `BILLING_FUZZ_EXAMPLES` raises
the number of examples (default 300).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.constants import HANDLED_EVENT_TYPES
from rules.event_shape import event_problem
from tests.conftest import WEBHOOK_SECRET
from tests.fuzz.conftest import DERANDOMIZE, WEBHOOK_EXAMPLES, count
from tests.fuzz.system import ThreadedSystem
from tests.support import fetch_all

# Printable ASCII that an HTTP client will send as a header value (no edge whitespace).
HEADER_TEXT = st.from_regex(r"\A([!-~]([ -~]{0,398}[!-~])?)?\Z")
LIMIT = 262144  # STRIPE_WEBHOOK_MAX_BODY_BYTES of the fuzzed system (the default)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
STRIPE_ID = st.from_regex(r"\Aevt_[A-Za-z0-9_]{1,40}\Z")
EVENT_ID = st.one_of(
    STRIPE_ID,  # Stripe's shape, weighed up: those are the ones that get stored
    STRIPE_ID,
    STRIPE_ID,
    st.text(max_size=200),  # anything
    st.integers(),
    st.just("evt_" + "x" * 9996),  # the 10,000 characters
)
EVENT_TYPE = st.one_of(
    st.sampled_from(HANDLED_EVENT_TYPES),
    st.from_regex(r"\A[a-z0-9_.]{1,128}\Z"),
    st.text(max_size=140),
    st.none(),
)
OBJECT_ID = st.one_of(
    st.from_regex(r"\A(sub|cus|in|cs)_[A-Za-z0-9]{4,30}\Z"), st.text(max_size=300), JSON
)


@st.composite
def event_body(draw: st.DrawFn) -> bytes:
    """An event-like JSON object, in one of the encodings a hostile client might use."""
    event: dict[str, Any] = {
        "id": draw(EVENT_ID),
        "object": "event",
        "type": draw(EVENT_TYPE),
        "created": draw(st.one_of(st.integers(0, 2**40), JSON)),
        "data": {"object": {"id": draw(OBJECT_ID), "object": "subscription"}},
    }
    event.update(draw(st.dictionaries(st.text(max_size=10), JSON, max_size=3)))
    text = json.dumps(event, ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8"] * 4 + ["utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


BODY = st.one_of(
    event_body(),  # event-like bodies weigh most: they reach the ledger
    event_body(),
    event_body(),
    st.binary(max_size=2048),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.integers(LIMIT - 16, LIMIT + 4096).map(lambda n: b'{"id": "' + b"x" * n + b'"}'),
    st.integers(1, 60_000).map(lambda n: b"[" * n + b"]" * n),  # past any recursion limit
)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@st.composite
def signature(draw: st.DrawFn, body: bytes) -> tuple[str | None, bool]:
    """(Stripe-Signature header or None, whether it verifies for `body`)."""
    now = int(time.time())
    kinds = ["valid", "valid", "wrong_secret", "stale", "tampered", "garbage", "none", "extra_v1"]
    kind = draw(st.sampled_from(kinds))
    if kind == "valid":
        return sign(body, WEBHOOK_SECRET, now), True
    if kind == "extra_v1":  # a secret roll: one of two v1 matches
        return sign(body, WEBHOOK_SECRET, now) + ",v1=" + "0" * 64, True
    if kind == "wrong_secret":
        return sign(body, "whsec_not_ours", now), False
    if kind == "stale":
        return sign(body, WEBHOOK_SECRET, now - draw(st.integers(301, 10**6))), False
    if kind == "tampered":
        return sign(body + b" ", WEBHOOK_SECRET, now), False
    if kind == "garbage":
        return draw(HEADER_TEXT), False
    return None, False


# Ids of the verified, Stripe-shaped events the fuzzer sent, and when it started.
VERIFIED: set[str] = set()
WINDOW: list[float] = []


@pytest.fixture(scope="module")
def http() -> Any:
    with requests.Session() as session:
        yield session


def stored_ids(system: ThreadedSystem, ids: list[str]) -> set[str]:
    sessions = system.sessions
    assert sessions is not None
    sql = "SELECT id FROM stripe_webhook_events WHERE id = ANY(:ids)"
    rows = system.run(lambda: fetch_all(sessions, sql, ids=ids))
    return {row.id for row in rows}


def _strict(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:  # iterative: a body just under the decoder's limit must not recurse here
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def stripe_shaped(body: bytes) -> dict[str, Any] | None:
    """The event a body holds when it is one the door must accept, else None: UTF-8 JSON
    (which has no NaN or Infinity), at most 64 levels deep, of an object with Stripe's id
    and type shapes."""
    try:
        event = json.loads(body.decode("utf-8"), parse_constant=_strict)
    except (ValueError, RecursionError):  # RecursionError: nested past any Stripe event
        return None
    if not isinstance(event, dict) or _depth(event) > 64 or event_problem(event) is not None:
        return None
    return event


CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]


@given(data=st.data(), body=BODY, content_type=st.sampled_from(CONTENT_TYPES))
@settings(
    max_examples=WEBHOOK_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_door_answers_200_400_or_413_and_stores_only_verified_events(
    data: st.DataObject, body: bytes, content_type: str, fuzz_system: ThreadedSystem, http: Any
) -> None:
    if not WINDOW:
        WINDOW.append(time.time() - 1)
    header, verified = data.draw(signature(body))
    headers = {"Content-Type": content_type} if content_type else {}
    if header is not None:
        headers["Stripe-Signature"] = header
    response = http.post(
        f"{fuzz_system.url}/api/v1/stripe/webhook", data=body, headers=headers, timeout=30
    )
    count("webhook", response.status_code)
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code != 200:
        assert set(response.json()) == {"error"}
    event = stripe_shaped(body)
    if event is None:  # not an event Stripe could send: refused, signed or not
        assert response.status_code != 200, response.text
        return
    if not verified or len(body) > LIMIT:
        assert response.status_code in (400, 413)
        if event["id"] not in VERIFIED:  # an earlier example may have sent it signed
            assert not stored_ids(fuzz_system, [event["id"]]), "stored from an unverified request"
    else:
        VERIFIED.add(event["id"])
        assert response.status_code == 200, response.text
        assert stored_ids(fuzz_system, [event["id"]]) == {event["id"]}


def test_nothing_unverified_reached_the_ledger(fuzz_system: ThreadedSystem) -> None:
    """After the fuzzer: every row delivered while it ran carries the id of a verified request
    (a body the door decoded differently from ours would show up here)."""
    assert WINDOW, "the fuzzer ran no example"
    sessions = fuzz_system.sessions
    assert sessions is not None
    rows = fuzz_system.run(
        lambda: fetch_all(
            sessions,
            "SELECT id FROM stripe_webhook_events WHERE source = 'webhook' "
            "AND received_at >= to_timestamp(:t)",
            t=WINDOW[0],
        )
    )
    assert {row.id for row in rows} <= VERIFIED
