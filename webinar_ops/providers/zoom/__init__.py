"""The `zoom` provider: Zoom's REST API v2, with Server-to-Server OAuth.

- settings.py: ZOOM_*, read from the environment by the plugin;
- client.py: the client and the provider (requests), imported when Zoom is first used;
- webhook.py: `POST /zoom/webhook`, Zoom's signed registration events;
- standin.py: the local Zoom, a stand-in for Zoom's API (`webinar-ops fake-zoom`, the tests);
- plugin.py: what the registry loads (entry point `zoom` of `webinar_ops.providers`).
"""

from webinar_ops.providers.zoom.plugin import ZoomPlugin
from webinar_ops.providers.zoom.settings import ZoomSettings

plugin = ZoomPlugin()

__all__ = ["ZoomSettings", "plugin"]
