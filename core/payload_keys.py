"""The payload encryption keys (TEMPORAL_PAYLOAD_KEYS): named AES-256 keys, newest first."""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """The key list is malformed, or a payload names a key this process does not hold."""


@dataclass(frozen=True)
class PayloadKeys:
    """Named AES-256 keys, newest first: the first encrypts, all of them decrypt."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, text: str) -> PayloadKeys:
        """`id:base64key,id:base64key` (newest first), as TEMPORAL_PAYLOAD_KEYS holds them."""
        keys: list[tuple[str, bytes]] = []
        for entry in (part.strip() for part in text.split(",")):
            key_id, sep, encoded = entry.partition(":")
            if not sep or not KEY_ID.match(key_id):
                raise PayloadKeyError(
                    "expected `id:base64key` pairs separated by commas (id: letters, digits, .-_)"
                )
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error:
                raise PayloadKeyError(f"key {key_id} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(f"key {key_id} must be {KEY_BYTES} bytes (AES-256)")
            if any(key_id == known for known, _ in keys):
                raise PayloadKeyError(f"key id {key_id} appears twice")
            keys.append((key_id, key))
        return cls(tuple(keys))

    @staticmethod
    def generate_entry(key_id: str) -> str:
        """One new `id:base64key` entry, to put first in TEMPORAL_PAYLOAD_KEYS."""
        return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"

    @property
    def current_id(self) -> str:
        return self.keys[0][0]
