"""Zoom webhooks: registrations made or decided on Zoom's side, taken in at once.

`webinar-ops serve` answers `POST /zoom/webhook` with `receive`. Zoom posts an event when
someone registers on its own page (`webinar.registration_created`) or the host approves,
denies or cancels a registration there. Each event changes the registrant by the same rules
as the pull of `sync` (`sync.pulled_row`, `sync.remote_changes`), and the webinar is planned
at once: a new or newly approved registrant's confirmation falls due now, and a cancelled or
denied one's unsent mail is skipped. A pending registrant gets nothing until approved. The
regular sync still pulls the same facts; a webhook only brings them sooner.

Trust. Every request, `endpoint.url_validation` included, must carry Zoom's signature:
`x-zm-signature` = `v0=` + hex HMAC-SHA256 under the app's secret token of
`v0:{x-zm-request-timestamp}:{the raw body}`, compared in constant time, with a timestamp
within five minutes of now. Anything else gets 401 and changes nothing. The validation is
signed too because its answer is an HMAC of text the caller chooses: answered unsigned, it
would sign `v0:{timestamp}:{any event}` for whoever asked.

Answers. Zoom retries any answer but a 2xx, so an event that can never apply here (a webinar
webinar-ops does not hold, an event it does not use, an address it cannot use) is
acknowledged with 200 and logged, without personal data. A signed body that is not the JSON
Zoom sends gets 400. A database that cannot take the write gives 500, and Zoom's retry
brings the event again. Events may come twice or out of order (Zoom retries): each
registrant keeps the time of the newest event applied to it, and an event no newer changes
nothing.

Flask stays in web.py; this module only sees headers, bytes and a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webinar_ops import languages, plan, sync, validate
from webinar_ops.config import Settings
from webinar_ops.providers import RemoteRegistrant
from webinar_ops.store import REGISTRANT_STATUSES, Store, WebinarRecord

log = logging.getLogger("webinar_ops.webhooks")

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
MAX_SKEW = timedelta(minutes=5)  # Zoom's advice against replays: older or newer is refused
MAX_BODY_BYTES = 64 * 1024  # a registration event is about 1 KB
URL_VALIDATION = "endpoint.url_validation"
# Event -> the status it gives the registrant; None: the registrant's own `status` says.
REGISTRATION_EVENTS = {
    "webinar.registration_created": None,
    "webinar.registration_approved": "approved",
    "webinar.registration_cancelled": "cancelled",
    "webinar.registration_denied": "denied",
}
ARRIVING = ("pending", "approved")  # someone unknown here is added only in these
NOT_CONFIGURED = (
    "Zoom webhooks are not configured: set ZOOM_WEBHOOK_SECRET_TOKEN to the Secret Token of the Zoom app "
    "and restart `webinar-ops serve` (see docs/zoom.md, 'Zoom webhooks')."
)


@dataclass(frozen=True)
class Answer:
    """The HTTP status and JSON body to answer Zoom with."""

    status: int
    body: dict


class Refused(Exception):
    """A request refused before anything was read from it or changed: `status` and a reason
    that holds neither the secret nor anything personal."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class RegistrationEvent:
    """One registration event as Zoom sent it, checked for shape."""

    name: str
    webinar_id: str  # Zoom's webinar id, as the store keeps it: decimal text
    registrant_id: str
    email: str
    first_name: str | None
    last_name: str | None
    status: str | None  # None: decided by the webinar's approval setting
    join_url: str | None
    at: datetime | None  # Zoom's event_ts
    language: str | None = None  # the registrant's language on Zoom's form, as a tag we keep

    def registrant(self, status: str) -> RemoteRegistrant:
        """The registrant as sync.py takes people in from the provider."""
        return RemoteRegistrant(
            email=self.email,
            first_name=self.first_name or "",
            last_name=self.last_name,
            status=status,
            registrant_id=self.registrant_id,
            join_url=self.join_url,
            language=self.language,
        )


# -- the signature -----------------------------------------------------------------------------


def signature(secret_token: str, timestamp: str, body: bytes) -> str:
    """Zoom's `x-zm-signature` for `body` sent with `timestamp`."""
    message = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret_token.encode("utf-8"), message, hashlib.sha256).hexdigest()


