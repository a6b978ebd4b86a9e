"""Stripe's wire format: bracket-nested form decoding, ids, and typed parameter readers."""

from __future__ import annotations

import random
import re
import string
import time
from typing import Any
from urllib.parse import parse_qsl

from .errors import StripeError, invalid_param

_KEY_PART = re.compile(r"\[([^\]]*)\]")
_ALPHABET = string.ascii_letters + string.digits
# Not cryptographic: ids only need to be unique and Stripe-looking, and this is fast.
_rng = random.Random()

Params = dict[str, Any]


def now() -> int:
    return int(time.time())


def rand_token(n: int) -> str:
    return "".join(_rng.choices(_ALPHABET, k=n))


def new_id(prefix: str, n: int = 24) -> str:
    return f"{prefix}_{rand_token(n)}"


def request_id() -> str:
    return "req_" + rand_token(14)


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not rest:
        return [key]
    return [head, *_KEY_PART.findall("[" + rest)]


def _listify(node: Any, under_metadata: bool = False) -> Any:
    """Turn dicts keyed 0..n (from `a[0][b]` keys) into lists; metadata keys stay a dict."""
    if isinstance(node, list):
        return [_listify(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, k == "metadata") for k, v in node.items()}
    if out and not under_metadata and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_form(raw: str) -> Params:
    """Decode `a[b][0][c]=v&e[]=x` into nested dicts and lists, as Stripe reads its params."""
    root: dict[str, Any] = {}
    appended: dict[tuple[str, ...], int] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        parts = _split_key(key)
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            if part == "":
                # `[]` appends: number it after the entries already under this prefix.
                prefix = tuple(parts[:i])
                part = str(appended.get(prefix, len(node)))
                appended[prefix] = int(part) + 1
                parts[i] = part
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return dict(_listify(root))


# ---- typed readers: each raises Stripe's own invalid-parameter errors ----


def get_str(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise StripeError.missing(name)
        return None
    if not isinstance(value, str):
        raise invalid_param(name, f"Invalid string: {name}")
    return value


def get_int(params: Params, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeError.missing(name)
        return None
    try:
        return int(str(value))
    except ValueError:
        raise invalid_param(
            name, f"Invalid integer: {value}", "parameter_invalid_integer"
        ) from None


def get_bool(params: Params, name: str) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid_param(name, f"Invalid boolean: {value}")


def get_list(params: Params, name: str) -> list[Any]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def get_dict(params: Params, name: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_param(name, f"Invalid hash: {name}", "parameter_invalid_hash")
    return value


def merge_metadata(current: dict[str, str], update: Any, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata update: merge keys, "" unsets a key, an empty value clears all."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid_param(param, "Invalid hash", "parameter_invalid_hash")
    out = dict(current)
    for key, value in update.items():
        if value == "" or value is None:
            out.pop(key, None)
        elif not isinstance(value, str):
            raise invalid_param(f"{param}[{key}]", "Invalid string")
        else:
            out[key] = value
    return out


def check_known(params: Params, allowed: frozenset[str] | None) -> None:
    """Reject parameters the real endpoint does not accept, as Stripe does."""
    if allowed is None:
        return
    for key in params:
        if key not in allowed:
            raise StripeError(
                400,
                f"Received unknown parameter: {key}",
                code="parameter_unknown",
                param=key,
                replayable=False,
            )
