"""The seed-002 §4 catalog: `pro` and `business`, monthly and yearly USD prices."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .core import AUTOMATIC, Emulator
from .routes.catalog import create_price_obj, create_product_obj
from .store import Obj

PLANS: dict[str, dict[str, Any]] = {
    "pro": {
        "name": "Pro",
        "amounts": {"monthly": 2000, "yearly": 20000},
        # Seed 001's grant mapping: price metadata overrides product metadata per code.
        "grants": {"seats": 5, "forms": 10},
        "price_grants": {"monthly": {"forms": 50}},
    },
    "business": {
        "name": "Business",
        "amounts": {"monthly": 5000, "yearly": 50000},
        "grants": {"seats": 25, "forms": 100},
        "price_grants": {},
    },
}
INTERVALS = {"monthly": "month", "yearly": "year"}


def lookup_key(env: str, plan: str, interval: str) -> str:
    return f"formsandbox:{env}:{plan}:{interval}:usd"


def _stable_id(prefix: str, *parts: str, length: int = 24) -> str:
    # Same ids on every run, so demos and docs can name them; shaped like Stripe's.
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest()
    return f"{prefix}_{digest[:length]}"


def catalog_ids(env: str) -> dict[str, str]:
    """Lookup key (and `product:<plan>`) → id of the object seeding creates."""
    ids = {f"product:{p}": _stable_id("prod", "emu", env, p, length=14) for p in PLANS}
    for plan in PLANS:
        for interval in INTERVALS:
            ids[lookup_key(env, plan, interval)] = _stable_id("price", "emu", env, plan, interval)
    return ids


def seed_catalog(emu: Emulator, env: str, *, events: bool = False) -> dict[str, Any]:
    """Create (or return the existing) catalog for `env`.

    By default no events are recorded, as for a catalog created long before the test.
    """
    emu.muted = not events
    try:
        return _seed(emu, env)
    finally:
        emu.muted = False


def _seed(emu: Emulator, env: str) -> dict[str, Any]:
    ids = catalog_ids(env)
    products: list[Obj] = []
    prices: list[Obj] = []
    for plan, spec in PLANS.items():
        prod_id = ids[f"product:{plan}"]
        prod = emu.store.tables["products"].get(prod_id)
        if prod is None:
            prod = create_product_obj(
                emu,
                {
                    "id": prod_id,
                    "name": f"FormSandbox {spec['name']}",
                    "metadata": {
                        "plan_slug": plan,
                        "billing_plan_code": plan,
                        "grants": json.dumps(spec["grants"]),
                    },
                },
                AUTOMATIC,
            )
        products.append(prod)
        for interval, stripe_interval in INTERVALS.items():
            key = lookup_key(env, plan, interval)
            existing = emu.store.tables["prices"].get(ids[key])
            if existing is not None:
                prices.append(existing)
                continue
            metadata = {
                "plan_slug": plan,
                "interval": interval,
                "self_serve": "true",
                "billing_plan_code": plan,
            }
            if interval in spec["price_grants"]:
                metadata["grants"] = json.dumps(spec["price_grants"][interval])
            prices.append(
                create_price_obj(
                    emu,
                    {
                        "id": ids[key],
                        "product": prod_id,
                        "currency": "usd",
                        "unit_amount": str(spec["amounts"][interval]),
                        "recurring": {"interval": stripe_interval, "interval_count": "1"},
                        "lookup_key": key,
                        "transfer_lookup_key": "true",
                        "nickname": f"{spec['name']} {interval}",
                        "metadata": metadata,
                    },
                    AUTOMATIC,
                )
            )
    return {
        "env": env,
        "products": {p["metadata"]["plan_slug"]: p["id"] for p in products},
        "prices": {p["lookup_key"]: p["id"] for p in prices},
    }
