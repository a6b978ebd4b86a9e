"""The workflow classes one worker serves."""

from __future__ import annotations

WORKFLOWS: list[type] = []
