"""Stripe API route handlers, one module per resource family."""

from __future__ import annotations

from ..web import Route
from . import billing, catalog, checkout, customers, events, invoices, payments


def api_routes() -> list[Route]:
    return [
        *customers.ROUTES,
        *catalog.ROUTES,
        *checkout.ROUTES,
        *billing.ROUTES,
        *invoices.ROUTES,
        *payments.ROUTES,
        *events.ROUTES,
    ]
