"""The zoom provider as a plugin: its settings, its client (built on first use), its webhook
route, its join-link format and its `doctor` check."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from webinar_ops.providers import Provider, ProviderPlugin
from webinar_ops.providers.zoom.settings import ZoomSettings

if TYPE_CHECKING:  # annotations only: the registry loads this module to read the settings
    from flask import Flask

    from webinar_ops.config import Settings
    from webinar_ops.site import Site
    from webinar_ops.store import Store


class ZoomPlugin(ProviderPlugin):
    """Zoom's REST API v2, with Server-to-Server OAuth."""

    name = "zoom"
    title = "Zoom"
    settings = ZoomSettings

    def create(self, settings: Settings, store: Store | None) -> Provider:
        """The Zoom provider from the ZOOM_* settings (it keeps nothing in the store)."""
        from webinar_ops.providers.zoom.client import create_provider  # requests: only when Zoom is used

        return create_provider(settings.of(ZoomSettings))

    def doctor_checks(self, settings: Settings) -> list[Callable[[], str]]:
        """One token request with the app's credentials."""
        from webinar_ops.providers.zoom.client import check_access

        return [lambda: check_access(settings.of(ZoomSettings))]

    def web_routes(self, app: Flask, site: Site) -> None:
        """`POST /zoom/webhook`: Zoom's signed registration events (webhook.py)."""
        from flask import request

        from webinar_ops.providers.zoom.webhook import receive

        zoom = site.settings.of(ZoomSettings)
        mail_domain = site.settings.mail_domain

        @app.post("/zoom/webhook")
        def zoom_webhook() -> tuple[dict, int]:
            # The raw bytes: the signature is over the body exactly as Zoom sent it.
            body = request.get_data()
            answer = receive(zoom, mail_domain, request.headers, body, site.clock(), site.open_store)
            return answer.body, answer.status

    def join_link_secret(self, link: str) -> str | None:
        """A personal Zoom link's secret: its `?tk=` token."""
        return link.partition("?tk=")[2] or None
