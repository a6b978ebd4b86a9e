"""The payload codec: AES-256-GCM under the newest key, every key decrypts, tampering and
unknown keys are refused by name, plaintext passes through, the key list is validated."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from core.payload_codec import ENCODING, KEY_ID_METADATA, EncryptionCodec, PlaintextOnlyCodec
from core.payload_keys import PayloadKeyError, PayloadKeys
from core.temporal_client import data_converter

OLD = PayloadKeys.generate_entry("2026-01")
NEW = PayloadKeys.generate_entry("2026-07")
SECRET = b'{"url": "https://billing.stripe.com/p/session/live_abc", "customer": "cus_123"}'


def _plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET)


async def test_newest_key_encrypts_and_every_key_decrypts() -> None:
    old_codec = EncryptionCodec(PayloadKeys.parse(OLD))
    rotated = EncryptionCodec(PayloadKeys.parse(f"{NEW},{OLD}"))
    [under_old] = await old_codec.encode([_plain()])
    [under_new] = await rotated.encode([_plain()])
    assert under_old.metadata[KEY_ID_METADATA] == b"2026-01"
    assert under_new.metadata[KEY_ID_METADATA] == b"2026-07"
    assert under_new.metadata["encoding"] == ENCODING and SECRET not in under_new.data
    assert await rotated.decode([under_old, under_new]) == [_plain(), _plain()]
    with pytest.raises(PayloadKeyError, match="2026-07"):
        await old_codec.decode([under_new])


async def test_two_encryptions_differ_and_tampering_is_refused() -> None:
    codec = EncryptionCodec(PayloadKeys.parse(OLD))
    [first], [second] = await codec.encode([_plain()]), await codec.encode([_plain()])
    assert first.data != second.data  # a fresh nonce each time
    flipped = Payload(metadata=first.metadata, data=first.data[:-1] + bytes([first.data[-1] ^ 1]))
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await codec.decode([flipped])
    # The key id is authenticated too: relabelling a payload to another key fails.
    both = EncryptionCodec(PayloadKeys.parse(f"{NEW},{OLD}"))
    relabelled = Payload(metadata={**first.metadata, KEY_ID_METADATA: b"2026-07"}, data=first.data)
    with pytest.raises(PayloadKeyError):
        await both.decode([relabelled])


async def test_plaintext_passes_through_and_no_keys_names_the_problem() -> None:
    codec = EncryptionCodec(PayloadKeys.parse(OLD))
    assert await codec.decode([_plain()]) == [_plain()]
    [sealed] = await codec.encode([_plain()])
    keyless = PlaintextOnlyCodec()
    assert await keyless.encode([_plain()]) == [_plain()]
    with pytest.raises(PayloadKeyError, match="TEMPORAL_PAYLOAD_KEYS"):
        await keyless.decode([sealed])


async def test_the_data_converter_round_trips_values() -> None:
    converter = data_converter(PayloadKeys.parse(f"{NEW},{OLD}"))
    payloads = await converter.encode([{"url": "https://x.test/p"}])
    assert b"x.test" not in payloads[0].SerializeToString()
    assert await converter.decode(payloads, [dict]) == [{"url": "https://x.test/p"}]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("nokey", "id:base64key"),
        ("a b:" + NEW.split(":")[1], "id:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "32 bytes"),
        (f"{OLD},{OLD}", "appears twice"),
    ],
)
def test_malformed_key_lists_are_refused(text: str, reason: str) -> None:
    with pytest.raises(PayloadKeyError, match=reason):
        PayloadKeys.parse(text)
