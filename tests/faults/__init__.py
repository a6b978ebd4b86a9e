"""Fault suite (issue #13): real processes killed, frozen and restarted; see report.py."""
