"""Wiring shared by every process: settings, constants, database, Stripe and Temporal clients."""
