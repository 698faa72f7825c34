"""The local Zoom: a real HTTP server on loopback that answers like Zoom's REST API v2.

`FakeZoom` serves Server-to-Server OAuth (`POST /oauth/token`) and the webinar, registrant and
panelist operations under `/v2` with Zoom's own shapes, error codes and headers, so the `zoom` provider
can be pointed at it (ZOOM_API_BASE_URL, ZOOM_OAUTH_URL) without knowing. It keeps Zoom's rate
limits per plan and category, the per-registrant and per-host daily caps, and can be told to
misbehave: 5xx replies, slow replies, dropped connections, and a batch that is applied but
whose answer is lost. Tests run it in a thread; `webinar-ops fake-zoom` runs it in the
foreground for demos. The server uses only the standard library.

Beyond Zoom, `/_fake/...` lets a test or another process steer it (no token needed):

    POST /_fake/webinars/{id}/registrants   someone signs up on Zoom's own registration page
    POST /_fake/webinars/{id}/participants  someone spent a while in the webinar (one session)
    POST /_fake/webinars/{id}/end           the host ends the webinar (now, or `at`)
    GET  /_fake/faults                      the current faults
    POST /_fake/faults                      change faults (the fields of `Faults`, plus `seed`, `reset`)
    GET  /_fake/state                       webinars, registrants and counters as JSON
    POST /_fake/expire-tokens               every access token expires now

With `webhook_url` and `webhook_secret_token`, it also sends Zoom's webhooks there, signed as
Zoom signs them (`x-zm-signature`, `x-zm-request-timestamp` from its clock): a
`webinar.registration_created` for each sign-up on Zoom's page, and
`webinar.registration_approved|denied|cancelled` for each decision the host takes on Zoom's
site (`decide_on_zoom_site`). Zoom does not say which fields each event's registrant has: the
fake sends a created registrant's status and join link, an approved one's join link, and
only the id, names and address for a denial or a cancellation. Registrations made through
the API send no webhook here. Each one sent, with its bytes and the answer, is kept in
`webhooks_sent`, so a test can replay it.

Where Zoom's documentation is silent the fake has to choose; each choice is marked "Zoom does
not say" where it is made. The main ones:

- A batch with one address over its 3-a-day cap is refused whole (429 Daily-limit) and nobody
  in it is registered. Re-adding an address counts towards the cap like a first add, and a
  refused call does not count.
- Re-adding an address already registered returns the existing registrant (same id and join
  link); if it had been denied or cancelled, the new sign-up re-opens it.
- "cancel" puts an approved registrant in "denied", as Zoom's listings show it.
- A status update naming someone the webinar does not hold, or denying an approved
  registration (its approval is cancelled instead), is refused whole and changes nobody.
- A webinar's registration form (registrants/questions) starts with nothing beyond email and
  first name. A single add and a sign-up on Zoom's page must answer what the form requires,
  and a single-choice question with one of its answers; a batch, whose entries carry no
  answers, is not held to the form.
- Per-second limits are counted in a sliding one-second window of arrivals, per category, per
  account: stricter than fixed windows, which let twice the rate through across a boundary.
- After the end, the participant lists (past_webinars participants and absentees, and the
  report API's participants) answer Zoom's 3001 "Meeting ID is invalid or not end." until
  `report_delay` seconds have passed: Zoom does not say how long it takes to prepare them,
  only that they are there once the webinar has ended. Before the end they answer the same.
- Past webinars' participants list the registrant id of each session by a registrant; the
  report API lists it only when asked (`include_fields=registrant_id`), as its document says.
  Only numeric webinar ids are taken there, not the UUIDs Zoom also takes.
- An account whose plan does not list past webinars' participants (`past_participants=False`)
  is refused them and their absentees with Zoom's 400, code 200 "No permission."; the report
  API still serves it, given the scope report:read:admin.
- Panelists are kept by address, apart from registrants. Adding an address that is a panelist
  already gives back that panelist (same id, same join link) with the name now given, and
  counts as no new panelist; Zoom does not say. A request naming one address twice, with no
  panelists, more than 30, or an entry without an address or a name is refused whole with
  Zoom's validation failure (300). A name is held to 64 characters, and to 12 when it holds
  Chinese characters, as the document says. A webinar takes at most 100 panelists (Zoom's
  usual licence): a request that would pass that is refused whole with the document's 3000.
  Removing a panelist the webinar does not hold answers the document's 404 (code 1001). While
  the webinar's `panelists_invitation_email_notification` is on, each new panelist counts as
  an invitation Zoom mailed (`panelist_invitations`).
- Faults hit only the API under /v2, never OAuth or /_fake. A 5xx or a dropped connection
  happens before the request is looked at, so nothing is applied; "slow" waits before the
  request is handled.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import random
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LIGHT, MEDIUM, HEAVY = "Light", "Medium", "Heavy"

# Requests per second per category, by plan (Zoom's published table).
PER_SECOND = {
    "free": {LIGHT: 4, MEDIUM: 2, HEAVY: 1},
    "pro": {LIGHT: 30, MEDIUM: 20, HEAVY: 10},
    "business": {LIGHT: 80, MEDIUM: 60, HEAVY: 40},
}
# Requests per UTC day per category. On Pro and Business only Heavy has a cap, which Zoom
# shares with other resource-intensive calls that this fake does not serve.
PER_DAY = {
    "free": {LIGHT: 6000, MEDIUM: 2000, HEAVY: 1000},
    "pro": {HEAVY: 30000},
    "business": {HEAVY: 60000},
}
HOST_WRITES_PER_DAY = 100  # creates and updates of webinars, per host
ADDS_PER_REGISTRANT_PER_DAY = 3  # add or batch, per address and webinar
STATUS_UPDATES_PER_REGISTRANT_PER_DAY = 10
BATCH_LIMIT = 30
STATUS_LIMIT = 30
PANELISTS_PER_CALL = 30  # the add-panelists body's `maximum: 30`
PANELISTS_PER_WEBINAR = 100  # Zoom's usual licence; larger ones allow more
PANELIST_NAME_LIMIT = 64
PANELIST_CHINESE_NAME_LIMIT = 12  # "cannot exceed more than 12 Chinese characters"
PANELIST_LIMIT_MESSAGE = (
    "You have reached the limit for the number of panelists you can add. Contact Zoom Support for more information."
)
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 30, 300
PAGE_TOKEN_LIFETIME = 15 * 60
TOPIC_LIMIT, AGENDA_LIMIT, PASSWORD_LIMIT = 200, 2000, 10
SCOPE = "webinar:read:admin webinar:write:admin report:read:admin"
# How long after a webinar ends its participant lists answer; Zoom does not say.
REPORT_DELAY = 30 * 60
ADMIN_PREFIX = "/_fake/"

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
SERVER_ERRORS = {
    500: "Internal server error. Please try again later.",
    502: "Bad gateway. Please try again later.",
    503: "Service is temporarily unavailable. Please try again later.",
    504: "Gateway timeout. Please try again later.",
}


class ZoomRefusal(Exception):
    """A request Zoom would refuse: HTTP `status`, Zoom's `code` and `message`, and for a
    validation failure the `errors` per field. Raised by the Python API too."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"HTTP {status}, Zoom code {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.errors = errors or []
        self.headers = headers or {}

    def reply(self) -> Reply:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return Reply(self.status, body, dict(self.headers))


def _invalid(errors: list[dict]) -> ZoomRefusal:
    return ZoomRefusal(400, 300, "Validation Failed.", errors)


def _problem(name: str, message: str) -> dict:
    return {"field": name, "message": message}


@dataclass
class Reply:
    """What the server answers; `drop` closes the connection without answering at all."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    fault: str | None = None


@dataclass
class Incoming:
    """One request as the fake sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def parse(cls, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Incoming:
        parts = urlsplit(target)
        return cls(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), headers, body)

    def json_object(self) -> dict:
        """The body as a JSON object; an empty body is an empty object."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ZoomRefusal(400, 300, "Request Body should be a valid JSON object.")
        return value

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def logged_body(self) -> Any:
        if not self.body:
            return None
        kind = (self.headers.get("Content-Type") or "").lower()
        if "json" in kind:
            with contextlib.suppress(ValueError):
                return json.loads(self.body)
        if "x-www-form-urlencoded" in kind:
            return self.form()
        return self.body.decode("utf-8", "replace")


@dataclass
class LoggedRequest:
    """One entry of `FakeZoom.requests`. `status` is None when no answer was written
    (a dropped connection or a lost batch response); `fault` names the fault injected."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int | None = None
    fault: str | None = None
    tracking_id: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class SentWebhook:
    """One webhook the fake sent: the event, the exact bytes and headers, and the HTTP status
    of the answer (None when there was none)."""

    event: str
    body: bytes
    headers: dict[str, str]
    status: int | None


@dataclass
class Faults:
    """What goes wrong, and how often, on the API under /v2.

    Each fault has a probability per request (`*_rate`, from 0 to 1, drawn from the fake's
    seeded generator) and a countdown (`*_next`: the next N requests get it for sure). A
    request may be slow and then also fail. `lost_batch` hits only batch registrations: the
    people are registered, then the connection closes before the answer is written.
    `late_error` hits any write that Zoom applied: the change is made, then the answer is a
    5xx. `revoke` revokes the request's access token (Zoom's 401, code 124), as when an app's
    secret is rotated or its tokens are revoked. `bare_429` leaves out the rate-limit
    headers on 429 answers, as Zoom sometimes does.
    """

    error_rate: float = 0.0
    error_next: int = 0
    error_statuses: tuple[int, ...] = (500, 503)
    slow_rate: float = 0.0
    slow_next: int = 0
    slow_seconds: float = 2.0
    drop_rate: float = 0.0
    drop_next: int = 0
    lost_batch_rate: float = 0.0
    lost_batch_next: int = 0
    late_error_rate: float = 0.0
    late_error_next: int = 0
    revoke_rate: float = 0.0
    revoke_next: int = 0
    bare_429: bool = False

    def __post_init__(self) -> None:
        # Values may come from JSON (the admin endpoint) or a command line: normalise them.
        self.error_statuses = tuple(int(s) for s in self.error_statuses)
        self.bare_429 = bool(self.bare_429)
        for kind in FAULT_KINDS:
            rate, left = float(getattr(self, f"{kind}_rate")), int(getattr(self, f"{kind}_next"))
            if not 0.0 <= rate <= 1.0 or left < 0:
                raise ValueError(f"{kind}_rate must be between 0 and 1, and {kind}_next not negative")
            setattr(self, f"{kind}_rate", rate)
            setattr(self, f"{kind}_next", left)
        if not self.error_statuses or any(s not in SERVER_ERRORS for s in self.error_statuses):
            raise ValueError(f"error_statuses must be some of {sorted(SERVER_ERRORS)}")
        self.slow_seconds = float(self.slow_seconds)
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")


FAULT_KINDS = ("error", "slow", "drop", "lost_batch", "late_error", "revoke")
FAULT_FIELDS = frozenset(f.name for f in fields(Faults))


# -- what Zoom accepts --------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_WEBINAR_ID = re.compile(r"[0-9]{1,19}")
_INT64_MAX = 2**63 - 1

# Enumerations from the OpenAPI document (the add-registrant request's own lists).
_REGISTRANT_CHOICES = {
    "no_of_employees": (
        "",
        *"1-20|21-50|51-100|101-500|500-1,000|1,001-5,000|5,001-10,000|More than 10,000".split("|"),
    ),
    "purchasing_time_frame": ("", *"Within a month|1-3 months|4-6 months|More than 6 months|No timeframe".split("|")),
    "role_in_purchase_process": ("", *"Decision Maker|Evaluator/Recommender|Influencer|Not involved".split("|")),
    "language": tuple("en-US de-DE es-ES fr-FR jp-JP pt-PT ru-RU zh-CN zh-TW ko-KO it-IT vi-VN pl-PL Tr-TR".split()),
}
# Text fields of a registrant, with Zoom's length limits.
_REGISTRANT_TEXT = {
    "email": 128,
    "first_name": 64,
    "last_name": 64,
    **dict.fromkeys("address city state zip country phone comments industry job_title org source_id".split()),
}
# The optional fields Zoom lists for every registrant, blank when not given.
_REGISTRANT_BLANKS = tuple(
    "address city country zip state phone industry org job_title purchasing_time_frame role_in_purchase_process "
    "no_of_employees comments".split()
)
# The settings the fake keeps, by type; Zoom ignores the ones it does not know.
_SETTING_TYPES: dict[str, type] = {
    **dict.fromkeys("approval_type registration_type registrants_restrict_number".split(), int),
    **dict.fromkeys(
        "audio auto_recording survey_url contact_name contact_email email_language alternative_hosts "
        "authentication_option authentication_domains audio_conference_info".split(),
        str,
    ),
    **dict.fromkeys(
        "host_video panelists_video practice_session hd_video hd_video_for_attendees send_1080p_video_to_attendees "
        "on_demand allow_multiple_devices show_share_button close_registration registrants_email_notification "
        "registrants_confirmation_email post_webinar_survey alternative_host_update_polls meeting_authentication "
        "panelist_authentication add_watermark add_audio_watermark panelists_invitation_email_notification "
        "enable_session_branding".split(),
        bool,
    ),
    "global_dial_in_countries": list,
    **dict.fromkeys(
        "question_and_answer attendees_and_panelists_reminder_email_notification "
        "follow_up_absentees_email_notification follow_up_attendees_email_notification language_interpretation "
        "sign_language_interpretation".split(),
        dict,
    ),
}
_SETTING_CHOICES = {
    "approval_type": (0, 1, 2),
    "registration_type": (1, 2, 3),
    "audio": ("both", "telephony", "voip", "thirdParty"),
    "auto_recording": ("local", "cloud", "none"),
}
_WEBINAR_TYPES = (5, 6, 9)
APPROVE_AUTOMATICALLY, APPROVE_MANUALLY, NO_REGISTRATION = 0, 1, 2


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_type(value: Any, kind: type) -> bool:
    return _is_int(value) if kind is int else isinstance(value, kind)


def _check_text(body: dict, name: str, limit: int | None, problems: list, required: bool = False, at: str = "") -> None:
    value = body.get(name)
    if value is None or (required and value == ""):
        if required:
            problems.append(_problem(at + name, "This field is required."))
    elif not isinstance(value, str):
        problems.append(_problem(at + name, "Invalid field."))
    elif limit is not None and len(value) > limit:
        problems.append(_problem(at + name, f"Length must be less than or equal to {limit}."))
    elif name == "email" and not _EMAIL.fullmatch(value):
        problems.append(_problem(at + name, "Invalid field."))


def _registrant_fields(body: Any, at: str = "", problems: list | None = None) -> dict:
    """A registrant's fields as Zoom keeps them; raises the validation failure Zoom gives."""
    collect = problems if problems is not None else []
    if not isinstance(body, dict):
        collect.append(_problem(at.rstrip(".") or "registrant", "Invalid field."))
        body = {}
    for name, limit in _REGISTRANT_TEXT.items():
        _check_text(body, name, limit, collect, required=name in ("email", "first_name"), at=at)
    for name, choices in _REGISTRANT_CHOICES.items():
        if name in body and body[name] not in choices:
            collect.append(_problem(at + name, f"Must be one of: {', '.join(map(repr, choices))}."))
    _check_custom_questions(body.get("custom_questions"), collect, at)
    if problems is None and collect:
        raise _invalid(collect)
    known = (*_REGISTRANT_TEXT, *_REGISTRANT_CHOICES, "custom_questions")
    return {name: body[name] for name in known if body.get(name) is not None}


def _check_custom_questions(value: Any, problems: list, at: str) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(q, dict) for q in value):
        problems.append(_problem(at + "custom_questions", "Invalid field."))
        return
    for index, question in enumerate(value):
        _check_text(question, "title", None, problems, at=f"{at}custom_questions[{index}].")
        _check_text(question, "value", 128, problems, at=f"{at}custom_questions[{index}].")


