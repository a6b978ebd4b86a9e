"""The billing rules: what Stripe's state means for a workspace's plan.

Imports neither Temporal nor FastAPI: every function takes an open database session and, where it
must ask Stripe, the Stripe gateway; the activities around it are thin adapters.
"""
