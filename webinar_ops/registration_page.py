"""The registration page of each webinar (`/register/SLUG`), like Zoom's own.

It shows the title, the time on the event's clock and on the visitor's, and the agenda, and
asks for a name, an address, an organisation and a time zone (pre-filled from the browser's
zone by a small script; the page works without it). A submission adds the person to the
database with `source = web`; the next sync registers them with the provider, and the
confirmation follows through the outbox like any other. A link may say where the visitor came
from (`?source=newsletter`): a short token, kept through the form and stored with them as their
`tracking_source`; anything else is dropped.

Before `[registration] opens` the page says when registration opens (and refuses the form);
from `closes` on it says registration has closed, with 410 Gone, as after the end. When the
webinar's approval is manual, the page says their request awaits the organisers' approval, and
so does the mail that follows (`awaiting`), until `registrants approve` or `deny` decides.

Abuse is kept small: a honeypot field that people never see, and a limit on submissions per
address and per client. Sending the form twice (a double click, a reload) registers once.
A page never tells whether some address was registered before: anyone can type anyone's.

Another site must not make its visitors' browsers register people (cross-site request
forgery). A browser says where a form comes from: a submission whose `Sec-Fetch-Site` is
not `same-origin` (or `none`, typed in by the person), or whose `Origin` is not the site of
WEBINAR_OPS_BASE_URL (the request's own Host while that is the default), is refused with
403. A client that sends neither header (an old browser) must bring the signed token that
the form holds: made for the client's address within FORM_WITHIN, which another site can
neither read nor make. The cancel page's form (web.py's `/c/TOKEN`) is held to the same rule
(`sent_from_our_site`). The one-click unsubscribe (web.py) is exempt by design: mail clients
post it from no page at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from webinar_ops import languages, times, tokens, validate, wording
from webinar_ops.config import web_origin
from webinar_ops.definition import RegistrationQuestion
from webinar_ops.errors import InputError, Problem
from webinar_ops.registrants import register_online
from webinar_ops.store import Store, WebinarRecord

log = logging.getLogger("webinar_ops.web")

FIELDS = ("first_name", "last_name", "email", "organisation", "job_title", "country", "time_zone", "language")
ANSWER_PREFIX = "answer-"  # a question's field is named by its id after this: no clash with FIELDS
HONEYPOT = "leave_empty"  # a name no browser autofill maps to anything
PER_ADDRESS = (5, 3600.0)  # submissions, seconds: a person retrying a typo is well inside it
PER_CLIENT = (60, 3600.0)  # a campus or an office behind one address registers together
MAX_KEYS = 100_000  # addresses and clients a throttle remembers: a few MB at most
CONFIRM_WITHIN = 1800  # seconds a "press Register again" form stays good
FORM_WITHIN = 24 * 3600  # seconds a form's token stays good: a tab left open over night
FORM_TOKEN = "form_token"
SOURCE = "source"  # where a visitor came from: `/register/SLUG?source=newsletter`, kept through the form
SAME_SITE_FETCHES = ("same-origin", "none")  # `none`: the person typed the address or chose a bookmark


class Throttle:
    """At most `limit` events per key within `window` seconds (a sliding window, in memory:
    waitress serves one process, and a restart forgetting the counts is harmless)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + window

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False when it is over the limit (then it is not counted)."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return False
            seen.append(now)
            return True

    def _sweep(self, now: float) -> None:
        # Keys seen once and never again would pile up: once a window, forget the quiet ones,
        # and never hold more than MAX_KEYS (the oldest go first).
        if now >= self._next_sweep or len(self._seen) > MAX_KEYS:
            self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > now - self.window}
            for key in list(self._seen)[: max(0, len(self._seen) - MAX_KEYS)]:
                del self._seen[key]
            self._next_sweep = now + self.window

    def __len__(self) -> int:
        return len(self._seen)

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again."""
        with self._lock:
            seen = self._seen.get(key)
            return max(1, int(seen[0] + self.window - self.clock()) + 1) if seen else 1


def registration_blueprint(
    open_store: Callable[[], Store],
    secret_key: str,
    clock: Callable[[], datetime] = times.utc_now,
    per_address: Throttle | None = None,
    per_client: Throttle | None = None,
    public_origin: str | None = None,
) -> Blueprint:
    """The pages under /register/ (and /r/ID, the local provider's registration link).
    `public_origin` is the site browsers show the pages on (Settings.public_origin); None
    compares a submission's Origin with the request's Host instead."""
    pages = Blueprint("registration", __name__)
    per_address = per_address or Throttle(*PER_ADDRESS)
    per_client = per_client or Throttle(*PER_CLIENT)

    @pages.get("/r/<provider_webinar_id>")
    def local_link(provider_webinar_id: str) -> Response:
        with open_store() as db:
            webinar = db.webinar_by_provider_id("local", provider_webinar_id)
        if webinar is None:
            abort(404)
        source = {SOURCE: found} if (found := _source(request.args.get(SOURCE))) else {}
        return redirect(url_for("registration.form", slug=webinar.slug, **source), 302)

    @pages.get("/register/<slug>")
    def form(slug: str) -> Response:
        with open_store() as db:
            webinar = _open_webinar(db, slug, clock())
            if isinstance(webinar, Response):
                return webinar
            values = {"language": _preferred_language(webinar), SOURCE: _source(request.args.get(SOURCE))}
            return _form_page(webinar, values, {}, _form_token(secret_key, slug, clock()), full=_is_full(db, webinar))

    @pages.post("/register/<slug>")
    def submit(slug: str) -> Response:
        values = {name: request.form.get(name, "")[:500] for name in FIELDS}
        values[SOURCE] = _source(request.form.get(SOURCE) or request.args.get(SOURCE))
        form_token = _form_token(secret_key, slug, clock())
        with open_store() as db:
            webinar = _open_webinar(db, slug, clock())
            if isinstance(webinar, Response):
                return webinar
            if not _from_our_own_page(secret_key, slug, public_origin, clock()):
                log.info("registration page: refused a form for %s not sent from its own page", slug)
                return _cross_site(slug)
            # The limits come first: every submission counts, a bot's that fills the honeypot too.
            address_key = "address:" + values["email"].strip().lower()
            client_key = "client:" + (request.remote_addr or "?")
            for throttle, key in ((per_client, client_key), (per_address, address_key)):
                if not throttle.allow(key):
                    return _too_many(throttle.retry_after(key))
            if request.form.get(HONEYPOT) and not _confirmed(secret_key, slug, values["email"], clock()):
                # Filled by a bot, or by a browser's autofill: ask once more rather than lose a
                # person; the second form carries a signed mark that lets it through.
                log.info("registration page: the hidden field was filled for %s; asked to confirm", slug)
                mark = _confirm_mark(secret_key, slug, values["email"], clock())
                return _form_page(webinar, {**values, **_typed(_answers(webinar))}, {}, form_token, confirm=mark)
            answers = _answers(webinar)
            try:
                person, outcome = register_online(
                    db, webinar, values, clock(), zones=time_zones(), answers=answers, source=values[SOURCE] or None
                )
            except InputError as exc:
                problems: dict[str, str] = {}
                for problem in exc.problems:  # the first of each field: a page shows one at a time
                    problems.setdefault(_field_name(webinar, problem.field), _problem_text(webinar, problem))
                full = _is_full(db, webinar)
                return _form_page(webinar, {**values, **_typed(answers)}, problems, form_token, status=422, full=full)
            waitlisted = _on_the_waitlist(db, webinar, person.email, outcome)
        return _done_page(webinar, person.first_name, person.email, waitlisted)

    return pages


def _answers(webinar: WebinarRecord) -> dict[str, str]:
    """The submitted answers to the webinar's questions, by question id; an unticked checkbox
    sends nothing, which is "no"."""
    answers = {}
    for question in _answered(webinar):
        value = request.form.get(ANSWER_PREFIX + question.id, "")[:500]
        answers[question.id] = value or ("no" if question.type == "checkbox" else "")
    return answers


def _answered(webinar: WebinarRecord) -> list[RegistrationQuestion]:
    """The questions with answers of their own: the others ask for a field of the form."""
    return [q for q in webinar.definition.registration.questions if not q.person_field]


def _asked_fields(webinar: WebinarRecord) -> dict[str, bool]:
    """The person's own fields the questions ask for (`organisation`, …), and whether required."""
    return {q.person_field: q.required for q in webinar.definition.registration.questions if q.person_field}


@cache
def countries() -> tuple[tuple[str, str], ...]:
    """(code, English name) of each country a registrant may give, by name."""
    from babel import Locale

    names = Locale("en").territories
    return tuple(sorted(((code, names.get(code, code)) for code in validate.countries()), key=lambda pair: pair[1]))


def _typed(answers: dict[str, str]) -> dict[str, str]:
    """The answers under their fields' names, to fill the form in again."""
    return {ANSWER_PREFIX + key: value for key, value in answers.items()}


def _field_name(webinar: WebinarRecord, field: str | None) -> str | None:
    """The form's name for the field a problem is about: a question's id gets its prefix."""
    question = webinar.definition.registration.question(field or "")
    if question is not None and not question.person_field:
        return ANSWER_PREFIX + field
    return field


def _open_webinar(db: Store, slug: str, now: datetime) -> WebinarRecord | Response:
    webinar = db.find_webinar(slug)
    if webinar is None:
        abort(404)
    if webinar.cancelled_at:
        return _closed(webinar, "This webinar was cancelled, so registration is closed.")
    if now >= webinar.definition.end:
        return _closed(webinar, "This webinar has taken place, so registration is closed.")
    window = webinar.definition.registration.window(now)
    if window == "closed":
        return _registration_page(webinar, "registration_closed.html", webinar.definition.registration.closes, 410)
    if window == "not_open":
        # Nothing to fix for the visitor but the date: a page to come back to, and a refused form.
        status = 200 if request.method == "GET" else 403
        return _registration_page(webinar, "not_open.html", webinar.definition.registration.opens, status)
    return webinar


def _source(value: str | None) -> str:
    """Where the visitor came from, as validate.tracking_source keeps it; anything else is
    dropped (the visitor did not write it and cannot fix it), never shown or trusted."""
    try:
        return validate.tracking_source(value) if value else ""
    except ValueError:
        log.info("registration page: dropped a source that is not a short token")
        return ""


def _registration_page(webinar: WebinarRecord, template: str, moment: datetime, status: int) -> Response:
    """The page that says when registration opens, or that it closed, on the event's clock and
    (by register.js) the visitor's."""
    zone_name = webinar.definition.time_zone
    shown = {"text": times.format_moment(moment, zone_name), "iso": times.iso_utc(moment)}
    page = render_template(template, webinar=_shown(webinar), moment=shown)
    return Response(page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _form_page(
    webinar: WebinarRecord,
    values: dict,
    problems: dict,
    form_token: str,
    confirm: str | None = None,
    status: int = 200,
    full: bool = False,
) -> Response:
    """The form, filled with what was typed: never cached, since it can show a person's address."""
    page = render_template(
        "register.html",
        confirm=confirm,
        form_token=form_token,
        form_token_name=FORM_TOKEN,
        webinar=_shown(webinar),
        values=values,
        problems=problems,
        zones=time_zones(),
        questions=[_question_shown(q) for q in _answered(webinar)],
        asked=_asked_fields(webinar),
        countries=countries() if "country" in _asked_fields(webinar) else (),
        languages=[(tag, languages.display_name(tag)) for tag in webinar.definition.languages_offered()],
        honeypot=HONEYPOT,
        full=full,
    )
    return Response(page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _preferred_language(webinar: WebinarRecord) -> str:
    """The offered language the browser asks for first (Accept-Language), else the webinar's."""
    d = webinar.definition
    offered = d.languages_offered()
    wanted = request.accept_languages.best_match(offered)
    return wanted or languages.fallback_language(offered, d.language)


def _is_full(db: Store, webinar: WebinarRecord) -> bool:
    """Whether a newcomer signing up now would be waitlisted: automatic approval, and no seat left."""
    if webinar.definition.registration.capacity is None or webinar.definition.provider.approval != "automatic":
        return False
    return db.seats(webinar.id).free == 0


def _on_the_waitlist(db: Store, webinar: WebinarRecord, email: str, outcome: str) -> bool:
    """Whether the page says the webinar is full and they are on the waitlist. For someone
    registered before, it says so whenever the webinar is full, as it would to a newcomer:
    the page must not tell a stranger who typed an address whether that person is registered."""
    if outcome == "already registered":
        return _is_full(db, webinar)
    if webinar.definition.registration.capacity is None:
        return False
    row = db.registrant(webinar.id, email)
    return row is not None and row.is_waitlisted


def _done_page(webinar: WebinarRecord, first_name: str, email: str, waitlisted: bool = False) -> Response:
    waits = webinar.definition.provider.approval != "automatic"
    page = render_template(
        "registered.html",
        webinar=_shown(webinar),
        first_name=first_name,
        email=email,
        waits=waits,
        waitlisted=waitlisted,
    )
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})  # it shows the address


def _from_our_own_page(secret_key: str, slug: str, public_origin: str | None, now: datetime) -> bool:
    """Whether this submission comes from the registration page on our own site, as far as
    the browser says (Sec-Fetch-Site, Origin) or, when it says nothing, by the form's token."""
    return sent_from_our_site(
        public_origin,
        lambda: form_token_holds(request.form.get(FORM_TOKEN, ""), now, secret_key, "register-form", slug),
    )


def sent_from_our_site(public_origin: str | None, token_holds: Callable[[], bool]) -> bool:
    """Whether the form being posted was sent from one of our own pages, as far as the browser
    says (Sec-Fetch-Site, Origin); when it says neither, whether `token_holds()`: the form's
    signed token (`form_token`) was made for this client. Any page's form (the registration
    page, web.py's cancel page) is checked by this one rule."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if origin is not None and origin.strip() == "null":
        # Our pages' Referrer-Policy: no-referrer makes browsers write `null` for our own form
        # too (as for a sandboxed frame anywhere): it tells nothing, the other signs decide.
        origin = None
    if fetch_site is not None and fetch_site.strip().lower() not in SAME_SITE_FETCHES:
        return False
    if origin is not None:
        sender = web_origin(origin)
        return sender is not None and sender == _our_origin(origin, public_origin)
    if fetch_site is not None:
        return True
    return token_holds()


def form_token(secret_key: str, now: datetime, purpose: str, *subject: str) -> str:
    """A form's token for this visitor: another site can neither read it (the browser keeps
    our page from it) nor fetch one that holds for the visitor's address."""
    return _signed_stamp(now, secret_key, purpose, *subject, _client())


