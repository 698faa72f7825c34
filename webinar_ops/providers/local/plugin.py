"""The local provider as a plugin: its provider, its join pages at `/j/TOKEN` (templates in
pages/), its join-link format and its `doctor` check. It reads no key of its own: the base URL and the signing key
are the core's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from webinar_ops.providers import ProviderPlugin

if TYPE_CHECKING:  # annotations only: the registry loads this module to read the settings
    from datetime import datetime

    from flask import Flask, Response

    from webinar_ops.config import Settings
    from webinar_ops.providers.local.provider import LocalProvider
    from webinar_ops.site import Site
    from webinar_ops.store import Store

log = logging.getLogger("webinar_ops.web")
PRIVATE = {"Cache-Control": "no-store"}  # a join page is one person's own


class LocalPlugin(ProviderPlugin):
    """The embedded provider, offline, with no account."""

    name = "local"
    title = "local"

    def create(self, settings: Settings, store: Store) -> LocalProvider:
        """The local provider for these settings; it needs the signing key for join links."""
        from webinar_ops.providers.local.provider import LocalProvider

        return LocalProvider(store, settings.base_url, settings.require_secret_key())

    def doctor_checks(self, settings: Settings) -> list[Callable[[], str]]:
        """There is nothing to reach; join links need only the signing key."""
        return [lambda: _check_key(settings)]

    def web_routes(self, app: Flask, site: Site) -> None:
        """`GET /j/TOKEN`: the join page of one registration or one panelist; 410 Gone once it
        is closed. Its pages are the plugin's own (pages/), in the frame of the web service's
        `_base.html`."""
        from flask import Blueprint

        pages = Blueprint("local_provider", __name__, template_folder="pages")

        @pages.get("/j/<token>")
        def join(token: str) -> Response | tuple[str, int]:
            return _join_page(site, token)

        app.register_blueprint(pages)

    def join_link_secret(self, link: str) -> str | None:
        """A local join link's secret: the token after `/j/`."""
        prefix, _, token = link.rpartition("/")
        return token if prefix.endswith("/j") else None


def _check_key(settings: Settings) -> str:
    settings.require_secret_key()
    return "embedded: nothing to reach; join links are signed with WEBINAR_OPS_SECRET_KEY"


def _join_page(site: Site, token: str) -> Response | tuple[str, int]:
    from flask import Response, render_template, request

    from webinar_ops.providers.local.provider import registration_by_join_token

    with site.open_store() as db:
        found = registration_by_join_token(db, token)
        if found is None:
            return _panelist_page(db, token)
        ended = _why_closed(db, found)
        if not ended and request.method == "GET":  # a person opening it is attendance; HEAD is not
            _record_opening(db, found, site.clock())
    if ended:
        page = render_template("join_closed.html", topic=found["topic"], why=ended)
        return Response(page, status=410, mimetype="text/html", headers=PRIVATE)
    page = render_template("join.html", topic=found["topic"], name=found["first_name"] or found["email"])
    return Response(page, mimetype="text/html", headers=PRIVATE)


def _panelist_page(store: Store, token: str) -> Response | tuple[str, int]:
    """A panelist's join page, which says, in the webinar's language, that they join as a
    panelist; their openings are not recorded: a panelist is not in the audience."""
    from flask import Response, render_template

    from webinar_ops import wording
    from webinar_ops.providers.local.provider import panelist_by_join_token

    panelist = panelist_by_join_token(store, token)
    if panelist is None:
        return render_template("unknown_link.html", what="join"), 404
    webinar = store.webinar_by_provider_id("local", panelist["webinar_id"])
    if panelist["cancelled_at"] or (webinar and webinar.cancelled_at):
        page = render_template("join_closed.html", topic=panelist["topic"], why="This webinar was cancelled.")
        return Response(page, status=410, mimetype="text/html", headers=PRIVATE)
    language = webinar.definition.language if webinar else wording.ENGLISH
    page = render_template(
        "join.html",
        topic=panelist["topic"],
        name=panelist["name"] or panelist["email"],
        as_panelist=wording.joining_as_panelist(language),
    )
    return Response(page, mimetype="text/html", headers=PRIVATE)


def _record_opening(store: Store, found: dict, at: datetime) -> None:
    """Record the opening; a database that cannot take the write now (locked, full) must not
    keep the person from their webinar, so the page opens all the same."""
    from webinar_ops.providers.local.provider import record_opening
    from webinar_ops.store import StoreUnavailable

    try:
        record_opening(store, found, at)
    except StoreUnavailable as exc:
        log.warning("join page: an opening for webinar %s was not recorded: %s", found["webinar_id"], exc)


def _why_closed(store: Store, found: dict) -> str | None:
    """Why a local join link no longer opens (the webinar or the registration was cancelled,
    or the registration denied), or None while it does. The store is asked as well as the
    provider: it is the organiser's word, before the provider has been told."""
    webinar = store.webinar_by_provider_id("local", found["webinar_id"])
    if found["cancelled_at"] or (webinar and webinar.cancelled_at):
        return "This webinar was cancelled."
    rows = store.registrants(webinar.id, "provider_registrant_id = ?", [found["registrant_id"]]) if webinar else []
    if {found["status"], *(row.status for row in rows)} & {"cancelled", "denied"}:
        return "This registration was cancelled."
    return None
