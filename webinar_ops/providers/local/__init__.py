"""The `local` provider: the embedded default, offline, with no account.

- provider.py: the provider, with its own tables in the webinar-ops database;
- plugin.py: its join pages at `/j/TOKEN` and what the registry loads (entry point `local`
  of `webinar_ops.providers`).
"""

from webinar_ops.providers.local.plugin import LocalPlugin

plugin = LocalPlugin()

__all__ = ["plugin"]
