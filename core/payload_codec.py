"""AES-256-GCM payload encryption for Temporal: the newest key encrypts, every key decrypts."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.payload_keys import PayloadKeyError, PayloadKeys

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with the newest key, the key id in clear in its metadata.

    Payloads that are not encrypted pass through `decode` untouched, so histories recorded
    before encryption was turned on still replay and still show in the UI.
    """

    def __init__(self, keys: PayloadKeys) -> None:
        super().__init__()
        self._current_id, current = keys.keys[0]
        self._encryptor = AESGCM(current)
        self._decryptors = {key_id: AESGCM(key) for key_id, key in keys.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._current_id.encode()
        # The key id is the associated data: a payload relabelled to another key fails.
        sealed = self._encryptor.encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        decryptor = self._decryptors.get(key_id)
        if decryptor is None:
            raise PayloadKeyError(
                f"payload encrypted with key {key_id!r}, which TEMPORAL_PAYLOAD_KEYS lacks"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = decryptor.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadKeyError(f"payload does not authenticate under key {key_id!r}") from None
        return Payload.FromString(plain)


class PlaintextOnlyCodec(PayloadCodec):
    """For a process without keys: writes plaintext, and names the problem when it meets an
    encrypted payload instead of failing deep in the JSON converter."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        for payload in payloads:
            if payload.metadata.get("encoding") == ENCODING:
                key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
                raise PayloadKeyError(
                    f"payload encrypted with key {key_id!r}; set TEMPORAL_PAYLOAD_KEYS"
                )
        return list(payloads)


def codec_for(keys: PayloadKeys | None) -> PayloadCodec:
    return EncryptionCodec(keys) if keys is not None else PlaintextOnlyCodec()