# The registration form (Zoom's registrants/questions): the standard fields a webinar may ask for
# besides email and first name, and the kinds of custom question, as the OpenAPI document lists them.
QUESTION_FIELDS = tuple(
    "last_name address city country zip state phone industry org job_title purchasing_time_frame "
    "role_in_purchase_process no_of_employees comments".split()
)
CUSTOM_QUESTION_TYPES = ("short", "single_radio", "single_dropdown", "multiple")
_CHOICE_TYPES = ("single_radio", "single_dropdown")


def _question_fields(body: dict) -> tuple[list[dict], list[dict]]:
    """The standard fields and the custom questions of a PATCH registrants/questions body,
    checked as strictly as the document's schema, and more where a form would make no sense
    (Zoom does not say): a field or a title asked twice, a choice without answers."""
    problems: list[dict] = []
    questions = _listed(body, "questions", problems)
    custom = _listed(body, "custom_questions", problems)
    fields_asked = [_standard_field(q, f"questions[{i}].", problems) for i, q in enumerate(questions)]
    custom_asked = [_custom_question(q, f"custom_questions[{i}].", problems) for i, q in enumerate(custom)]
    _refuse_repeats([q.get("field_name") for q in fields_asked], "questions", problems)
    _refuse_repeats([q.get("title") for q in custom_asked], "custom_questions", problems)
    if problems:
        raise _invalid(problems)
    return fields_asked, custom_asked


def _listed(body: dict, name: str, problems: list) -> list:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append(_problem(name, "Invalid field."))
        return []
    return value


def _standard_field(question: dict, at: str, problems: list) -> dict:
    name, required = question.get("field_name"), question.get("required", False)
    if name not in QUESTION_FIELDS:
        problems.append(_problem(at + "field_name", f"Must be one of: {', '.join(map(repr, QUESTION_FIELDS))}."))
    if not isinstance(required, bool):
        problems.append(_problem(at + "required", "Invalid field."))
    return {"field_name": name, "required": required}


def _custom_question(question: dict, at: str, problems: list) -> dict:
    title, kind = question.get("title"), question.get("type")
    required, answers = question.get("required", False), question.get("answers")
    if not isinstance(title, str) or not title.strip():
        problems.append(_problem(at + "title", "This field is required."))
    if kind not in CUSTOM_QUESTION_TYPES:
        problems.append(_problem(at + "type", f"Must be one of: {', '.join(map(repr, CUSTOM_QUESTION_TYPES))}."))
    if not isinstance(required, bool):
        problems.append(_problem(at + "required", "Invalid field."))
    if answers is not None and (not isinstance(answers, list) or not all(isinstance(a, str) for a in answers)):
        problems.append(_problem(at + "answers", "Invalid field."))
    elif kind == "short" and answers:
        problems.append(_problem(at + "answers", "A short answer question has no answer choices."))
    elif kind in (*_CHOICE_TYPES, "multiple") and not answers:
        problems.append(_problem(at + "answers", "A question with choices needs at least one answer."))
    asked = {"title": title, "type": kind, "required": required}
    if kind != "short":
        asked["answers"] = list(answers) if isinstance(answers, list) else []
    return asked


def _refuse_repeats(names: list, at: str, problems: list) -> None:
    seen: set = set()
    for index, name in enumerate(names):
        if not isinstance(name, str):
            continue  # already refused as it is
        if name in seen:
            problems.append(_problem(f"{at}[{index}]", f"{name!r} is asked twice."))
        seen.add(name)


def _unanswered(person: dict, fields_asked: list[dict], custom_asked: list[dict]) -> list[dict]:
    """What a registration leaves out that the webinar's form requires, and choices it does not
    offer. Zoom's form refuses both; the document does not say that the API does too (the fake
    holds the API to the form, except for batches, whose entries carry no answers)."""
    problems = [
        _problem(q["field_name"], "This field is required.")
        for q in fields_asked
        if q["required"] and not str(person.get(q["field_name"], "")).strip()
    ]
    answers = {a.get("title"): a.get("value") or "" for a in person.get("custom_questions", [])}
    for question in custom_asked:
        given = answers.get(question["title"], "")
        if question["required"] and not given.strip():
            problems.append(_problem(f"custom_questions.{question['title']}", "This question is required."))
        elif given and question["type"] in _CHOICE_TYPES and given not in question["answers"]:
            problems.append(_problem(f"custom_questions.{question['title']}", "Not one of the question's answers."))
    return problems


