"""Pure unit checks of the emulator's helpers (no server)."""

from __future__ import annotations

from stripe_emulator.objects import add_interval
from stripe_emulator.schema_check import errors
from stripe_emulator.webhooks import sign
from stripe_emulator.wire import decode_form


def test_decode_form_bracket_nesting() -> None:
    raw = (
        "line_items[0][price]=p1&line_items[0][quantity]=2&line_items[1][price]=p2"
        "&metadata[a]=1&metadata[0]=z&expand[]=x&expand[]=y&created[gte]=5"
        "&types[0]=a&types[1]=b&email="
    )
    assert decode_form(raw) == {
        "line_items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "metadata": {"a": "1", "0": "z"},
        "expand": ["x", "y"],
        "created": {"gte": "5"},
        "types": ["a", "b"],
        "email": "",
    }


def test_add_interval_clamps_month_end() -> None:
    jan31 = 1769817600  # 2026-01-31T00:00:00Z
    assert add_interval(jan31, "month") == 1772236800  # 2026-02-28
    assert add_interval(jan31, "year") == 1801353600  # 2027-01-31


def test_signature_matches_stripe_scheme() -> None:
    import hashlib
    import hmac

    header = sign("{}", "whsec_x", timestamp=1700000000)
    expected = hmac.new(b"whsec_x", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_strict_validation_catches_bad_objects() -> None:
    assert errors({"id": "cus_1", "object": "customer", "livemode": False})  # no created
    assert errors({"id": "cus_1", "object": "customer", "created": "x", "livemode": False})
    assert errors(
        {"id": "cus_1", "object": "customer", "created": 1, "livemode": False, "bogus": 1}
    )
    assert not errors({"id": "cus_1", "object": "customer", "created": 1, "livemode": False})
