"""The small web service (`webinar-ops serve`): what the links in the mails open.

- `/u/TOKEN`: one-click unsubscribe (RFC 8058). A mail client POSTs
  `List-Unsubscribe=One-Click` to it, with no cookie and no login, and the reminders for that
  webinar stop at once; the answer is a page, never a redirect. A GET only shows a page with
  a button, because link checkers and mail scanners open links by themselves. The token is
  the only credential: the registration's id with an HMAC of it and the address, so it can be
  neither guessed nor made for someone else. Updates and cancellations still go: they keep
  the person's calendar true.
- `/c/TOKEN`: a participant cancels their own registration (or leaves the waiting list), the
  link in their confirmation, reminders and waitlisted mail. A GET only asks, with one button:
  link checkers and mail previews open links, and must not cancel anyone. The POST cancels by
  `sync.cancel_registration`, as `registrants cancel` does, so the seat goes to the first on
  the waitlist; the provider is told at once and the promoted person registered with it, so
  their confirmation is planned at once (a provider that fails is retried by the next sync).
  The form is refused from another site as the registration page refuses its own
  (`registration_page.sent_from_our_site`). The token has a purpose of its own: an
  unsubscribe or calendar token cannot cancel. A cancelled or ended webinar answers 410.
- `/register/SLUG`: the webinar's registration page (registration_page.py); `/r/ID`, the
  `local` provider's registration link, leads to it.
- `/c/TOKEN/invite.ics`: the reader's calendar invite as a file, the "Add to calendar" link for
  calendars that take a file; the same UID and SEQUENCE as the mails' invites.
- `/j/TOKEN`: the `local` provider's join link; it says which webinar and person it is for,
  and answers 410 Gone once the registration or the webinar is cancelled. The route is the
  local provider's own (providers/local/plugin.py).
- `/zoom/webhook`: Zoom's signed registration events, taken in at once; the route is the
  zoom provider's own (providers/zoom/plugin.py and webhook.py).
- `/healthz`: the database answers.

Each installed provider and transport adds its routes through its plugin's `web_routes`.

Flask, served by waitress (pure Python, production grade). Pages are Jinja2 with HTML
autoescaping; nothing a visitor sends is shown back unescaped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, Response, render_template, request

from webinar_ops import times, tokens
from webinar_ops.config import Settings
from webinar_ops.errors import InputError
from webinar_ops.mail.compose import Composer
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import Provider, load_provider, provider_plugins
from webinar_ops.registration_page import form_token, form_token_holds, registration_blueprint, sent_from_our_site
from webinar_ops.site import Site
from webinar_ops.store import Registrant, Store, StoreUnavailable, WebinarRecord
from webinar_ops.sync import cancel_registration
from webinar_ops.transports import transport_plugins

log = logging.getLogger("webinar_ops.web")

ONE_CLICK = "List-Unsubscribe=One-Click"
CANCELLABLE = ("pending", "approved", "waitlisted")  # what a cancel link can still end
CANCEL_FORM = "cancel-form"  # the purpose of the cancel page's form token
FORM_TOKEN = "form_token"
PRIVATE = {"Cache-Control": "no-store"}  # pages and files that are one person's own
MAX_BODY_BYTES = 64 * 1024  # a form or a webhook is a few kilobytes; anything larger is refused with 413
CONTENT_SECURITY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(settings: Settings, clock: Callable[[], datetime] = times.utc_now) -> Flask:
    """The web service over the database in `settings`; each request opens its own store."""
    app = _App("webinar_ops", template_folder="pages", static_folder="pages/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # A link we made never has `//`: Werkzeug would redirect `/c/1.x//invite.ics` (a token
    # ending in an encoded slash) to another path; it is an unknown link like any other.
    app.url_map.merge_slashes = False
    secret_key = settings.require_secret_key()

    def store() -> Store:
        return Store.open(settings.db_path)

    app.register_blueprint(registration_blueprint(store, secret_key, clock, public_origin=settings.public_origin))
    app.after_request(_security_headers)
    app.register_error_handler(StoreUnavailable, _busy)

    @app.get("/healthz")
    def healthz() -> Response:
        with store() as db:
            db.db.execute("SELECT 1").fetchone()
        return Response("ok\n", mimetype="text/plain")

    @app.route("/u/<token>", methods=["GET", "POST"])
    def unsubscribe(token: str) -> Response | tuple[str, int]:
        with store() as db:
            registrant_id = tokens.unsubscribe_id(secret_key, token, lambda i: _email_of(db, i))
            if registrant_id is None:
                return render_template("unknown_link.html", what="unsubscribe"), 404
            title = db.webinar_by_id(db.registrant_by_id(registrant_id).webinar_id).title
            if request.method == "GET":
                return _unsubscribe_page("ask", "Stop the reminders?", title, 200)
            if request.form.get("List-Unsubscribe") != "One-Click":
                return _unsubscribe_page("unclear", "Not understood", title, 400)
            db.unsubscribe(registrant_id, clock())
        return _unsubscribe_page("done", "Unsubscribed", title, 200)

    @app.route("/c/<token>", methods=["GET", "POST"])
    def cancel(token: str) -> Response | tuple[str, int]:
        now = clock()
        with store() as db:
            registrant_id = tokens.cancel_id(secret_key, token, lambda i: _email_of(db, i))
            if registrant_id is None:
                return render_template("unknown_link.html", what="cancel"), 404
            registrant = db.registrant_by_id(registrant_id)
            webinar = db.webinar_by_id(registrant.webinar_id)
            if webinar.cancelled_at or now >= webinar.definition.end:
                return _cancel_page("gone", webinar, registrant, 410)
            if registrant.status not in CANCELLABLE:
                return _cancel_page("already", webinar, registrant, 200)
            page_token = form_token(secret_key, now, CANCEL_FORM, str(registrant_id))
            if request.method == "GET":
                return _cancel_page("ask", webinar, registrant, 200, page_token)
            posted = request.form.get(FORM_TOKEN, "")
            if not sent_from_our_site(
                settings.public_origin,
                lambda: form_token_holds(posted, now, secret_key, CANCEL_FORM, str(registrant_id)),
            ):
                log.info("cancel page: refused a form for registrant %s not sent from its own page", registrant_id)
                return _cancel_page("cross_site", webinar, registrant, 403, page_token)
            done = _cancel_registration(settings, db, webinar, registrant, now)
        return _cancel_page("done" if done else "already", webinar, registrant, 200)

    @app.get("/c/<token>/invite.ics")
    def calendar_file(token: str) -> Response | tuple[str, int]:
        with store() as db:
            registrant_id = tokens.calendar_id(secret_key, token, lambda i: _email_of(db, i))
            if registrant_id is None:
                return render_template("unknown_link.html", what="calendar"), 404
            registrant = db.registrant_by_id(registrant_id)
            webinar = db.webinar_by_id(registrant.webinar_id)
        invite = Composer(webinar, settings).invite_file(registrant, clock())
        headers = {"Content-Disposition": 'attachment; filename="invite.ics"', **PRIVATE}
        return Response(invite, mimetype="text/calendar", headers=headers)

    site = Site(settings, store, clock)
    for plugin in [*provider_plugins(), *transport_plugins()]:
        plugin.web_routes(app, site)  # the local provider's /j/TOKEN, Zoom's /zoom/webhook

    return app


class _App(Flask):
    def log_exception(self, exc_info) -> None:
        # Flask names the path, and a path here holds a token (an unsubscribe or calendar link).
        self.logger.error("Exception in %s [%s]", request.endpoint, request.method, exc_info=exc_info)


def _busy(exc: StoreUnavailable) -> Response:
    """The database cannot take the request now (locked, full): say so, and when to try again."""
    page = render_template("busy.html")
    return Response(page, status=503, mimetype="text/html", headers={"Retry-After": "30"})


def _security_headers(response: Response) -> Response:
    # Pages hold personal data: no framing, no third-party scripts, no referrer leaking a token.
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _email_of(store: Store, registrant_id: int) -> str | None:
    row = store.registrant_by_id(registrant_id)
    return row.email if row else None


def _cancel_registration(
    settings: Settings, db: Store, webinar: WebinarRecord, registrant: Registrant, now: datetime
) -> bool:
    """Cancel as `registrants cancel` does (sync.cancel_registration), then plan the webinar,
    so that the promoted person's confirmation goes at once. False when someone else
    cancelled them first."""
    done = cancel_registration(db, _provider(settings, db, webinar), webinar, registrant.email, now)
    if done.already:
        return False
    plan_webinar(db, db.webinar_by_id(webinar.id), now, settings.mail_domain)
    log.info("cancel page: registrant %s of %s cancelled their registration", done.registrant.id, webinar.slug)
    return True


def _provider(settings: Settings, db: Store, webinar: WebinarRecord) -> Provider | None:
    """The webinar's provider, or None when it cannot be built here (the sync tells it later)."""
    try:
        return load_provider(webinar.provider, settings, db)
    except InputError as exc:
        log.warning(
            "cancel page: the %s provider cannot be used now (%s); the next sync tells it", webinar.provider, exc
        )
        return None


