"""The small web service (`webinar-ops serve`): what the links in the mails open.

- `/u/TOKEN`: one-click unsubscribe (RFC 8058). A mail client POSTs
  `List-Unsubscribe=One-Click` to it, with no cookie and no login, and the reminders for that
  webinar stop at once; the answer is a page, never a redirect. A GET only shows a page with
  a button, because link checkers and mail scanners open links by themselves. The token is
  the only credential: the registration's id with an HMAC of it and the address, so it can be
  neither guessed nor made for someone else. Updates and cancellations still go: they keep
  the person's calendar true.
- `/j/TOKEN`: the `local` provider's join link; it says which webinar and person it is for.
- `/healthz`: the database answers.

Flask, served by waitress (pure Python, production grade). Pages are Jinja2 with HTML
autoescaping; nothing a visitor sends is shown back unescaped.
"""

from __future__ import annotations

from flask import Flask, Response, request
from markupsafe import escape

from webinar_ops import times, tokens
from webinar_ops.config import Settings
from webinar_ops.providers.local import registration_by_join_token
from webinar_ops.store import Store

ONE_CLICK = "List-Unsubscribe=One-Click"
NO_VIDEO = "The embedded provider hosts no video: this page stands in for the meeting."
PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;">
<h1 style="font-size:1.4rem;">{title}</h1>
{body}
</body>
</html>
"""


def create_app(settings: Settings) -> Flask:
    """The web service over the database in `settings`; each request opens its own store."""
    app = Flask("webinar_ops")
    secret_key = settings.require_secret_key()

    def store() -> Store:
        return Store.open(settings.db_path)

    @app.get("/healthz")
    def healthz() -> Response:
        with store() as db:
            db.db.execute("SELECT 1").fetchone()
        return Response("ok\n", mimetype="text/plain")

    @app.route("/u/<token>", methods=["GET", "POST"])
    def unsubscribe(token: str) -> Response:
        with store() as db:
            registrant_id = tokens.unsubscribe_id(secret_key, token, lambda i: _email_of(db, i))
            if registrant_id is None:
                return _page("Link not recognised", "<p>This unsubscribe link is not one of ours.</p>", 404)
            webinar = db.webinar_by_id(db.registrant_by_id(registrant_id)["webinar_id"])
            title = escape(webinar.title)
            if request.method == "GET":
                return _page("Stop the reminders?", _unsubscribe_form(title))
            if request.form.get("List-Unsubscribe") != "One-Click":
                return _page("Not understood", f"<p>To unsubscribe, send <code>{ONE_CLICK}</code>.</p>", 400)
            db.unsubscribe(registrant_id, times.utc_now())
        return _page("Unsubscribed", f"<p>You will get no more reminders for <strong>{title}</strong>.</p>")

    @app.get("/j/<token>")
    def join(token: str) -> Response:
        with store() as db:
            found = registration_by_join_token(db, token)
        if found is None:
            return _page("Link not recognised", "<p>This join link is not one of ours.</p>", 404)
        topic, name = escape(found["topic"]), escape(found["first_name"] or found["email"])
        body = f"<p>This is the personal join link of <strong>{name}</strong> for <strong>{topic}</strong>.</p>"
        return _page("Your join link", body + f"<p>{NO_VIDEO}</p>")

    return app


def _email_of(store: Store, registrant_id: int) -> str | None:
    row = store.registrant_by_id(registrant_id)
    return row["email"] if row else None


def _unsubscribe_form(title: str) -> str:
    return (
        f"<p>Stop the reminders for <strong>{title}</strong>? Changes of time and a cancellation "
        "will still reach you, so that your calendar stays right.</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" style="font-size:1rem;padding:.6rem 1.2rem;">Unsubscribe</button></form>'
    )


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(PAGE.format(title=escape(title), body=body), status=status, mimetype="text/html")


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted, with waitress."""
    from waitress import serve as waitress_serve

    waitress_serve(create_app(settings), host=host, port=port, ident="webinar-ops")
