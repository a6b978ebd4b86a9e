"""Operator tools: the `billing` command, local stack, embedded PostgreSQL and support trace."""