def _webinar_fields(body: dict, time_zone: str) -> tuple[dict, dict]:
    """The top-level fields and the settings given in a create or update body, checked."""
    problems: list[dict] = []
    _check_text(body, "topic", TOPIC_LIMIT, problems)
    _check_text(body, "agenda", AGENDA_LIMIT, problems)
    _check_text(body, "password", PASSWORD_LIMIT, problems)
    _check_text(body, "timezone", None, problems)
    _check_text(body, "start_time", None, problems)
    if "type" in body and body["type"] not in _WEBINAR_TYPES:
        problems.append(_problem("type", "Must be one of: 5, 6, 9."))
    if "duration" in body and not (_is_int(body["duration"]) and body["duration"] >= 0):
        problems.append(_problem("duration", "Invalid field."))
    zone = body.get("timezone") if isinstance(body.get("timezone"), str) else time_zone
    if not _known_zone(zone):
        problems.append(_problem("timezone", "Invalid field."))
    settings = _settings_fields(body.get("settings"), problems)
    details = {name: body[name] for name in ("topic", "type", "duration", "agenda", "password") if name in body}
    if isinstance(body.get("timezone"), str):
        details["timezone"] = body["timezone"]
    if isinstance(body.get("start_time"), str) and not problems:
        details["start_time"] = _utc_start(body["start_time"], zone, problems)
    if problems:
        raise _invalid(problems)
    return details, settings


