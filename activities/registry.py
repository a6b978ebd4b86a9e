"""The activities one worker serves, bound to their injected clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.deps import ActivityDeps


def build_activities(deps: ActivityDeps) -> Sequence[Callable[..., Any]]:
    """Instantiate each activity class once and return its bound activity methods."""
    return []
