"""The `local` provider: the embedded default, offline, with no account.

- provider.py: the provider, with its own tables in the webinar-ops database;
- plugin.py: its join pages at `/j/TOKEN` and what the registry loads (entry point `local`
  of `webinar_ops.providers`).
"""

from webinar_ops.providers.local.plugin import LocalPlugin
from webinar_ops.providers.local.provider import LocalProvider

plugin = LocalPlugin()

__all__ = ["LocalProvider", "plugin"]