def form_token_holds(value: str, now: datetime, secret_key: str, purpose: str, *subject: str) -> bool:
    """Whether `value` is a `form_token` of `subject` for this visitor, made within FORM_WITHIN."""
    return _signed_in_time(value, now, FORM_WITHIN, secret_key, purpose, *subject, _client())


def _our_origin(origin: str, public_origin: str | None) -> str | None:
    # Without a configured public site, the one the browser asked: the Host it sent, read
    # with the Origin's own scheme (behind a proxy the request's scheme may be http).
    if public_origin:
        return public_origin
    return web_origin(f"{urlsplit(origin).scheme}://{request.host}")


def _client() -> str:
    """The visitor's address (behind WEBINAR_OPS_TRUSTED_PROXY, the one it names)."""
    return request.remote_addr or "?"


def _form_token(secret_key: str, slug: str, now: datetime) -> str:
    """The registration form's token for this visitor (see `form_token`)."""
    return form_token(secret_key, now, "register-form", slug)


def _confirm_mark(secret_key: str, slug: str, email: str, now: datetime) -> str:
    return _signed_stamp(now, secret_key, "register-again", slug, email.strip().lower())


def _confirmed(secret_key: str, slug: str, email: str, now: datetime) -> bool:
    """Whether the form carries the mark of a "press Register again" form, for this address,
    made within CONFIRM_WITHIN seconds."""
    mark = request.form.get("confirm", "")
    return _signed_in_time(mark, now, CONFIRM_WITHIN, secret_key, "register-again", slug, email.strip().lower())


