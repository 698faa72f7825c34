"""What the web service gives a plugin that adds routes to it: the settings, a way to open
the store for one request, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only: a plugin's module loads without the store
    from webinar_ops.config import Settings
    from webinar_ops.store import Store


@dataclass(frozen=True)
class Site:
    """The web service's context, as its routes see it."""

    settings: Settings
    open_store: Callable[[], Store]  # a new store for each request; use it in a `with`
    clock: Callable[[], datetime]
