"""Fault suite (issue #13): real processes killed, frozen and restarted; see tests/faults/report.py."""