def check_signature(secret_token: str, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    """Raise Refused (401) unless `body` is signed with `secret_token` and its timestamp is
    within five minutes of `now`. `headers` may be any mapping; names are matched in any case."""
    named = {key.lower(): value for key, value in headers.items()}
    given, stamp = named.get(SIGNATURE_HEADER), named.get(TIMESTAMP_HEADER)
    if not given or not stamp:
        raise Refused(401, f"the request is not signed: {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    expected = signature(secret_token, stamp, body)
    # Bytes, because compare_digest refuses str that is not ASCII, and a header may be anything.
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
        raise Refused(401, "the signature does not match the request")
    sent_at = _header_time(stamp)
    if sent_at is None:
        raise Refused(401, f"{TIMESTAMP_HEADER} is not a time")
    if abs(now - sent_at) > MAX_SKEW:
        raise Refused(401, f"{TIMESTAMP_HEADER} is more than {MAX_SKEW.seconds // 60} minutes from now")


def _header_time(stamp: str) -> datetime | None:
    """Zoom's timestamp: seconds since the epoch (read as milliseconds when it has 13 digits,
    in case Zoom ever sends those, as it does in `event_ts`)."""
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 13:
        return None
    number = int(stamp)
    try:
        return datetime.fromtimestamp(number / 1000 if len(stamp) == 13 else number, UTC)
    except (ValueError, OverflowError, OSError):  # a year past 9999: no time at all
        return None


def url_validation_answer(secret_token: str, plain_token: str) -> dict:
    """The answer to Zoom's `endpoint.url_validation`, which proves we hold the secret token."""
    encrypted = hmac.new(secret_token.encode("utf-8"), plain_token.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


# -- one request -------------------------------------------------------------------------------


def receive(
    settings: Settings, headers: Mapping[str, str], body: bytes, now: datetime, open_store: Callable[[], Store]
) -> Answer:
    """Answer one POST to /zoom/webhook: check it came from Zoom, then answer the URL
    validation or apply the registration event. The store is opened only for a signed event."""
    secret_token = settings.zoom_webhook_secret_token
    if not secret_token:
        return Answer(503, {"error": NOT_CONFIGURED})
    try:
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        check_signature(secret_token, headers, body, now)
        event = _json_object(body)
        name = event.get("event")
        if name == URL_VALIDATION:
            return Answer(200, url_validation_answer(secret_token, _plain_token(event)))
        if name not in REGISTRATION_EVENTS:
            log.info("Zoom webhook %s acknowledged and ignored: webinar-ops does not use it", _shown(name))
            return Answer(200, {"status": "ignored", "reason": "webinar-ops does not use this event"})
        registration = registration_event(event)
    except Refused as exc:
        log.warning("Zoom webhook refused (%s): %s", exc.status, exc.reason)
        return Answer(exc.status, {"error": exc.reason})
    with open_store() as store:
        outcome = apply_registration(store, registration, now, settings.mail_domain)
    log.info("Zoom webhook %s for Zoom webinar %s: %s", registration.name, registration.webinar_id, outcome)
    status, _, reason = outcome.partition(": ")
    return Answer(200, {"status": status, **({"reason": reason} if reason else {})})


def _json_object(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "the body is not JSON") from exc
    if not isinstance(event, dict):
        raise Refused(400, "the body is not a JSON object")
    return event


def _plain_token(event: dict) -> str:
    payload = event.get("payload")
    token = payload.get("plainToken") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not 0 < len(token) <= 256:
        raise Refused(400, "endpoint.url_validation carries no payload.plainToken")
    return token


def _shown(name: object) -> str:
    """An event name fit for a log line: signed by Zoom, but still not ours to trust."""
    return repr(name)[:80]


def registration_event(event: dict) -> RegistrationEvent:
    """The registration event in Zoom's envelope; Refused (400) names what is missing."""
    payload = event.get("payload")
    webinar = payload.get("object") if isinstance(payload, dict) else None
    if not isinstance(webinar, dict):
        raise Refused(400, "the event has no payload.object")
    person = webinar.get("registrant")
    if not isinstance(person, dict):
        raise Refused(400, "the event has no payload.object.registrant")
    webinar_id, registrant_id, email = webinar.get("id"), person.get("id"), person.get("email")
    if isinstance(webinar_id, bool) or not (isinstance(webinar_id, int) or _is_decimal(webinar_id)):
        raise Refused(400, "payload.object.id is not a Zoom webinar id")
    if not isinstance(registrant_id, str) or not registrant_id.strip():
        raise Refused(400, "payload.object.registrant.id is missing")
    if not isinstance(email, str) or not email.strip():
        raise Refused(400, "payload.object.registrant.email is missing")
    given_status = person.get("status")
    return RegistrationEvent(
        name=event["event"],
        webinar_id=str(int(webinar_id)),
        registrant_id=registrant_id.strip(),
        email=email,
        first_name=_text_or_none(person.get("first_name")),
        last_name=_text_or_none(person.get("last_name")),
        status=REGISTRATION_EVENTS[event["event"]] or (given_status if given_status in REGISTRANT_STATUSES else None),
        join_url=_link_or_none(person.get("join_url")),
        at=_event_time(event.get("event_ts")),
        language=languages.from_provider(person.get("language")),
    )


def _is_decimal(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _link_or_none(value: object) -> str | None:
    """The join link, when it is one: it goes into the person's mail as it stands."""
    try:
        return validate.url(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _event_time(value: object) -> datetime | None:
    """Zoom's `event_ts`, in milliseconds since the epoch."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**14:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


# -- the change --------------------------------------------------------------------------------


def apply_registration(store: Store, event: RegistrationEvent, now: datetime, domain: str) -> str:
    """Change the registrant as `event` says, then plan the webinar's mail, in one transaction.

    Returns the outcome, without personal data: `created`, `updated`, `unchanged`, or
    `ignored: why` (no such webinar here, a cancelled webinar, an event already applied...).
    """
    if event.at and event.at > now + MAX_SKEW:
        # A time far ahead would make every later event for this person look older.
        return "ignored: the event's time is in the future"
    with store.transaction():
        webinar = store.webinar_by_provider_id("zoom", event.webinar_id)
        if webinar is None:
            return "ignored: no webinar here has this Zoom webinar id"
        if webinar.cancelled_at:
            return "ignored: the webinar is cancelled"
        outcome = _take_in(store, webinar, event, now)
        if outcome in ("created", "updated"):
            plan.plan_webinar(store, webinar, now, domain)
    return outcome


def _take_in(store: Store, webinar: WebinarRecord, event: RegistrationEvent, now: datetime) -> str:
    remote = event.registrant(event.status or webinar.definition.provider.signup_status)
    email = sync.provider_address(remote)
    if email is None:
        return f"ignored: {sync.UNUSABLE_ADDRESS}"
    row = _held(store, webinar, remote.registrant_id, email)
    stamp = {"provider_event_at": _event_stamp(event.at)} if event.at else {}
    if row is None:
        if remote.status not in ARRIVING and not stamp:
            return f"ignored: nobody here to mark {remote.status}"
        # Kept even when cancelled or denied, with the event's time: the sign-up that came
        # before it, retried by Zoom and arriving late, must not register them.
        store.add_registrants([{**sync.pulled_row(webinar, email, remote), **stamp}], now)
        return "created"
    if stamp and row["provider_event_at"] and row["provider_event_at"] >= stamp["provider_event_at"]:
        return "ignored: this event or a newer one was applied already"
    changes = sync.remote_changes(row, remote)
    store.update_registrant(row["id"], {**changes, **stamp}, now)
    return "updated" if changes else "unchanged"


def _held(store: Store, webinar: WebinarRecord, registrant_id: str, email: str) -> dict | None:
    """The registrant Zoom means: by Zoom's registrant id, else by address."""
    rows = store.registrants(webinar.id, "provider_registrant_id = ?", [registrant_id])
    return rows[0] if rows else store.registrant(webinar.id, email)


def _event_stamp(at: datetime) -> str:
    """Like times.iso_utc, with milliseconds: two events may come within one second."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
