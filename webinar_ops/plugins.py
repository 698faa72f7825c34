"""The plugin registry: which providers and mail transports this installation has.

A plugin is a package that declares itself in its distribution's metadata, under one of the
entry point groups below, by name: `zoom = "webinar_ops.providers.zoom:plugin"`. The name is
what a configuration or a definition writes (`WEBINAR_OPS_PROVIDER=zoom`, `MAIL_TRANSPORT=smtp`,
`[provider] name = "zoom"`). The built-in plugins are declared in webinar-ops's own
pyproject.toml; another distribution adds one by declaring it in its own.

Names are read from the metadata without importing anything, so the configuration can check a
name without loading a plugin. A plugin's object is imported the first time it is asked for.
This module sits at the bottom floor: it imports no other part of webinar-ops, and nothing here
knows a plugin by name.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

PROVIDERS = "webinar_ops.providers"
TRANSPORTS = "webinar_ops.transports"


@cache
def _declared(group: str) -> dict[str, EntryPoint]:
    # The first declaration of a name wins: the same distribution seen twice on sys.path
    # (an editable install and a checkout) declares it twice.
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry)
    return found


def names(group: str) -> tuple[str, ...]:
    """The plugin names declared in `group`, sorted; nothing is imported."""
    return tuple(sorted(_declared(group)))


@cache
def load(group: str, name: str) -> Any:
    """The plugin object called `name` in `group`, imported on first use. Raises LookupError
    for a name that no installed distribution declares."""
    try:
        entry = _declared(group)[name]
    except KeyError:
        raise LookupError(f"no plugin {name!r} in {group}") from None
    return entry.load()


def load_all(group: str) -> list[Any]:
    """Every plugin object in `group`, in the order of their names."""
    return [load(group, name) for name in names(group)]
