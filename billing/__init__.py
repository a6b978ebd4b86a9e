"""Core of the billing orchestrator: settings, constants, database and Stripe wiring."""