def _settings_fields(value: Any, problems: list) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(_problem("settings", "Invalid field."))
        return {}
    settings = {}
    for name, given in value.items():
        kind = _SETTING_TYPES.get(name)
        if kind is None:
            continue  # Zoom ignores settings it does not know
        if not _has_type(given, kind) or given not in _SETTING_CHOICES.get(name, (given,)):
            problems.append(_problem(f"settings.{name}", "Invalid field."))
        else:
            settings[name] = given
    return settings


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _utc_start(value: str, zone: str, problems: list) -> str:
    """Zoom takes `yyyy-MM-ddTHH:mm:ssZ`, or local time without Z in `timezone`; it answers in UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        problems.append(_problem("start_time", "Invalid field."))
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return _iso(moment)


def _epoch(iso: str) -> float:
    """Seconds since the epoch of a UTC time as Zoom writes it (`2021-04-30T06:00:00Z`)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _iso(moment: datetime | float) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_param(query: dict, name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < low or (high is not None and int(raw) > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid([_problem(name, f"Must be a whole number {limits}.")])
    return int(raw)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def _tracking_id() -> str:
    return f"v=2.0;clid=us06;rid=WEB_{secrets.token_hex(16)}"


# -- webinars and registrants -------------------------------------------------------------------


@dataclass
class _Registrant:
    id: str
    email: str
    first_name: str
    status: str  # approved | pending | denied
    create_time: str
    join_url: str
    details: dict
    cancelled: bool = False  # denied by a "cancel": Zoom lists it as denied

    def view(self) -> dict:
        """The registrant as Zoom lists it."""
        view = {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.details.get("last_name", ""),
            "email": self.email,
            **dict.fromkeys(_REGISTRANT_BLANKS, ""),
            **{k: v for k, v in self.details.items() if k in _REGISTRANT_BLANKS},
            "custom_questions": self.details.get("custom_questions", []),
            "status": self.status,
            "create_time": self.create_time,
            "join_url": self.join_url,
        }
        if "language" in self.details:
            view["language"] = self.details["language"]
        return view

    def record(self) -> dict:
        """The view plus what only the fake tells: whether a "cancel" made it denied."""
        return {**self.view(), "cancelled": self.cancelled}


@dataclass
class _Panelist:
    """A panelist of one webinar: Zoom's id for them, and their own join link."""

    id: str
    email: str
    name: str
    join_url: str
    details: dict  # the name tag and virtual background fields given, as given

    def view(self) -> dict:
        """The panelist as Zoom lists them."""
        return {"id": self.id, "email": self.email, "name": self.name, "join_url": self.join_url, **self.details}


@dataclass
class _Session:
    """One stay of one person in the webinar, from joining to leaving, as Zoom reports it."""

    user_id: str  # Zoom's id for this stay, valid for this webinar only
    participant_user_id: str  # the Zoom user's id; empty for someone not signed in to Zoom
    name: str
    email: str
    registrant_id: str | None
    join_time: float
    leave_time: float

    def view(self, with_registrant_id: bool = True) -> dict:
        """The session as Zoom's participant lists show it; `duration` is in seconds."""
        view = {
            "id": self.participant_user_id,
            "name": self.name,
            "user_id": self.user_id,
            "user_email": self.email,
            "join_time": _iso(self.join_time),
            "leave_time": _iso(self.leave_time),
            "duration": int(self.leave_time - self.join_time),
            "failover": False,
            "status": "in_meeting",
        }
        if with_registrant_id and self.registrant_id:
            view["registrant_id"] = self.registrant_id
        return view

    def report_view(self, with_registrant_id: bool) -> dict:
        """The session as the report API shows it: the same, with `participant_user_id`."""
        return {**self.view(with_registrant_id), "participant_user_id": self.participant_user_id}


@dataclass
class _Webinar:
    id: int
    uuid: str
    host_id: str
    host_email: str
    created_at: str
    join_url: str
    start_url: str
    registration_url: str
    details: dict  # topic, type, start_time, duration, timezone, agenda, password
    settings: dict
    registrants: dict[str, _Registrant] = field(default_factory=dict)  # by id, in sign-up order
    by_email: dict[str, _Registrant] = field(default_factory=dict)  # by lower-case address
    # The registration form beyond email and first name; Zoom does not say what a new webinar
    # asks, the fake starts with nothing more.
    questions: list[dict] = field(default_factory=list)
    custom_questions: list[dict] = field(default_factory=list)
    # Its source tracking links (made on Zoom's site, not by the API), in Zoom's shape: id,
    # source_name, tracking_url; the counts are worked out when listed.
    tracking_sources: list[dict] = field(default_factory=list)
    ended_at: float | None = None  # when the host ended it
    sessions: list[_Session] = field(default_factory=list)  # who was in it, one stay each
    panelists: dict[str, _Panelist] = field(default_factory=dict)  # by lower-case address, in the order added

    @property
    def approval_type(self) -> int:
        return self.settings["approval_type"]

    def view(self) -> dict:
        """The webinar as Zoom's create and get answers show it."""
        view = {
            "uuid": self.uuid,
            "id": self.id,
            "host_id": self.host_id,
            "host_email": self.host_email,
            **self.details,
            "created_at": self.created_at,
            "start_url": self.start_url,
            "join_url": self.join_url,
            "settings": dict(self.settings),
            "is_simulive": False,
            "registrants_confirmation_email": self.settings.get("registrants_confirmation_email", True),
        }
        if self.approval_type != NO_REGISTRATION:
            view["registration_url"] = self.registration_url
        return view

    def summary(self) -> dict:
        """The webinar as Zoom's list of a user's webinars shows it."""
        keys = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda")
        view = self.view()
        return {**{k: view[k] for k in keys if k in view}, "created_at": self.created_at, "join_url": self.join_url}

    def find(self, wanted: dict) -> _Registrant | None:
        """The registrant named by id, else by address (as a status update names them)."""
        registrant_id, email = wanted.get("id"), wanted.get("email")
        if isinstance(registrant_id, str) and registrant_id in self.registrants:
            return self.registrants[registrant_id]
        return self.by_email.get(email.lower()) if isinstance(email, str) else None

    def forget(self, registrant: _Registrant) -> None:
        del self.registrants[registrant.id]
        del self.by_email[registrant.email.lower()]


@dataclass
class _Cursor:
    """Where a listing goes on: a snapshot of the ids, so pages neither shift nor repeat."""

    scope: tuple
    ids: list
    offset: int
    expires: float


def _default_settings(host_email: str) -> dict:
    return {
        "approval_type": NO_REGISTRATION,  # Zoom's default: nobody can register
        "registration_type": 1,
        "audio": "both",
        "auto_recording": "none",
        "host_video": False,
        "panelists_video": False,
        "practice_session": False,
        "hd_video": False,
        "hd_video_for_attendees": False,
        "send_1080p_video_to_attendees": False,
        "on_demand": False,
        "allow_multiple_devices": False,
        "show_share_button": False,
        "close_registration": False,
        "registrants_email_notification": True,
        "registrants_confirmation_email": True,
        "registrants_restrict_number": 0,
        "post_webinar_survey": False,
        "survey_url": "",
        "contact_name": host_email.split("@")[0],
        "contact_email": host_email,
        "email_language": "en-US",
        "alternative_hosts": "",
        "meeting_authentication": False,
        "panelist_authentication": False,
        "add_watermark": False,
        "add_audio_watermark": False,
        "panelists_invitation_email_notification": True,
        "global_dial_in_countries": ["US"],
    }


# -- the fake -----------------------------------------------------------------------------------


class FakeZoom:
    """Zoom's webinar API on 127.0.0.1, with Zoom's limits and switchable faults.

    Use it as a context manager, or call `start()` and `stop()`. Point a client at `api_url`
    and `oauth_url` with `account_id`, `client_id` and `client_secret`. `user_id` is the host
    (besides "me" and the host's email); `clock` gives wall-clock seconds for token expiry,
    daily caps and timestamps (tests may move it), while per-second windows use the real
    monotonic clock. `log`, if given, is called with one line per request.
    """

    def __init__(
        self,
        *,
        plan: str = "pro",
        account_id: str = "fake-account-id",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        user_id: str = "me",
        host_email: str = "host@example.org",
        token_ttl: float = 3600,
        scopes: str = SCOPE,
        seed: int | None = None,
        faults: Faults | Mapping[str, Any] | None = None,
        port: int = 0,
        join_host: str = "us06web.zoom.us",
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] | None = None,
        webhook_url: str | None = None,
        webhook_secret_token: str | None = None,
        report_delay: float = REPORT_DELAY,
        past_participants: bool = True,
    ):
        if plan not in PER_SECOND:
            raise ValueError(f"plan must be one of {', '.join(PER_SECOND)}")
        self.plan, self.account_id = plan, account_id
        self.client_id, self.client_secret = client_id, client_secret
        self.user_id, self.host_email = user_id, host_email
        # Zoom's user ids look like "KDcuGIm1QgePTO8WbOqwIQ"; "me" stands for the app's owner.
        self.host_id = user_id if user_id != "me" else secrets.token_urlsafe(16)
        self.token_ttl, self.join_host = token_ttl, join_host
        self.scopes = scopes  # what the app was given in the Marketplace, space-separated
        self.report_delay = report_delay  # seconds after the end until the participant lists answer
        self.past_participants = past_participants  # whether the plan lists past webinars' participants
        self._port, self._clock, self._log_line = port, clock, log
        self.webhook_url, self._webhook_secret_token = webhook_url, webhook_secret_token
        self._webhooks: list[SentWebhook] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._faults = faults if isinstance(faults, Faults) else Faults(**(faults or {}))
        self._tokens: dict[str, float] = {}
        self._webinars: dict[int, _Webinar] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._windows: dict[str, deque[float]] = {}  # per category, when the last second's requests came
        self._day: str | None = None
        self._daily: Counter = Counter()
        self._log: list[LoggedRequest] = []
        self._throttled: Counter = Counter()
        self._injected: Counter = Counter()
        self._new: Counter = Counter()  # (webinar id, address) -> times newly registered
        self._readded: Counter = Counter()  # (webinar id, address) -> times added again while registered
        self._invited: Counter = Counter()  # (webinar id, address) -> panelist invitations Zoom would have mailed
        self._tokens_issued = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- running ------------------------------------------------------------------------------

    def start(self) -> FakeZoom:
        """Listen on 127.0.0.1 (on the port given, or a free one) and serve in a daemon thread."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", self._port), _Handler)
            self._server.fake = self
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="fakezoom", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; the state stays readable."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Kept-alive connections have their own threads, which would go on answering.
        with self._lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeZoom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not running: call start() first")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.url}/oauth/token"

    def environment(self) -> dict[str, str]:
        """The ZOOM_* settings that point the `zoom` provider at this fake."""
        return {
            "ZOOM_API_BASE_URL": self.api_url,
            "ZOOM_OAUTH_URL": self.oauth_url,
            "ZOOM_ACCOUNT_ID": self.account_id,
            "ZOOM_CLIENT_ID": self.client_id,
            "ZOOM_CLIENT_SECRET": self.client_secret,
            "ZOOM_PLAN": self.plan,
        }

    # -- steering and reading, for tests ------------------------------------------------------

    @property
    def faults(self) -> dict:
        """The current faults (countdowns show what is left)."""
        with self._lock:
            return asdict(self._faults)

    def set_faults(self, *, reset: bool = False, seed: int | None = None, **changes: Any) -> dict:
        """Change the named fault fields (see `Faults`); `reset` starts from no faults, `seed`
        re-seeds the generator the probabilities draw from. Returns the faults now in force."""
        unknown = set(changes) - FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        with self._lock:
            self._faults = replace(Faults() if reset else self._faults, **changes)
            if seed is not None:
                self._rng.seed(seed)
            return asdict(self._faults)

    def expire_tokens(self) -> int:
        """Every access token issued so far expires now; returns how many were still valid."""
        with self._lock:
            now = self._clock()
            valid = sum(1 for expires in self._tokens.values() if expires > now)
            self._tokens = dict.fromkeys(self._tokens, now)
            return valid

    def add_registrant_from_zoom_page(
        self, webinar_id: int | str, email: str, first_name: str, last_name: str | None = None, **details: Any
    ) -> dict:
        """Someone signs up on Zoom's own registration page: approved when the webinar
        approves automatically, pending when manually. Raises ZoomRefusal as the page would."""
        given = {"email": email, "first_name": first_name, "last_name": last_name, **details}
        person = _registrant_fields({k: v for k, v in given.items() if v is not None})
        with self._lock:
            webinar = self._webinar(str(webinar_id))
            self._require_registration(webinar, f"This webinar does not have registration as required: {webinar.id}.")
            _require_answers(webinar, person)
            registrant = self._register(webinar, person, self._signup_status(webinar, auto_approve=False))
            event = self._webhook_event("webinar.registration_created", webinar, registrant)
            record = registrant.record()
        self._send_webhook(event)
        return record

    def add_tracking_source(self, webinar_id: int | str, source_name: str) -> dict:
        """The host makes a source tracking link on Zoom's site (the API cannot); returns it as
        Zoom lists it. A sign-up through it gives `source_id` = its id."""
        with self._lock:
            webinar = self._webinar(str(webinar_id))
            source_id = str(1_000_000_000_000 + secrets.randbelow(9_000_000_000_000))
            register = webinar.registration_url.rpartition("/")[2]
            source = {
                "id": source_id,
                "source_name": source_name,
                "tracking_url": f"https://{self.join_host}/webinar/register/{source_id}/{register}",
            }
            webinar.tracking_sources.append(source)
            return self._tracking_view(webinar, source)

    @staticmethod
    def _tracking_view(webinar: _Webinar, source: dict) -> dict:
        signed_up = sum(1 for r in webinar.registrants.values() if r.details.get("source_id") == source["id"])
        return {**source, "registration_count": signed_up, "visitor_count": signed_up}

    def decide_on_zoom_site(self, webinar_id: int | str, email: str, action: str) -> dict:
        """The host approves, denies or cancels a registration on Zoom's site, as the status
        update of the API would ("cancel" leaves it denied). Raises ZoomRefusal for someone
        the webinar does not hold."""
        events = {"approve": "approved", "deny": "denied", "cancel": "cancelled"}
        if action not in events:
            raise ValueError(f"action must be one of {', '.join(events)}")
        with self._lock:
            webinar = self._webinar(str(webinar_id))
            registrant = webinar.find({"email": email})
            if registrant is None:
                raise ZoomRefusal(404, 3000, f"Registrant {email} was not found.")
            registrant.status = "approved" if action == "approve" else "denied"
            registrant.cancelled = action == "cancel"
            event = self._webhook_event(f"webinar.registration_{events[action]}", webinar, registrant)
            record = registrant.record()
        self._send_webhook(event)
        return record

    def attend(
        self,
        webinar_id: int | str,
        email: str,
        joined_at: datetime,
        left_at: datetime,
        name: str | None = None,
        registrant_id: str | None = None,
    ) -> dict:
        """Someone spent a while in the webinar: one session, from `joined_at` to `left_at`.
        Whoever joins through a registrant's link is that registrant (`registrant_id`, else
        the registrant the address belongs to), whatever address they are known by. Returns
        the session as the participant lists show it."""
        if left_at < joined_at:
            raise ValueError("left_at must not be before joined_at")
        with self._lock:
            webinar = self._webinar(str(webinar_id))
            registrant = webinar.registrants.get(registrant_id or "") or webinar.by_email.get(email.lower())
            if registrant_id and registrant is None:
                raise ZoomRefusal(404, 3000, f"Registrant {registrant_id} was not found.")
            default_name = registrant.first_name if registrant else email.split("@")[0]
            session = _Session(
                user_id=str(16_000_000 + secrets.randbelow(9_000_000)),
                participant_user_id="",
                name=name or default_name,
                email=email,
                registrant_id=registrant.id if registrant else None,
                join_time=joined_at.timestamp(),
                leave_time=left_at.timestamp(),
            )
            webinar.sessions.append(session)
            return session.view()

    def end_webinar(self, webinar_id: int | str, at: datetime | None = None) -> dict:
        """The host ends the webinar (at `at`, else now by the fake's clock); its participant
        lists answer `report_delay` seconds later. Returns the webinar."""
        with self._lock:
            webinar = self._webinar(str(webinar_id))
            webinar.ended_at = at.timestamp() if at else self._clock()
            return webinar.view()

    @property
    def webhooks_sent(self) -> list[SentWebhook]:
        """Every webhook sent so far, oldest first."""
        with self._lock:
            return list(self._webhooks)

    def _webhook_event(self, name: str, webinar: _Webinar, registrant: _Registrant) -> dict | None:
        """The event as Zoom's envelope holds it, or None when no webhook is configured."""
        if not self.webhook_url:
            return None
        person = {
            "id": registrant.id,
            "first_name": registrant.first_name,
            "last_name": registrant.details.get("last_name", ""),
            "email": registrant.email,
        }
        if name.endswith(("_created", "_approved")):
            person["join_url"] = registrant.join_url
        if name.endswith("_created"):
            person.update(status=registrant.status, create_time=registrant.create_time)
        details = {
            k: webinar.details[k] for k in ("topic", "start_time", "timezone", "duration") if k in webinar.details
        }
        webinar_view = {"id": webinar.id, "uuid": webinar.uuid, "host_id": webinar.host_id, **details}
        return {
            "event": name,
            "event_ts": int(self._clock() * 1000),
            "payload": {"account_id": self.account_id, "object": {**webinar_view, "registrant": person}},
        }

    def _send_webhook(self, event: dict | None) -> None:
        """Post `event` to the webhook URL, signed; outside the lock, as the receiver may be slow."""
        if event is None:
            return
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(self._clock()))
        message = b"v0:" + timestamp.encode() + b":" + body
        digest = hmac.new(self._webhook_secret_token.encode(), message, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Zoom Marketplace/1.0a",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": f"v0={digest}",
        }
        request = urllib.request.Request(self.webhook_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status: int | None = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = None
        with self._lock:
            self._webhooks.append(SentWebhook(event["event"], body, headers, status))

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, oldest first, without its Authorization header."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def throttled(self) -> dict[str, int]:
        """How many 429s were given, by X-RateLimit-Type ("QPS", "Daily-limit")."""
        with self._lock:
            return dict(self._throttled)

    @property
    def faults_injected(self) -> dict[str, int]:
        """How many times each fault struck: error, slow, drop, lost_batch."""
        with self._lock:
            return dict(self._injected)

    def webinar(self, webinar_id: int | str) -> dict:
        """The webinar as Zoom's GET shows it."""
        with self._lock:
            return self._webinar(str(webinar_id)).view()

    def registrants(self, webinar_id: int | str) -> list[dict]:
        """Every registrant of the webinar, whatever the status, in sign-up order, as Zoom lists
        them, plus `cancelled` (denied by a cancel)."""
        with self._lock:
            webinar = self._webinar(str(webinar_id))
            return [r.record() for r in webinar.registrants.values()]

    def panelists(self, webinar_id: int | str) -> list[dict]:
        """The webinar's panelists as Zoom lists them, in the order they were added."""
        with self._lock:
            return [p.view() for p in self._webinar(str(webinar_id)).panelists.values()]

    def panelist_invitations(self, webinar_id: int | str | None = None) -> Counter:
        """How many panelist invitations Zoom would have mailed to each address: one per new
        panelist while the webinar's `panelists_invitation_email_notification` was on."""
        return self._per_address(self._invited, webinar_id)

    def newly_registered(self, webinar_id: int | str | None = None) -> Counter:
        """How many times each address was registered anew (not counting re-adds of someone
        already registered); above 1 only if they were deleted and registered again."""
        return self._per_address(self._new, webinar_id)

    def re_added(self, webinar_id: int | str | None = None) -> Counter:
        """How many times each address was added again while already registered."""
        return self._per_address(self._readded, webinar_id)

    def _per_address(self, counts: Counter, webinar_id: int | str | None) -> Counter:
        with self._lock:
            result: Counter = Counter()
            for (wid, email), n in counts.items():
                if webinar_id is None or wid == int(webinar_id):
                    result[email] += n
            return result

    def state(self) -> dict:
        """Webinars with their registrants, the faults and the counters, as JSON-ready data."""
        with self._lock:
            return {
                "plan": self.plan,
                "account_id": self.account_id,
                "host_id": self.host_id,
                "host_email": self.host_email,
                "webinars": [
                    {
                        **w.view(),
                        "registrants": [r.record() for r in w.registrants.values()],
                        "ended_at": _iso(w.ended_at) if w.ended_at is not None else None,
                        "participants": [s.view() for s in w.sessions],
                        "panelists": [p.view() for p in w.panelists.values()],
                    }
                    for w in self._webinars.values()
                ],
                "faults": asdict(self._faults),
                "counters": {
                    "requests": len(self._log),
                    "tokens_issued": self._tokens_issued,
                    "throttled": dict(self._throttled),
                    "faults_injected": dict(self._injected),
                    "newly_registered": _by_webinar(self._new),
                    "re_added": _by_webinar(self._readded),
                    "panelist_invitations": _by_webinar(self._invited),
                },
            }

    # -- answering ----------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Reply:
        """Answer one request; called by the HTTP handler, one thread per connection."""
        headers = {k: v for k, v in incoming.headers.items() if k.lower() != "authorization"}
        entry = LoggedRequest(
            incoming.method, incoming.path, incoming.query, incoming.logged_body(), headers, at=self._clock()
        )
        with self._lock:
            self._log.append(entry)
        try:
            reply = self._route(incoming, entry)
        except ZoomRefusal as refusal:
            reply = refusal.reply()
        except Exception as exc:  # a bug in the fake: say so rather than hang the client
            traceback.print_exc()
            reply = Reply(500, {"code": 500, "message": f"The fake failed: {type(exc).__name__}: {exc}"})
        reply.headers.setdefault("x-zm-trackingid", _tracking_id())
        with self._lock:
            entry.status = None if reply.drop else reply.status
            entry.fault = reply.fault or entry.fault
            entry.tracking_id = None if reply.drop else reply.headers["x-zm-trackingid"]
        if self._log_line:
            self._log_line(f"{incoming.method} {incoming.path} {entry.status or '-'}{_fault_note(entry.fault)}")
        return reply

    def _route(self, incoming: Incoming, entry: LoggedRequest) -> Reply:
        if incoming.path == "/oauth/token" and incoming.method == "POST":
            return self._oauth(incoming)
        if incoming.path.startswith(ADMIN_PREFIX):
            return self._admin(incoming)
        if incoming.path.startswith("/v2/"):
            return self._api(incoming, entry)
        raise ZoomRefusal(404, 404, "Not Found.")

    def _api(self, incoming: Incoming, entry: LoggedRequest) -> Reply:
        fault = self._strike(entry)
        if fault:
            return fault
        with self._lock:
            if self._draw("revoke"):
                self._revoke(incoming)
                entry.fault = "revoke"
            self._authorise(incoming)
            operation, category, params = _match(incoming.method, incoming.path.removeprefix("/v2"))
            self._require_scope(incoming.method, incoming.path.removeprefix("/v2"))
            try:
                self._take_rate(category)
                reply = operation(self, incoming, *params)
            except ZoomRefusal as refusal:
                if refusal.status == 429 and self._faults.bare_429:
                    refusal.headers.clear()  # Zoom's rate-limit headers are sometimes absent
                raise
            if incoming.method != "GET" and reply.status < 300 and not reply.drop and self._draw("late_error"):
                # Applied, but the answer is a 5xx: the client cannot tell it went through.
                status = self._rng.choice(self._faults.error_statuses)
                reply = Reply(status, {"code": status, "message": SERVER_ERRORS[status]}, fault="late_error")
        reply.headers.setdefault("X-RateLimit-Category", category)
        return reply

    def _require_scope(self, method: str, path: str) -> None:
        if path.startswith("/report/"):
            needed = "report:read:admin"
        else:
            needed = "webinar:read:admin" if method == "GET" else "webinar:write:admin"
        if needed not in self.scopes.split():
            # Zoom's answer to a token without the scope (its code 4711, not in the OpenAPI document).
            raise ZoomRefusal(400, 4711, f"Invalid access token, does not contain scopes:[{needed}].")

    def _revoke(self, incoming: Incoming) -> None:
        """The request's access token stops working now (a revocation on Zoom's side)."""
        _, _, token = (incoming.headers.get("Authorization") or "").partition(" ")
        if token.strip() in self._tokens:
            self._tokens[token.strip()] = self._clock()

    # -- faults -------------------------------------------------------------------------------

    def _strike(self, entry: LoggedRequest) -> Reply | None:
        """Draw this request's faults: maybe wait, then maybe drop it or answer 5xx."""
        with self._lock:
            slow = self._draw("slow")
            drop = self._draw("drop")
            error = not drop and self._draw("error")
            status = self._rng.choice(self._faults.error_statuses) if error else 0
            seconds = self._faults.slow_seconds
            entry.fault = "drop" if drop else "error" if error else "slow" if slow else None
        if slow:
            time.sleep(seconds)  # outside the lock: other requests go on meanwhile
        if drop:
            return Reply(0, drop=True)
        if error:
            return Reply(status, {"code": status, "message": SERVER_ERRORS[status]})
        return None

    def _draw(self, kind: str) -> bool:
        """Whether fault `kind` strikes now: a countdown first, else its probability."""
        left = getattr(self._faults, f"{kind}_next")
        if left > 0:
            self._faults = replace(self._faults, **{f"{kind}_next": left - 1})
        else:
            rate = getattr(self._faults, f"{kind}_rate")
            if not (rate > 0 and self._rng.random() < rate):
                return False
        self._injected[kind] += 1
        return True

    # -- OAuth --------------------------------------------------------------------------------

    def _oauth(self, incoming: Incoming) -> Reply:
        """Server-to-Server OAuth: Basic client credentials, a form body, a bearer token back."""
        if _basic_credentials(incoming.headers.get("Authorization")) != (self.client_id, self.client_secret):
            return Reply(400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
        # Zoom also reads these from the query string; the reference asks for a form body, so
        # the fake reads only the body and a client that sends them elsewhere finds out here.
        form = incoming.form()
        if form.get("grant_type") != "account_credentials":
            return Reply(400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"})
        if form.get("account_id") != self.account_id:
            return Reply(400, {"reason": "Invalid account_id", "error": "invalid_request"})  # Zoom does not say
        with self._lock:
            token = self._issue_token()
        body = {"access_token": token, "token_type": "bearer", "expires_in": int(self.token_ttl), "scope": self.scopes}
        return Reply(200, body, {"Cache-Control": "no-store"})

    def _issue_token(self) -> str:
        now = self._clock()
        self._tokens = {t: expires for t, expires in self._tokens.items() if expires > now}
        token = secrets.token_urlsafe(48)
        self._tokens[token] = now + self.token_ttl
        self._tokens_issued += 1
        return token

    def _authorise(self, incoming: Incoming) -> None:
        # Only the header counts: a token in the query string is as good as none.
        scheme, _, token = (incoming.headers.get("Authorization") or "").partition(" ")
        expires = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expires is None or expires <= self._clock():
            raise ZoomRefusal(401, 124, "Invalid access token.")

    # -- rate limits --------------------------------------------------------------------------

    def _take_rate(self, category: str) -> None:
        """Count one request of `category` against the second's and the day's limits."""
        limit = PER_SECOND[self.plan][category]
        now = time.monotonic()
        window = self._windows.setdefault(category, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            self._throttled["QPS"] += 1
            headers = {"X-RateLimit-Type": "QPS", "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"}
            raise ZoomRefusal(429, 429, QPS_MESSAGE, headers={"X-RateLimit-Category": category, **headers})
        cap = PER_DAY[self.plan].get(category)
        if cap is not None:
            counts = self._today()
            if counts[("category", category)] >= cap:
                raise self._daily_refusal(category, cap, DAILY_MESSAGE)
            counts[("category", category)] += 1
        window.append(now)

    def _today(self) -> Counter:
        """The day's counts, started afresh at 00:00 UTC."""
        day = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%d")
        if day != self._day:
            self._day, self._daily = day, Counter()
        return self._daily

    def _daily_refusal(self, category: str, limit: int, message: str) -> ZoomRefusal:
        self._throttled["Daily-limit"] += 1
        today = datetime.fromtimestamp(self._clock(), UTC).date()
        headers = {
            "X-RateLimit-Category": category,
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "Retry-After": f"{today + timedelta(days=1)}T00:00:00Z",
        }
        return ZoomRefusal(429, 429, message, headers=headers)

    def _count_host_write(self) -> None:
        counts = self._today()
        if counts[("host", self.host_id)] >= HOST_WRITES_PER_DAY:
            message = (
                f"You have exceeded the daily rate limit ({HOST_WRITES_PER_DAY}) of Create/Update webinar API "
                "requests permitted for this particular user. You may resume these user-level API requests "
                "at GMT 00:00:00."
            )
            raise self._daily_refusal(LIGHT, HOST_WRITES_PER_DAY, message)
        counts[("host", self.host_id)] += 1

    def _count_per_registrant(
        self, kind: str, webinar: _Webinar, emails: list[str], limit: int, api: str, category: str
    ) -> None:
        """Count one use per address, or refuse the whole call if any address is over its cap."""
        counts = self._today()
        wanted = Counter(email.lower() for email in emails)
        for email, times in wanted.items():
            if counts[(kind, webinar.id, email)] + times > limit:
                message = (
                    f"You have exceeded the daily rate limit ({limit}) for {api} API requests for the "
                    f"registrant ({email}). You can resume these API requests at GMT 00:00:00."
                )
                raise self._daily_refusal(category, limit, message)
        for email, times in wanted.items():
            counts[(kind, webinar.id, email)] += times

    # -- webinars -----------------------------------------------------------------------------

    def _check_user(self, user_id: str) -> None:
        if user_id not in ("me", self.user_id, self.host_id) and user_id.lower() != self.host_email.lower():
            raise ZoomRefusal(404, 1001, f"User {user_id} does not exist or does not belong to this account.")

    def _webinar(
        self, raw_id: str, missing: str = "Webinar {id} not found or has expired.", status: int = 404
    ) -> _Webinar:
        if not _WEBINAR_ID.fullmatch(raw_id) or int(raw_id) > _INT64_MAX:
            # Zoom answers an id that cannot be one with a non-standard HTTP 300.
            raise ZoomRefusal(300, 300, "Invalid webinar ID.")
        webinar = self._webinars.get(int(raw_id))
        if webinar is None:
            raise ZoomRefusal(status, 3001, missing.format(id=raw_id))
        return webinar

    def _list_webinars(self, incoming: Incoming, user_id: str) -> Reply:
        self._check_user(user_id)
        kind = incoming.query.get("type", "scheduled")
        if kind not in ("scheduled", "upcoming"):
            raise _invalid([_problem("type", "Must be one of: 'scheduled', 'upcoming'.")])
        now = _iso(self._clock())

        def every_id() -> list:
            chosen = self._webinars.values()
            return [w.id for w in chosen if kind == "scheduled" or w.details["start_time"] >= now]

        ids, paging = self._page(("webinars", kind), incoming.query, every_id)
        found = [self._webinars[i].summary() for i in ids if i in self._webinars]
        return Reply(200, {**paging, "webinars": found})

    def _create_webinar(self, incoming: Incoming, user_id: str) -> Reply:
        self._check_user(user_id)
        details, settings = _webinar_fields(incoming.json_object(), "UTC")
        self._count_host_write()
        webinar = self._new_webinar(details, settings)
        return Reply(201, webinar.view())

    def _new_webinar(self, details: dict, settings: dict) -> _Webinar:
        webinar_id = secrets.randbelow(9 * 10**10) + 10**10  # 11 digits, like Zoom's
        while webinar_id in self._webinars:
            webinar_id = secrets.randbelow(9 * 10**10) + 10**10
        now = self._clock()
        host = self.join_host
        webinar = _Webinar(
            id=webinar_id,
            uuid=base64.b64encode(secrets.token_bytes(16)).decode(),
            host_id=self.host_id,
            host_email=self.host_email,
            created_at=_iso(now),
            join_url=f"https://{host}/j/{webinar_id}",
            start_url=f"https://{host}/s/{webinar_id}?zak={secrets.token_urlsafe(48)}",
            registration_url=f"https://{host}/webinar/register/WN_{secrets.token_urlsafe(16)}",
            details={
                "topic": "Zoom Webinar",
                "type": 5,
                "start_time": _iso(now),
                "duration": 60,
                "timezone": "UTC",
                "agenda": "",
                **details,
            },
            settings={**_default_settings(self.host_email), **settings},
        )
        self._webinars[webinar_id] = webinar
        return webinar

    def _get_webinar(self, incoming: Incoming, raw_id: str) -> Reply:
        return Reply(200, self._webinar(raw_id).view())

    def _update_webinar(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        details, settings = _webinar_fields(incoming.json_object(), webinar.details["timezone"])
        self._count_host_write()
        webinar.details.update(details)
        webinar.settings.update(settings)
        return Reply(204)

    def _delete_webinar(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        del self._webinars[webinar.id]
        return Reply(204)

    # -- registrants --------------------------------------------------------------------------

    def _require_registration(self, webinar: _Webinar, message: str) -> None:
        if webinar.approval_type == NO_REGISTRATION:
            raise ZoomRefusal(400, 3000, message)
        if webinar.settings.get("close_registration") and self._clock() >= _epoch(webinar.details["start_time"]):
            # "Close registration after event date": Zoom's page takes nobody once the webinar
            # has started. Its document does not say whether the API's adds are refused too;
            # the fake refuses them as well, the stricter reading, with the 3000 of a closed form.
            raise ZoomRefusal(400, 3000, f"Registration for this webinar has closed: {webinar.id}.")

    @staticmethod
    def _signup_status(webinar: _Webinar, auto_approve: bool) -> str:
        approved = webinar.approval_type == APPROVE_AUTOMATICALLY or auto_approve
        return "approved" if approved else "pending"

    def _register(self, webinar: _Webinar, person: dict, status: str) -> _Registrant:
        """Register one person, or give back whom the address already holds."""
        key = person["email"].lower()
        existing = webinar.by_email.get(key)
        if existing is not None:
            self._readded[(webinar.id, key)] += 1
            if existing.status == "denied":  # Zoom does not say; a new sign-up re-opens it
                existing.status, existing.cancelled = status, False
            return existing
        registrant = _Registrant(
            id=secrets.token_urlsafe(16),
            email=person["email"],
            first_name=person["first_name"],
            status=status,
            create_time=_iso(self._clock()),
            join_url=f"https://{self.join_host}/w/{webinar.id}?tk={secrets.token_urlsafe(32)}",
            details={k: v for k, v in person.items() if k not in ("email", "first_name")},
        )
        webinar.registrants[registrant.id] = registrant
        webinar.by_email[key] = registrant
        self._new[(webinar.id, key)] += 1
        return registrant

    def _add_registrant(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        person = _registrant_fields(incoming.json_object())
        self._require_registration(webinar, f"This webinar does not have registration as required: {webinar.id}.")
        _require_answers(webinar, person)
        self._count_per_registrant(
            "adds", webinar, [person["email"]], ADDS_PER_REGISTRANT_PER_DAY, "Add a webinar registrant", LIGHT
        )
        registrant = self._register(webinar, person, self._signup_status(webinar, auto_approve=False))
        body = {
            "id": webinar.id,
            "registrant_id": registrant.id,
            "join_url": registrant.join_url,
            "topic": webinar.details["topic"],
            "start_time": webinar.details["start_time"],
        }
        return Reply(201, body)

    def _add_batch(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id, missing="Webinar does not exist: {id}.")
        people, auto_approve = _batch_fields(incoming.json_object())
        if webinar.details["type"] != 5:
            raise ZoomRefusal(
                400,
                300,
                "This API can only be used for scheduled webinars (type 5). "
                "Batch registration is not supported for other webinar types.",
            )
        self._require_registration(webinar, f"Registration not enabled for this webinar: {webinar.id}")
        emails = [p["email"] for p in people]
        self._count_per_registrant(
            "adds", webinar, emails, ADDS_PER_REGISTRANT_PER_DAY, "Perform batch registration", HEAVY
        )
        status = self._signup_status(webinar, auto_approve)
        registered = [(p["email"], self._register(webinar, p, status)) for p in people]
        body = {"registrants": [{"email": e, "join_url": r.join_url, "registrant_id": r.id} for e, r in registered]}
        if self._draw("lost_batch"):
            # Applied, but the answer never leaves: the client cannot tell whether it went through.
            return Reply(201, body, drop=True, fault="lost_batch")
        return Reply(201, body)

    def _list_registrants(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        status = incoming.query.get("status") or "approved"
        if status not in ("pending", "approved", "denied"):
            raise _invalid([_problem("status", "Must be one of: 'pending', 'approved', 'denied'.")])

        source = incoming.query.get("tracking_source_id")

        def every_id() -> list:
            return [
                r.id
                for r in webinar.registrants.values()
                if r.status == status and (source is None or r.details.get("source_id") == source)
            ]

        ids, paging = self._page(("registrants", webinar.id, status, source), incoming.query, every_id)
        found = [webinar.registrants[i].view() for i in ids if i in webinar.registrants]
        return Reply(200, {**paging, "registrants": found})

    def _list_tracking_sources(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        # "Registration must be required for the Webinar" (Zoom's document); the code is Zoom's 3000.
        if webinar.approval_type == NO_REGISTRATION:
            raise ZoomRefusal(400, 3000, f"This webinar does not have registration as required: {webinar.id}.")
        sources = [self._tracking_view(webinar, source) for source in webinar.tracking_sources]
        total = sum(source["registration_count"] for source in sources)
        return Reply(200, {"total_records": total, "tracking_sources": sources})

    def _get_registrant(self, incoming: Incoming, raw_id: str, registrant_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        registrant = webinar.registrants.get(registrant_id)
        if registrant is None:
            raise ZoomRefusal(404, 3000, f"Registrant {registrant_id} was not found.")  # Zoom does not say
        return Reply(200, registrant.view())

    def _update_statuses(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        action, wanted = _status_fields(incoming.json_object())
        targets = list({id(r): r for r in _decided(webinar, action, wanted)}.values())
        self._count_per_registrant(
            "status",
            webinar,
            [r.email for r in targets],
            STATUS_UPDATES_PER_REGISTRANT_PER_DAY,
            "Update registrant's status",
            MEDIUM,
        )
        for registrant in targets:
            registrant.status = "approved" if action == "approve" else "denied"
            registrant.cancelled = action == "cancel"
        return Reply(204)

    def _list_questions(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        return Reply(200, {"questions": list(webinar.questions), "custom_questions": list(webinar.custom_questions)})

    def _update_questions(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        body = incoming.json_object()
        fields_asked, custom_asked = _question_fields(body)
        # The document asks for registration to be on; Zoom does not say how it refuses otherwise.
        self._require_registration(webinar, f"This webinar does not have registration as required: {webinar.id}.")
        # Each list given replaces the webinar's; one left out stays as it was (Zoom does not say).
        if "questions" in body:
            webinar.questions = fields_asked
        if "custom_questions" in body:
            webinar.custom_questions = custom_asked
        return Reply(204)

    def _delete_registrant(self, incoming: Incoming, raw_id: str, registrant_id: str) -> Reply:
        # Zoom's document lists no 404 here: an unknown webinar is a 400 like an unknown registrant.
        webinar = self._webinar(raw_id, missing="Webinar does not exist: {id}.", status=400)
        registrant = webinar.registrants.get(registrant_id)
        if registrant is None:
            raise ZoomRefusal(400, 3000, f"Registrant {registrant_id} was not found.")
        webinar.forget(registrant)
        return Reply(204)

    # -- panelists ----------------------------------------------------------------------------

    def _list_panelists(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        listed = [p.view() for p in webinar.panelists.values()]
        return Reply(200, {"total_records": len(listed), "panelists": listed})

    def _add_panelists(self, incoming: Incoming, raw_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        wanted = _panelist_fields(incoming.json_object())
        new = [entry for entry in wanted if entry["email"].lower() not in webinar.panelists]
        if len(webinar.panelists) + len(new) > PANELISTS_PER_WEBINAR:
            raise ZoomRefusal(400, 3000, PANELIST_LIMIT_MESSAGE)
        for entry in wanted:
            self._make_panelist(webinar, entry)
        return Reply(201, {"id": str(webinar.id), "updated_at": _iso(self._clock())})

    def _make_panelist(self, webinar: _Webinar, entry: dict) -> _Panelist:
        key = entry["email"].lower()
        details = {k: v for k, v in entry.items() if k not in ("email", "name")}
        existing = webinar.panelists.get(key)
        if existing is not None:  # Zoom does not say; the fake keeps them and takes the new name
            existing.name = entry["name"]
            existing.details.update(details)
            return existing
        panelist = _Panelist(
            id=secrets.token_urlsafe(16),
            email=entry["email"],
            name=entry["name"],
            join_url=f"https://{self.join_host}/w/{webinar.id}?tk={secrets.token_urlsafe(32)}",
            details=details,
        )
        webinar.panelists[key] = panelist
        if webinar.settings.get("panelists_invitation_email_notification"):
            self._invited[(webinar.id, key)] += 1
        return panelist

    def _remove_panelists(self, incoming: Incoming, raw_id: str) -> Reply:
        self._webinar(raw_id).panelists.clear()
        return Reply(204)

    def _remove_panelist(self, incoming: Incoming, raw_id: str, panelist_id: str) -> Reply:
        webinar = self._webinar(raw_id)
        # The document: "The panelist's ID or email."
        by_id = (key for key, panelist in webinar.panelists.items() if panelist.id == panelist_id)
        found = panelist_id.lower() if panelist_id.lower() in webinar.panelists else next(by_id, None)
        if found is None:
            raise ZoomRefusal(404, 1001, f"User {panelist_id} does not exist or does not belong to this account.")
        del webinar.panelists[found]
        return Reply(204)

    # -- after the end: who attended -----------------------------------------------------------

    def _past_webinar(self, raw_id: str, missing: str) -> _Webinar:
        """The webinar whose participant lists are ready, or Zoom's 3001: for a webinar it does
        not hold (`missing`), and for one not ended or whose lists it is still preparing."""
        webinar = self._webinar(raw_id, missing=missing)
        if webinar.ended_at is None or self._clock() < webinar.ended_at + self.report_delay:
            raise ZoomRefusal(404, 3001, "Meeting ID is invalid or not end.")
        return webinar

    def _require_past_participants(self) -> None:
        if not self.past_participants:
            raise ZoomRefusal(400, 200, f"No permission. Only available for paid account: {self.account_id}.")

    def _past_participants(self, incoming: Incoming, raw_id: str) -> Reply:
        self._require_past_participants()
        webinar = self._past_webinar(raw_id, "Webinar does not exist.")
        return self._sessions_page(webinar, "past", incoming.query, lambda s: s.view())

    def _report_participants(self, incoming: Incoming, raw_id: str) -> Reply:
        wanted = incoming.query.get("include_fields")
        if wanted not in (None, "registrant_id"):
            raise _invalid([_problem("include_fields", "Must be one of: 'registrant_id'.")])
        webinar = self._past_webinar(raw_id, 'Webinar "{id}" not found or has expired')
        return self._sessions_page(webinar, "report", incoming.query, lambda s: s.report_view(wanted is not None))

    def _sessions_page(self, webinar: _Webinar, kind: str, query: dict, view: Callable[[_Session], dict]) -> Reply:
        ids, paging = self._page(("participants", kind, webinar.id), query, lambda: list(range(len(webinar.sessions))))
        del paging["page_number"]  # the participant lists page by token alone
        return Reply(200, {**paging, "participants": [view(webinar.sessions[i]) for i in ids]})

    def _past_absentees(self, incoming: Incoming, raw_id: str) -> Reply:
        self._require_past_participants()
        webinar = self._past_webinar(raw_id, "Meeting ID is invalid or not end.")
        if webinar.approval_type == NO_REGISTRATION:
            raise ZoomRefusal(400, 3000, f"This Webinar has not registration required: {webinar.uuid}")
        came = {s.registrant_id for s in webinar.sessions} | {s.email.lower() for s in webinar.sessions}

        def every_id() -> list:
            return [
                r.id
                for r in webinar.registrants.values()
                if r.status == "approved" and r.id not in came and r.email.lower() not in came
            ]

        ids, paging = self._page(("absentees", webinar.id), incoming.query, every_id)
        return Reply(200, {**paging, "registrants": [webinar.registrants[i].view() for i in ids]})

    # -- paging -------------------------------------------------------------------------------

    def _page(self, scope: tuple, query: dict, every_id: Callable[[], list]) -> tuple[list, dict]:
        """One page of ids and Zoom's paging fields. The first page snapshots the ids; the
        next_page_token carries on through that snapshot and expires after 15 minutes."""
        size = _int_param(query, "page_size", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX)
        token = query.get("next_page_token", "")
        if token:
            cursor = self._cursors.pop(token, None)
            if cursor is None or cursor.scope != scope or cursor.expires <= self._clock():
                raise ZoomRefusal(400, 300, "The next page token is invalid or expired.")  # Zoom does not say
            ids, offset = cursor.ids, cursor.offset
        else:
            ids = every_id()
            offset = (_int_param(query, "page_number", 1, 1, None) - 1) * size
        following = self._new_cursor(scope, ids, offset + size) if offset + size < len(ids) else ""
        paging = {
            "page_count": math.ceil(len(ids) / size),
            "page_number": offset // size + 1,
            "page_size": size,
            "total_records": len(ids),
            "next_page_token": following,
        }
        return ids[offset : offset + size], paging

    def _new_cursor(self, scope: tuple, ids: list, offset: int) -> str:
        now = self._clock()
        if len(self._cursors) > 1000:
            self._cursors = {t: c for t, c in self._cursors.items() if c.expires > now}
        token = secrets.token_urlsafe(24)
        self._cursors[token] = _Cursor(scope, ids, offset, now + PAGE_TOKEN_LIFETIME)
        return token

    # -- /_fake -------------------------------------------------------------------------------

    def _admin(self, incoming: Incoming) -> Reply:
        """The endpoints that are not Zoom's: steer the fake from another process."""
        method, path = incoming.method, incoming.path
        if (method, path) == ("GET", "/_fake/state"):
            return Reply(200, self.state())
        if (method, path) == ("POST", "/_fake/expire-tokens"):
            return Reply(200, {"expired": self.expire_tokens()})
        if path == "/_fake/faults" and method in ("GET", "POST"):
            return self._admin_faults(incoming)
        signup = re.fullmatch(r"/_fake/webinars/([^/]+)/registrants", path)
        if signup and method == "POST":
            body = incoming.json_object()
            registrant = self.add_registrant_from_zoom_page(signup.group(1), **_signup_fields(body))
            return Reply(201, registrant)
        attended = re.fullmatch(r"/_fake/webinars/([^/]+)/participants", path)
        if attended and method == "POST":
            return Reply(201, self.attend(attended.group(1), **_session_fields(incoming.json_object())))
        ended = re.fullmatch(r"/_fake/webinars/([^/]+)/end", path)
        if ended and method == "POST":
            at = incoming.json_object().get("at")
            return Reply(200, self.end_webinar(ended.group(1), _admin_time(at, "at") if at is not None else None))
        raise ZoomRefusal(404, 404, f"No such endpoint of the fake: {method} {path}")

    def _admin_faults(self, incoming: Incoming) -> Reply:
        if incoming.method == "GET":
            return Reply(200, {"faults": self.faults})
        try:
            faults = self.set_faults(**incoming.json_object())
        except (TypeError, ValueError) as exc:
            raise ZoomRefusal(400, 300, str(exc)) from None
        return Reply(200, {"faults": faults})


def _batch_fields(body: dict) -> tuple[list[dict], bool]:
    """The people of a batch body, each checked, and auto_approve."""
    people = body.get("registrants", [])
    if not isinstance(people, list):
        raise _invalid([_problem("registrants", "Invalid field.")])
    if len(people) > BATCH_LIMIT:
        raise _invalid([_problem("registrants", f"A batch holds at most {BATCH_LIMIT} registrants.")])
    auto_approve = body.get("auto_approve", False)
    problems: list[dict] = [] if isinstance(auto_approve, bool) else [_problem("auto_approve", "Invalid field.")]
    checked = []
    for index, person in enumerate(people):
        entry = _registrant_fields(person, f"registrants[{index}].", problems)
        checked.append({k: entry[k] for k in ("email", "first_name", "last_name") if k in entry})
    if problems:
        raise _invalid(problems)
    return checked, auto_approve


# The optional text fields of a panelist, as the add-panelists body lists them.
_PANELIST_EXTRAS = (
    "virtual_background_id",
    "name_tag_id",
    "name_tag_name",
    "name_tag_pronouns",
    "name_tag_description",
)
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _panelist_fields(body: dict) -> list[dict]:
    """The panelists of an add-panelists body, each checked; the whole body is refused when
    any entry is wrong, when it names no one, more than 30, or one address twice."""
    wanted = body.get("panelists")
    if not isinstance(wanted, list) or not all(isinstance(entry, dict) for entry in wanted) or not wanted:
        raise _invalid([_problem("panelists", "This field is required.")])
    if len(wanted) > PANELISTS_PER_CALL:
        raise _invalid([_problem("panelists", f"At most {PANELISTS_PER_CALL} panelists at a time.")])
    problems: list[dict] = []
    for index, entry in enumerate(wanted):
        _check_panelist(entry, f"panelists[{index}].", problems)
    addresses = [entry["email"].lower() if isinstance(entry.get("email"), str) else None for entry in wanted]
    _refuse_repeats(addresses, "panelists", problems)
    if problems:
        raise _invalid(problems)
    return [{k: entry[k] for k in ("email", "name", *_PANELIST_EXTRAS) if k in entry} for entry in wanted]


def _check_panelist(entry: dict, at: str, problems: list) -> None:
    _check_text(entry, "email", _REGISTRANT_TEXT["email"], problems, required=True, at=at)
    _check_text(entry, "name", PANELIST_NAME_LIMIT, problems, required=True, at=at)
    name = entry.get("name")
    if isinstance(name, str) and _CHINESE.search(name) and len(name) > PANELIST_CHINESE_NAME_LIMIT:
        problems.append(_problem(at + "name", "This value cannot exceed more than 12 Chinese characters."))
    for extra in _PANELIST_EXTRAS:
        _check_text(entry, extra, None, problems, at=at)


def _status_fields(body: dict) -> tuple[str, list[dict]]:
    """The action and the registrants ({id} and/or {email}) of a status update body."""
    problems = []
    action = body.get("action")
    if action not in ("approve", "deny", "cancel"):
        problems.append(_problem("action", "Must be one of: 'approve', 'deny', 'cancel'."))
    wanted = body.get("registrants", [])
    if not isinstance(wanted, list) or not all(isinstance(w, dict) for w in wanted):
        problems.append(_problem("registrants", "Invalid field."))
        wanted = []
    elif len(wanted) > STATUS_LIMIT:
        problems.append(_problem("registrants", f"At most {STATUS_LIMIT} registrants at a time."))
    for index, entry in enumerate(wanted):
        if not isinstance(entry.get("id"), str) and not isinstance(entry.get("email"), str):
            problems.append(_problem(f"registrants[{index}]", "Give the registrant's id or email."))
    if problems:
        raise _invalid(problems)
    return action, wanted


def _require_answers(webinar: _Webinar, person: dict) -> None:
    problems = _unanswered(person, webinar.questions, webinar.custom_questions)
    if problems:
        raise _invalid(problems)


def _decided(webinar: _Webinar, action: str, wanted: list[dict]) -> list[_Registrant]:
    """The registrants a status update names, or the refusal of the whole update. Zoom does not
    say how it answers for someone it does not hold, nor for a decision a registrant's state
    does not allow: the fake refuses the update and applies none of it, with the 3000 Zoom
    gives for an unknown registrant elsewhere, and refuses to deny an approved registration,
    which its document says is cancelled ("revoke a registrant's approval")."""
    found, problems = [], []
    for index, entry in enumerate(wanted):
        registrant = webinar.find(entry)
        if registrant is None:
            raise ZoomRefusal(400, 3000, f"Registrant {entry.get('id') or entry.get('email')} was not found.")
        if action == "deny" and registrant.status == "approved":
            problems.append(_problem(f"registrants[{index}]", "An approved registration is cancelled, not denied."))
        found.append(registrant)
    if problems:
        raise _invalid(problems)
    return found


def _signup_fields(body: dict) -> dict:
    """What Zoom's registration page asks for, out of an admin request's body."""
    missing = [name for name in ("email", "first_name") if not isinstance(body.get(name), str)]
    if missing:
        raise _invalid([_problem(name, "This field is required.") for name in missing])
    known = {*_REGISTRANT_TEXT, *_REGISTRANT_CHOICES, "custom_questions"}
    return {name: value for name, value in body.items() if name in known}


def _session_fields(body: dict) -> dict:
    """A session out of an admin request's body: `email`, `join_time` and `leave_time` (ISO
    instants with a zone), and maybe `name` and `registrant_id`."""
    if not isinstance(body.get("email"), str):
        raise _invalid([_problem("email", "This field is required.")])
    optional = {name: body[name] for name in ("name", "registrant_id") if isinstance(body.get(name), str)}
    joined, left = _admin_time(body.get("join_time"), "join_time"), _admin_time(body.get("leave_time"), "leave_time")
    if left < joined:
        raise _invalid([_problem("leave_time", "Must not be before join_time.")])
    return {"email": body["email"], "joined_at": joined, "left_at": left, **optional}


def _admin_time(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid([_problem(name, "An ISO 8601 instant with its offset, such as 2031-04-30T06:00:00Z.")])
    return moment


def _by_webinar(counts: Counter) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for (webinar_id, email), n in counts.items():
        result.setdefault(str(webinar_id), {})[email] = n
    return result


def _fault_note(fault: str | None) -> str:
    return f" ({fault})" if fault else ""


# The operations under /v2, with Zoom's rate category for each; the path groups are arguments.
_OPERATIONS: list[tuple[str, re.Pattern, Callable[..., Reply], str]] = [
    (method, re.compile(pattern), operation, category)
    for method, pattern, operation, category in (
        ("GET", r"/users/([^/]+)/webinars", FakeZoom._list_webinars, MEDIUM),
        ("POST", r"/users/([^/]+)/webinars", FakeZoom._create_webinar, LIGHT),
        ("GET", r"/webinars/([^/]+)", FakeZoom._get_webinar, LIGHT),
        ("PATCH", r"/webinars/([^/]+)", FakeZoom._update_webinar, LIGHT),
        ("DELETE", r"/webinars/([^/]+)", FakeZoom._delete_webinar, LIGHT),
        ("GET", r"/webinars/([^/]+)/registrants", FakeZoom._list_registrants, MEDIUM),
        ("POST", r"/webinars/([^/]+)/registrants", FakeZoom._add_registrant, LIGHT),
        ("PUT", r"/webinars/([^/]+)/registrants/status", FakeZoom._update_statuses, MEDIUM),
        ("GET", r"/webinars/([^/]+)/registrants/questions", FakeZoom._list_questions, LIGHT),
        ("GET", r"/webinars/([^/]+)/tracking_sources", FakeZoom._list_tracking_sources, MEDIUM),
        ("PATCH", r"/webinars/([^/]+)/registrants/questions", FakeZoom._update_questions, LIGHT),
        ("GET", r"/webinars/([^/]+)/registrants/([^/]+)", FakeZoom._get_registrant, LIGHT),
        ("DELETE", r"/webinars/([^/]+)/registrants/([^/]+)", FakeZoom._delete_registrant, LIGHT),
        ("POST", r"/webinars/([^/]+)/batch_registrants", FakeZoom._add_batch, HEAVY),
        ("GET", r"/webinars/([^/]+)/panelists", FakeZoom._list_panelists, MEDIUM),
        ("POST", r"/webinars/([^/]+)/panelists", FakeZoom._add_panelists, MEDIUM),
        ("DELETE", r"/webinars/([^/]+)/panelists", FakeZoom._remove_panelists, LIGHT),
        ("DELETE", r"/webinars/([^/]+)/panelists/([^/]+)", FakeZoom._remove_panelist, LIGHT),
        ("GET", r"/past_webinars/([^/]+)/participants", FakeZoom._past_participants, MEDIUM),
        ("GET", r"/past_webinars/([^/]+)/absentees", FakeZoom._past_absentees, HEAVY),
        ("GET", r"/report/webinars/([^/]+)/participants", FakeZoom._report_participants, HEAVY),
    )
]


def _match(method: str, path: str) -> tuple[Callable[..., Reply], str, list[str]]:
    for wanted, pattern, operation, category in _OPERATIONS:
        found = pattern.fullmatch(path)
        if found and wanted == method:
            return operation, category, [unquote(group) for group in found.groups()]
    raise ZoomRefusal(404, 404, f"The API {method} /v2{path} does not exist.")


# -- HTTP ---------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow or kept-alive connection must not hold up stop()
    request_queue_size = 128  # socketserver's 5 resets connections when many clients connect at once
    fake: FakeZoom

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout) or a connection the fake dropped on purpose is
        # part of the game, not an error worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, lets the fake answer it, writes the answer (or drops the connection)."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Zoom's front door allows
    # Headers and body leave in two writes; with Nagle's algorithm the body would wait ~40 ms
    # for the client's delayed ACK of the headers, on every request.
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return "ZOOM"  # what Zoom's Server header says

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.fake._lock:
                self.server.fake._connections.discard(self.connection)

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _answer(self) -> None:
        length = self.headers.get("Content-Length", "0")
        body = self.rfile.read(int(length)) if length.isdigit() and int(length) else b""
        reply = self.server.fake.handle(Incoming.parse(self.command, self.path, self.headers, body))
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:  # a 204 has no body and, by RFC 9110, no Content-Length
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the fake keeps its own log (FakeZoom.requests, and `log` if given)."""