def _cancel_page(
    state: str, webinar: WebinarRecord, registrant: Registrant, status: int, page_token: str | None = None
) -> Response:
    """The cancel page in one of its states: ask, done, already, cross_site, gone."""
    d = webinar.definition
    page = render_template(
        "cancel.html",
        state=state,
        title=d.title,
        when=times.format_span(d.start, d.end, d.time_zone),
        start=times.iso_utc(d.start),
        waitlisted=registrant.is_waitlisted,
        form_token=page_token,
        form_token_name=FORM_TOKEN,
    )
    return Response(page, status=status, mimetype="text/html", headers=PRIVATE)


def _unsubscribe_page(state: str, heading: str, title: str, status: int) -> Response:
    page = render_template("unsubscribe.html", state=state, heading=heading, title=title, one_click=ONE_CLICK)
    return Response(page, status=status, mimetype="text/html", headers=PRIVATE)


MAX_HEADER_BYTES = 16 * 1024  # a browser's request headers are 1 to 2 KB; cookies are not used


def server_options(settings: Settings) -> dict:
    """waitress's options for a service exposed to the internet: bodies over MAX_BODY_BYTES are
    refused from their Content-Length before a byte is read (no temporary file), headers are
    bounded, and the connection limit is far above what slow clients that trickle their headers
    take (they hold a connection, not a thread), with poll() so that more than 1024 sockets
    can be open. Behind the proxy named by WEBINAR_OPS_TRUSTED_PROXY, the visitor's address is
    the one that proxy adds to X-Forwarded-For; without it, the direct peer."""
    options = {
        "max_request_body_size": MAX_BODY_BYTES,
        "max_request_header_size": MAX_HEADER_BYTES,
        "connection_limit": settings.connection_limit,
        "channel_timeout": settings.channel_timeout,
        "cleanup_interval": max(1, int(settings.channel_timeout // 3)),
        "asyncore_use_poll": True,
    }
    if settings.trusted_proxy:
        options |= {
            "trusted_proxy": settings.trusted_proxy,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True,
        }
    return options


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted, with waitress."""
    from waitress import serve as waitress_serve

    waitress_serve(create_app(settings), host=host, port=port, ident="webinar-ops", **server_options(settings))