def _signed_stamp(now: datetime, secret_key: str, purpose: str, *subject: str) -> str:
    """`UNIXTIME.SIGNATURE`: a signature of `subject` that holds for a while from `now`."""
    stamp = str(int(now.timestamp()))
    return f"{stamp}.{tokens.sign(secret_key, purpose, *subject, stamp)}"


def _signed_in_time(value: str, now: datetime, within: int, secret_key: str, purpose: str, *subject: str) -> bool:
    """Whether `value` is a `_signed_stamp` of `subject` made at most `within` seconds ago."""
    stamp, _, signature = value.partition(".")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):  # a Unix time, not 400 nines
        return False
    if not 0 <= now.timestamp() - int(stamp) <= within:
        return False
    return tokens.verify(secret_key, signature, purpose, *subject, stamp)


def _cross_site(slug: str) -> Response:
    page = render_template("cross_site.html", form=url_for("registration.form", slug=slug))
    return Response(page, status=403, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _closed(webinar: WebinarRecord, why: str) -> Response:
    page = render_template("closed.html", webinar=_shown(webinar), why=why)
    return Response(page, status=410, mimetype="text/html")


def _too_many(retry_after: int) -> Response:
    page = render_template("too_many.html", minutes=max(1, round(retry_after / 60)))
    return Response(page, status=429, mimetype="text/html", headers={"Retry-After": str(retry_after)})


def _shown(webinar: WebinarRecord) -> dict:
    """What the pages show of a webinar: its words, and its instants for the visitor's clock."""
    d = webinar.definition
    return {
        "slug": webinar.slug,
        "title": d.title,
        "series": d.series,
        "session": d.session,
        "description": [part.strip() for part in (d.description or "").split("\n\n") if part.strip()],
        "when": times.format_span(d.start, d.end, d.time_zone),
        "zone": d.time_zone,
        "zone_label": times.zone_label(d.time_zone),
        "start": times.iso_utc(d.start),
        "end": times.iso_utc(d.end),
        "agenda": [
            {
                "time": times.format_clock_span(item.start, item.end, d.time_zone),
                "start": times.iso_utc(item.start),
                "end": times.iso_utc(item.end) if item.end else "",
                "title": item.title,
                "speakers": [speaker.describe() for speaker in item.speakers],
            }
            for item in d.agenda
        ],
        "moderator": d.moderator.describe() if d.moderator else None,
    }


def _question_shown(question: RegistrationQuestion) -> dict:
    """What the form shows of one question: its field's name, the organiser's words, its kind."""
    return {
        "name": ANSWER_PREFIX + question.id,
        "text": question.text,
        "type": question.type,
        "choices": list(question.choices),
        "required": question.required,
    }


def _problem_text(webinar: WebinarRecord, problem: Problem) -> str:
    """`The first name is empty. Write …`: what is wrong with one answer, and the fix."""
    what = problem.message
    question = webinar.definition.registration.question(problem.field or "")
    if question is not None and not question.person_field:
        what = f"“{question.text}” {what}" if what.startswith(("is ", "must ")) else f"“{question.text}”: {what}"
    elif what.startswith("is "):
        what = f"{_label(problem.field)} {what}"
    else:
        what = wording.upper_first(what)
    return f"{what}. {wording.upper_first(problem.fix)}." if problem.fix else f"{what}."


def _label(field: str | None) -> str:
    return {
        "first_name": "The first name",
        "last_name": "The last name",
        "email": "The email address",
        "organisation": "The organisation",
        "job_title": "The job title",
        "country": "The country",
        "time_zone": "The time zone",
        "language": "The language",
    }.get(field or "", "This answer")


@cache
def time_zones() -> tuple[str, ...]:
    """The zones a visitor can choose: UTC and IANA's zone of each place (its zone.tab, one or
    more a country), without the old aliases such as US/Eastern."""
    table = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    names = {line.split("\t")[2] for line in table.splitlines() if line and not line.startswith("#")}
    return ("UTC", *sorted(names))
