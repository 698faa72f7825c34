"""Zoom webhooks: registrations made or decided on Zoom's side, taken in at once.

`webinar-ops serve` answers `POST /zoom/webhook` with `receive` (the route is the plugin's,
plugin.py). Zoom posts an event when someone registers on its own page
(`webinar.registration_created`) or the host approves, denies or cancels a registration
there. Each event is applied by the core (`webinar_ops.webhooks.apply_registration`), by the
same rules as the pull of `sync`, and the webinar is planned at once: a new or newly approved
registrant's confirmation falls due now, and a cancelled or denied one's unsent mail is
skipped. A pending registrant gets nothing until approved. The regular sync still pulls the
same facts; a webhook only brings them sooner.

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

Flask stays in plugin.py; this module only sees headers, bytes and a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webinar_ops import languages, validate
from webinar_ops.providers.zoom.settings import ZoomSettings
from webinar_ops.store import REGISTRANT_STATUSES, Store
from webinar_ops.webhooks import RegistrationEvent, apply_registration

log = logging.getLogger("webinar_ops.webhooks")  # the name organisers filter on, kept from before the plugins

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
    settings: ZoomSettings,
    mail_domain: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    open_store: Callable[[], Store],
) -> Answer:
    """Answer one POST to /zoom/webhook: check it came from Zoom, then answer the URL
    validation or apply the registration event. The store is opened only for a signed event."""
    secret_token = settings.webhook_secret_token
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
        outcome = apply_registration(store, registration, now, mail_domain)
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
        provider="zoom",
        provider_title="Zoom",
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
