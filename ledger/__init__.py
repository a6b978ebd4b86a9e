"""The Stripe event ledger (`stripe_webhook_events`): the dedupe of record for every event."""
