"""The `zoom` provider: Zoom's REST API v2, with Server-to-Server OAuth, through requests.

An organiser sets four keys (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET and, if the
host is not the app's owner, ZOOM_USER_ID); docs/zoom.md says how to get them.

The client keeps Zoom's rate limits on its own side (per category, at the plan's rate), so
a sync of thousands runs close to what the plan allows without tripping 429s. A per-second
429 is waited out; a daily-limit 429 is recorded with its reset time and the others go on.
5xx replies, timeouts and dropped connections are retried with backoff; a batch whose
answer was lost may have gone through, so before sending it again the client lists the
webinar's registrants and sends only those still missing. Nobody is registered twice.

Panelists (the speakers) are added 30 to a call, Zoom's maximum, with Zoom's own invitation
mail switched off on the webinars webinar-ops creates; Zoom's answer to an add holds no
panelist's id or link, so one listing afterwards gives each their own.

Tokens, the client secret, the host's `start_url` and the panelists' join links never reach
logs or errors, and the client keeps none of them in the store.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from webinar_ops import __version__, languages, times, validate
from webinar_ops.attendance import Join
from webinar_ops.definition import PERSON_QUESTIONS, ZOOM_STANDARD_QUESTIONS, Definition, RegistrationQuestion
from webinar_ops.errors import InputError, Problem
from webinar_ops.people import Person
from webinar_ops.providers import (
    AttendanceNotReady,
    HeldRegistrant,
    HostedWebinar,
    NewPanelist,
    Panelist,
    PanelistResult,
    ProviderError,
    Registration,
    RemoteRegistrant,
    chunks,
)
from webinar_ops.providers.zoom.settings import ZoomSettings

# Requests per second, by plan and category (Zoom's published limits).
PLAN_RATES = {
    "free": {"light": 4, "medium": 2, "heavy": 1},
    "pro": {"light": 30, "medium": 20, "heavy": 10},
    "business": {"light": 80, "medium": 60, "heavy": 40},
}
BATCH_SIZE = 30
PANELISTS_PER_CALL = 30  # the add-panelists body's maximum in Zoom's document
PANELIST_NAME_LIMIT = 64
PANELIST_CHINESE_NAME_LIMIT = 12  # Zoom: a name "cannot exceed more than 12 Chinese characters"
IN_FLIGHT = 4
PAGE_SIZE = 300
AGENDA_LIMIT = 2000
TOPIC_LIMIT = 200
TIMEOUT = (5, 30)  # seconds to connect, seconds to wait for an answer
ATTEMPTS = 8
TOKEN_MARGIN = timedelta(seconds=60)
# A token is fetched again once this share of its life is left, if that is less than the margin:
# a token that lives 30 s is renewed after 22.5 s, not before every call.
TOKEN_MARGIN_SHARE = 0.25
FRESH_TOKENS = 3  # fresh tokens tried when Zoom refuses them one after the other (code 124)
USER_AGENT = f"webinar-ops/{__version__} (+python-requests)"

# Codes after which no registration for the webinar can succeed: no point trying one by one.
_FATAL_FOR_WEBINAR = frozenset({3000, 3001, 200, 1001, 124, 3038, 3043})

_MESSAGES = {
    3000: "registration is not enabled on this webinar at Zoom: set [provider] approval to automatic or "
    "manual (Zoom's approval type 0 or 1), run `webinar-ops webinar add` with the definition, then "
    "`webinar-ops sync SLUG --republish`",
    3001: "the webinar does not exist at Zoom, or it is over: check [provider] webinar_id",
    200: "the Zoom account has no webinar plan: webinars need a Zoom Webinars licence for the host",
    1001: "the Zoom user does not exist in this account: check ZOOM_USER_ID",
    4711: "the Zoom app lacks a scope this needs: add {scopes} to the app's scopes in Zoom's App Marketplace",
}


class DailyLimit(ProviderError):
    """Zoom's daily limit is spent for this call; `reset` says when it may be tried again."""

    def __init__(self, message: str, reset: datetime):
        super().__init__(message)
        self.retry_after = reset


class ZoomError(ProviderError):
    """Zoom refused a request; `code` is Zoom's error code, `reason` Zoom's own words."""

    def __init__(self, message: str, code: int | None, reason: str = ""):
        super().__init__(message)
        self.code = code
        self.reason = reason


class Uncertain(ProviderError):
    """A write whose answer was lost: it may or may not have happened. `pending` says Zoom
    may still be working on it (the client gave up waiting), rather than having dropped it."""

    def __init__(self, message: str, pending: bool = False):
        super().__init__(message)
        self.pending = pending


class RateLimiter:
    """At most `rate` requests of a category in any one-second window, as Zoom counts them.

    Zoom counts a request when it arrives, which is some time after it was sent and before
    its answer is back. So a request holds its place from when it is sent until one second
    after its answer came: a new one goes only when fewer than `rate` are in flight or were
    answered in the last second. Then, whatever the network's delays, no `rate + 1` requests
    ever reach Zoom within one second, and a burst of `rate` still goes at once.
    """

    def __init__(self, rates: dict[str, int], clock: Any = time.monotonic):
        self.rates = rates
        self._answered: dict[str, deque[float]] = {category: deque() for category in rates}
        self._in_flight: dict[str, int] = dict.fromkeys(rates, 0)
        self._changed = threading.Condition()
        self._clock = clock

    @contextmanager
    def slot(self, category: str) -> Iterator[None]:
        """Wait for a place in `category`'s window, hold it while the request is out, and
        keep it for one second after the answer."""
        self._take(category)
        try:
            yield
        finally:
            with self._changed:
                self._in_flight[category] -= 1
                self._answered[category].append(self._clock())
                self._changed.notify_all()

    def _take(self, category: str) -> None:
        answered = self._answered[category]
        with self._changed:
            while True:
                now = self._clock()
                while answered and answered[0] <= now - 1.0:
                    answered.popleft()
                if len(answered) + self._in_flight[category] < self.rates[category]:
                    self._in_flight[category] += 1
                    return
                self._changed.wait(timeout=answered[0] + 1.0 - now if answered else None)


@dataclass(frozen=True)
class Credentials:
    account_id: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"Credentials(account_id={self.account_id!r}, client_id={self.client_id!r}, client_secret=***)"


class ZoomClient:
    """Zoom's REST API: OAuth, rate limits, retries and error messages. No webinar logic."""

    def __init__(
        self,
        credentials: Credentials,
        api_url: str,
        oauth_url: str,
        plan: str = "pro",
        timeout: tuple[float, float] = TIMEOUT,
    ):
        self.credentials = credentials
        self.timeout = timeout
        self.read_timeout = timeout[1]
        self.api_url = api_url.rstrip("/")
        self.oauth_url = oauth_url
        self.limiter = RateLimiter(PLAN_RATES[plan])
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._token: str | None = None
        self._token_renew_at = datetime.min.replace(tzinfo=UTC)
        self._token_lock = threading.Lock()

    # -- OAuth ----------------------------------------------------------------------------

    def token(self, refused: str | None = None) -> str:
        """The access token, fetched again near the end of its life (see `renewal_time`), or
        when Zoom refused `refused` and that is still the current one. Calls in flight that
        all see the same token expire share the one new token instead of each fetching their own."""
        with self._token_lock:
            stale = refused is not None and refused == self._token
            if stale or self._token is None or datetime.now(UTC) >= self._token_renew_at:
                self._token, self._token_renew_at = self._fetch_token()
            return self._token

    def _fetch_token(self) -> tuple[str, datetime]:
        """A new token from Zoom's OAuth server, and when to renew it."""
        c = self.credentials
        try:
            response = self.session.post(
                self.oauth_url,
                auth=(c.client_id, c.client_secret),
                data={"grant_type": "account_credentials", "account_id": c.account_id},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ProviderError(
                f"cannot reach Zoom's OAuth server at {self.oauth_url} ({type(exc).__name__}): check ZOOM_OAUTH_URL "
                "and the network"
            ) from None
        if response.status_code != 200:
            reason = _json(response).get("reason") or _json(response).get("error") or response.reason
            raise ProviderError(
                f"Zoom refused the app's credentials ({reason}): check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and "
                f"ZOOM_CLIENT_SECRET{_tracking(response)}"
            )
        body = _json(response)
        return body["access_token"], renewal_time(datetime.now(UTC), int(body.get("expires_in", 3600)))

    # -- requests -------------------------------------------------------------------------

    def call(
        self, method: str, path: str, category: str, body: Any = None, params: dict | None = None, safe: bool = True
    ) -> requests.Response:
        """One API call, with rate limiting and retries. `safe` says whether it may be sent
        again when its answer was lost or was a 5xx (Zoom may have applied it before failing);
        an unsafe one raises Uncertain instead, and the caller checks what Zoom holds."""
        refused_tokens = 0
        last = "no answer"
        for attempt in range(1, ATTEMPTS + 1):
            token = self.token()
            try:
                with self.limiter.slot(category):
                    response = self.session.request(
                        method,
                        f"{self.api_url}{path}",
                        json=body,
                        params=params,
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=self.timeout,
                    )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not safe:
                    pending = isinstance(exc, requests.ReadTimeout)
                    raise Uncertain(f"Zoom's answer was lost ({type(exc).__name__})", pending) from None
                last = f"the connection failed ({type(exc).__name__})"
                self._pause(attempt)
                continue
            code = _json(response).get("code") if response.status_code >= 400 else None
            if response.status_code == 401 and code == 124:
                refused_tokens += 1
                if refused_tokens > FRESH_TOKENS:
                    raise _tokens_revoked(refused_tokens, response)
                if refused_tokens > 1:
                    self._pause(refused_tokens)  # a revocation on Zoom's side may take a moment
                self.token(refused=token)
                continue
            if response.status_code == 429:
                self._wait_out_429(response, attempt)
                last = "Zoom's per-second rate limit (429)"
                continue
            if response.status_code >= 500:
                if not safe:
                    pending = response.status_code == 504
                    raise Uncertain(f"Zoom answered {response.status_code}{_tracking(response)}", pending)
                last = f"HTTP {response.status_code}{_tracking(response)}"
                self._pause(attempt)
                continue
            if response.status_code >= 300:
                raise zoom_error(response)
            return response
        raise ProviderError(
            f"Zoom did not carry out {method} {path} in {ATTEMPTS} attempts (last: {last}); try again later"
        )

    def _wait_out_429(self, response: requests.Response, attempt: int) -> None:
        message = _json(response).get("message", "")
        # The X-RateLimit-* headers are sometimes absent: Zoom's message also names a daily limit.
        daily = response.headers.get("X-RateLimit-Type", "").lower().startswith("daily") or "daily" in message.lower()
        if daily:
            reset = _parse_reset(response.headers.get("Retry-After"))
            raise DailyLimit(
                f"Zoom's daily limit is reached; it resets at {times.iso_utc(reset)}: {message}{_tracking(response)}",
                reset,
            )
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            time.sleep(min(int(retry_after), 60))
        else:
            self._pause(attempt)

    @staticmethod
    def _pause(attempt: int) -> None:
        time.sleep(min(0.25 * 2 ** (attempt - 1), 8.0))


def renewal_time(fetched: datetime, lifetime: int) -> datetime:
    """When to fetch a token again that was fetched at `fetched` and lives `lifetime` seconds:
    a minute before it expires, or a quarter of its life before if it lives under four minutes."""
    margin = min(TOKEN_MARGIN, timedelta(seconds=lifetime * TOKEN_MARGIN_SHARE))
    return fetched + timedelta(seconds=lifetime) - margin


def _tokens_revoked(refused: int, response: requests.Response) -> ProviderError:
    return ProviderError(
        f"Zoom refused {refused} fresh access tokens in a row (Zoom 124: invalid access token): the app's tokens "
        "were revoked, which is usually brief; the calls were retried, so try again in a few minutes, and if it "
        f"persists check that the app is activated in Zoom's App Marketplace{_tracking(response)}"
    )


def zoom_error(response: requests.Response) -> ZoomError:
    """A Zoom error reply as a sentence for the organiser, with Zoom's tracking id."""
    body = _json(response)
    code = body.get("code")
    message = body.get("message") or response.reason
    fields = [f"{e.get('field')}: {e.get('message')}" for e in body.get("errors", []) if isinstance(e, dict)]
    if code in _MESSAGES:
        text = f"{_MESSAGES[code].format(scopes=_scopes_named(message))} (Zoom {code}: {message})"
    elif fields:
        text = f"Zoom refused a field: {'; '.join(fields)} (Zoom {code})"
    else:
        text = f"Zoom refused the request: {message} (HTTP {response.status_code}, Zoom code {code})"
    return ZoomError(text + _tracking(response), code, f"Zoom {code}: {message}{_tracking(response)}")


def _scopes_named(message: str) -> str:
    """The scopes Zoom's 4711 message names ("…does not contain scopes:[a, b]"), or a hint."""
    found = re.search(r"scopes?:\s*\[([^\]]*)\]", message)
    return found.group(1).strip() if found and found.group(1).strip() else "the scope Zoom names below"


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _tracking(response: requests.Response) -> str:
    tracking = response.headers.get("x-zm-trackingid")
    return f" [x-zm-trackingid {tracking}]" if tracking else ""


def _parse_reset(value: str | None) -> datetime:
    """Retry-After on a daily 429 is an ISO date-time; without one, the next 00:00 UTC."""
    if value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)


class ZoomProvider:
    """Webinars and registrants at Zoom."""

    name = "zoom"
    # sync hands over this many at a time; they go to Zoom 30 a call, a few calls in flight, so
    # that the rate limit, not the round trip, sets the pace.
    batch_size = BATCH_SIZE * 10

    def __init__(self, client: ZoomClient, user_id: str = "me"):
        self.client = client
        self.user_id = user_id

    # -- the webinar --------------------------------------------------------------------

    def _webinars_path(self) -> str:
        # The id is checked where it is configured; quoting keeps it one path segment anyway.
        return f"/users/{quote(self.user_id, safe='@')}/webinars"

    def publish(self, definition: Definition, webinar_id: str | None) -> HostedWebinar:
        # A webinar attached to ([provider] webinar_id) was made by its host: the agenda and
        # the contact shown on Zoom's site are theirs to keep.
        body = webinar_body(definition, hosts_own=not definition.provider.creates)
        if webinar_id is None:
            created = self._create(body)
            try:
                self._ask_questions(str(created["id"]), definition, created=True)
            except ProviderError as exc:
                # The webinar exists now: it must be recorded, or the next sync makes another.
                return replace(_hosted(created), problem=f"its registration questions were not set: {exc}")
            return _hosted(created)
        current = _json(self.client.call("GET", f"/webinars/{webinar_id}", "light"))
        asked = self._ask_questions(webinar_id, definition)
        if not _differs(current, body):
            return _hosted(current, updated=asked)
        # Each host has 100 creates and updates a day: update only what changed.
        self.client.call("PATCH", f"/webinars/{webinar_id}", "light", body=body)
        return _hosted(_json(self.client.call("GET", f"/webinars/{webinar_id}", "light")))

    def _ask_questions(self, webinar_id: str, definition: Definition, created: bool = False) -> bool:
        """Make Zoom's registration form ask the definition's questions; True when it changed.
        A webinar its host made keeps its own form while the definition asks nothing."""
        questions = definition.registration.questions
        if not questions and (created or not definition.provider.creates):
            return False  # a new webinar's form asks nothing more already; a host's own stays theirs
        form = registration_form(questions)
        if not created and self.registration_questions(webinar_id) == form:
            return False
        self.set_registration_questions(webinar_id, form["questions"], form["custom_questions"])
        return True

    def _create(self, body: dict) -> dict:
        path = self._webinars_path()
        try:
            return _json(self.client.call("POST", path, "light", body=body, safe=False))
        except Uncertain as exc:
            found = self._await_created(body) if exc.pending else self._find_created(body)
            if found:
                return found
            return _json(self.client.call("POST", path, "light", body=body, safe=False))

    def _await_created(self, body: dict) -> dict | None:
        """Look for a webinar whose create went unanswered. Zoom may still be working on a
        request the client gave up on, so keep looking for twice the answer timeout before
        concluding that it never arrived."""
        deadline = time.monotonic() + 2 * self.client.read_timeout
        pause = 0.25
        while not (found := self._find_created(body)) and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(pause, left))
            pause *= 2
        return found

    def _find_created(self, body: dict) -> dict | None:
        listing = _json(self.client.call("GET", self._webinars_path(), "medium", params={"page_size": 300}))
        for webinar in listing.get("webinars", []):
            if webinar.get("topic") == body["topic"] and webinar.get("start_time") == body["start_time"]:
                return _json(self.client.call("GET", f"/webinars/{webinar['id']}", "light"))
        return None

    # -- registrants ----------------------------------------------------------------------

    def register(self, webinar_id: str, people: Sequence[Person], approve: bool) -> list[Registration]:
        # A batch carries no answers (Zoom's batch_registrants takes names only): whoever
        # answered questions is added alone, with their answers.
        answering = [person for person in people if person.answers]
        in_batches = [person for person in people if not person.answers]
        results: dict[str, Registration] = {}
        with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="zoom") as pool:
            for answered in pool.map(
                lambda batch: self._batch_outcome(webinar_id, batch, approve), chunks(in_batches, BATCH_SIZE)
            ):
                results.update(answered)
            added = list(pool.map(lambda p: self._add_one(webinar_id, p, approve), answering))
        results.update((r.email, r) for r in self._approved_after_adding(webinar_id, added, approve))
        return [results[a.email] for a in people]

    def _approved_after_adding(self, webinar_id: str, added: list[Registration], approve: bool) -> list[Registration]:
        """Single adds take no `auto_approve`: on a webinar approved by hand, Zoom holds them
        pending, so those to be approved are approved by a decision (30 to a call; on a
        webinar that approves everyone it changes nothing). One Zoom would not approve stays
        pending there, as its Registration says."""
        done = [r for r in added if r.ok]
        if not approve or not done:
            return added
        refused = {
            r.registrant_id for r in self.approve(webinar_id, [{"id": r.registrant_id} for r in done]) if not r.ok
        }
        return [replace(r, status="pending") if r.ok and r.registrant_id in refused else r for r in added]

    def _batch_outcome(
        self, webinar_id: str, batch: Sequence[Person], approve: bool, tries: int = ATTEMPTS
    ) -> dict[str, Registration]:
        """One batch's registrations; a failure is this batch's alone, never its neighbours'."""
        try:
            return self._register_batch(webinar_id, batch, approve, tries)
        except ProviderError as exc:
            retry_after = getattr(exc, "retry_after", None)
            return {a.email: Registration(a.email, error=str(exc), retry_after=retry_after) for a in batch}

    def _register_batch(
        self, webinar_id: str, batch: Sequence[Person], approve: bool, tries: int = ATTEMPTS
    ) -> dict[str, Registration]:
        status = "approved" if approve else "pending"
        body = {"auto_approve": approve, "registrants": [_batch_entry(a) for a in batch]}
        try:
            response = self.client.call(
                "POST", f"/webinars/{webinar_id}/batch_registrants", "heavy", body=body, safe=False
            )
        except Uncertain as exc:
            if tries <= 1:
                return {a.email: Registration(a.email, error=str(exc)) for a in batch}
            if exc.pending:
                time.sleep(self.client.read_timeout)  # let Zoom finish what it may still be doing
            return self._after_lost_batch(webinar_id, batch, approve, tries - 1)
        except DailyLimit:
            return self._one_by_one(webinar_id, batch, approve)  # find out whose cap is spent
        except ZoomError as exc:
            if exc.code in _FATAL_FOR_WEBINAR:
                return {a.email: Registration(a.email, error=str(exc)) for a in batch}
            return self._one_by_one(webinar_id, batch, approve)  # e.g. batch refused for a non-type-5 webinar
        answered = {r["email"].lower(): r for r in _json(response).get("registrants", [])}
        results = {}
        for person in batch:
            entry = answered.get(person.email)
            results[person.email] = (
                Registration(person.email, entry.get("registrant_id"), status, entry.get("join_url"))
                if entry
                else Registration(person.email, error="Zoom's answer did not include this person")
            )
        return results

    def _after_lost_batch(
        self, webinar_id: str, batch: Sequence[Person], approve: bool, tries: int
    ) -> dict[str, Registration]:
        """The batch may have gone through: take whom Zoom now holds, send only the rest."""
        held = {r.email: r for r in self.registrants(webinar_id)}
        results = {
            a.email: Registration(a.email, held[a.email].registrant_id, held[a.email].status, held[a.email].join_url)
            for a in batch
            if a.email in held
        }
        missing = [a for a in batch if a.email not in held]
        if missing:
            results.update(self._batch_outcome(webinar_id, missing, approve, tries))
        return results

    def _one_by_one(self, webinar_id: str, batch: Sequence[Person], approve: bool) -> dict[str, Registration]:
        return {a.email: self._add_one(webinar_id, a, approve) for a in batch}

    def _add_one(self, webinar_id: str, person: Person, approve: bool) -> Registration:
        """Add one person with everything Zoom keeps of them, their answers too. The single
        add has no `auto_approve`: a manual webinar's registrant is approved by a decision."""
        try:
            # Adding an address Zoom already holds returns that registrant, so a retry is safe.
            response = self.client.call(
                "POST", f"/webinars/{webinar_id}/registrants", "light", body=_single_entry(person)
            )
        except DailyLimit as exc:
            return Registration(person.email, error=str(exc), retry_after=exc.retry_after)
        except ProviderError as exc:
            return Registration(person.email, error=str(exc))
        body = _json(response)
        return Registration(
            person.email, body.get("registrant_id"), "approved" if approve else "pending", body.get("join_url")
        )

    def registrants(self, webinar_id: str) -> Iterator[RemoteRegistrant]:
        sources = self._sources_by_address(webinar_id)
        for status in ("pending", "approved", "denied"):
            yield from self._pages(webinar_id, status, sources)

    def _pages(self, webinar_id: str, status: str, sources: dict[str, str]) -> Iterator[RemoteRegistrant]:
        for entry in self._listed_registrants(webinar_id, status):
            email = str(entry.get("email", "")).lower()
            yield RemoteRegistrant(
                email=email,
                first_name=entry.get("first_name") or "",
                last_name=entry.get("last_name"),
                status=entry.get("status") or status,
                registrant_id=str(entry.get("id")),
                join_url=entry.get("join_url"),
                language=languages.from_provider(entry.get("language")),
                tracking_source=sources.get(email),
                answers=listed_answers(entry),
                **{field: _text(entry.get(name)) for field, name in PERSON_QUESTIONS.items()},
            )

    def tracking_sources(self, webinar_id: str) -> list[dict]:
        """The webinar's source tracking links at Zoom, in Zoom's shape (`id`, `source_name`,
        `tracking_url`, `registration_count`, `visitor_count`); none for a webinar Zoom
        refuses to list them for."""
        try:
            listed = self.client.call("GET", f"/webinars/{webinar_id}/tracking_sources", "medium")
        except ZoomError:
            return []  # sources are only counted: a refusal must not stop the sync
        return [source for source in _json(listed).get("tracking_sources") or [] if isinstance(source, dict)]

    def _sources_by_address(self, webinar_id: str) -> dict[str, str]:
        """Who signed up through which tracking source, by lower-case address, as the token
        webinar-ops keeps (see `source_token`): Zoom's listing does not say, so each source's
        registrants are listed on their own. One listing call when there is no source."""
        found: dict[str, str] = {}
        for source in self.tracking_sources(webinar_id):
            token = source_token(source.get("source_name"))
            if token is None or not source.get("id") or not source.get("registration_count"):
                continue
            for status in ("pending", "approved", "denied"):
                for entry in self._listed_registrants(webinar_id, status, tracking_source_id=str(source["id"])):
                    found.setdefault(str(entry.get("email", "")).lower(), token)
        return found

    # -- after the end: who attended -------------------------------------------------------

    def attendance(self, webinar_id: str) -> list[Join]:
        """Every session someone spent in the webinar, from the past webinar's participants
        (one row per session: someone who rejoined is there twice), or from the report API
        where the plan refuses those (Zoom's code 200). Zoom answers 3001 both for a webinar it
        does not hold and for one whose lists it is still preparing after the end: the client
        asks for the webinar itself to tell them apart, and raises AttendanceNotReady for the
        second. A daily limit spent is not ready either, until its reset."""
        try:
            try:
                rows = self._participants(f"/past_webinars/{webinar_id}/participants", "medium", {})
            except ZoomError as exc:
                if exc.code != _NO_PERMISSION:
                    raise
                report = {"include_fields": "registrant_id"}  # else the report leaves registrant ids out
                rows = self._participants(f"/report/webinars/{webinar_id}/participants", "heavy", report)
        except ZoomError as exc:
            raise self._attendance_refusal(webinar_id, exc) from None
        except DailyLimit as exc:
            raise AttendanceNotReady(
                f"the participant lists wait for Zoom's daily limit: {exc}", exc.retry_after
            ) from None
        return [participant_join(row) for row in rows]

    def _participants(self, path: str, category: str, params: dict) -> list[dict]:
        rows, token = [], ""
        while True:
            asked = {**params, "page_size": PAGE_SIZE} | ({"next_page_token": token} if token else {})
            page = _json(self.client.call("GET", path, category, params=asked))
            rows += [row for row in page.get("participants") or [] if isinstance(row, dict)]
            token = page.get("next_page_token") or ""
            if not token:
                return rows

    def _attendance_refusal(self, webinar_id: str, exc: ZoomError) -> ProviderError:
        """Why Zoom gave no participants, as the error to raise."""
        if exc.code == 3001:
            try:
                self.client.call("GET", f"/webinars/{webinar_id}", "light")
            except ZoomError as missing:
                return missing  # the webinar itself is gone: its error says so
            return AttendanceNotReady(f"Zoom has not prepared the webinar's participant lists yet ({exc.reason})")
        if exc.code == _NO_PERMISSION:
            return ZoomError(
                "the Zoom account's plan lists no participants of past webinars, and its report API refused them "
                f"too: they need a Pro or higher plan with the webinar add-on ({exc.reason})",
                exc.code,
                exc.reason,
            )
        return exc

    # -- panelists: the speakers, apart from the registrants -----------------------------------

    def add_panelists(self, webinar_id: str, speakers: Sequence[NewPanelist]) -> list[PanelistResult]:
        """Make the speakers panelists, PANELISTS_PER_CALL to a call, then list the webinar's
        panelists once: Zoom's answer to an add holds neither their ids nor their join links.
        Whoever the listing holds is a panelist, whatever the answer to their call was (a lost
        answer, a retry of someone added already); the others get the error of their call.
        An address given twice is added once."""
        unique: dict[str, NewPanelist] = {}
        for speaker in speakers:
            unique.setdefault(speaker.email.lower(), speaker)
        refused = self._post_panelists(webinar_id, list(unique.values()))
        try:
            held = {panelist.email.lower(): panelist for panelist in self.panelists(webinar_id)}
        except ProviderError as exc:
            return [_not_a_panelist(s, refused.get(s.email.lower(), exc)) for s in speakers]
        return [_panelist_outcome(speaker, held, refused) for speaker in speakers]

    def _post_panelists(self, webinar_id: str, speakers: Sequence[NewPanelist]) -> dict[str, ProviderError]:
        """Send the adds, a call per PANELISTS_PER_CALL; the errors by lower-case address. After
        an error no add can succeed after (no such webinar, no plan), the rest are not sent."""
        refused: dict[str, ProviderError] = {}
        fatal: ProviderError | None = None
        for batch in chunks(speakers, PANELISTS_PER_CALL):
            try:
                if fatal:
                    raise fatal
                body = {"panelists": [panelist_entry(speaker) for speaker in batch]}
                # Adding a panelist again gives them back as they are: a lost answer may be sent again.
                self.client.call("POST", f"/webinars/{webinar_id}/panelists", "medium", body=body)
            except ProviderError as exc:
                refused.update((speaker.email.lower(), exc) for speaker in batch)
                if isinstance(exc, ZoomError) and exc.code in _FATAL_FOR_WEBINAR:
                    fatal = exc
        return refused

    def panelists(self, webinar_id: str) -> list[Panelist]:
        """The webinar's panelists at Zoom, each with Zoom's id for them and their join link
        (Zoom lists them all in one answer: the listing has no pages)."""
        listed = _json(self.client.call("GET", f"/webinars/{webinar_id}/panelists", "medium"))
        return [listed_panelist(entry) for entry in listed.get("panelists") or [] if _is_panelist_entry(entry)]

    def remove_panelist(self, webinar_id: str, panelist_id: str, email: str) -> None:
        """Remove one panelist, by Zoom's id for them or else their address (Zoom takes
        either). One Zoom does not hold (its 404 code 1001), or whose webinar is gone (3001),
        counts as removed."""
        who = quote(panelist_id or email, safe="@")
        try:
            self.client.call("DELETE", f"/webinars/{webinar_id}/panelists/{who}", "light")
        except ZoomError as exc:
            if exc.code not in (_NO_SUCH_PANELIST, 3001):
                raise

    def remove_all_panelists(self, webinar_id: str) -> None:
        """Remove every panelist of the webinar (Zoom's DELETE /webinars/{id}/panelists); a
        webinar Zoom no longer holds has none left."""
        try:
            self.client.call("DELETE", f"/webinars/{webinar_id}/panelists", "light")
        except ZoomError as exc:
            if exc.code != 3001:
                raise

    def cancel_webinar(self, webinar_id: str) -> None:
        params = {"cancel_webinar_reminder": "false"}  # webinar-ops sends the cancellation itself
        try:
            self.client.call("DELETE", f"/webinars/{webinar_id}", "light", params=params)
        except ZoomError as exc:
            if exc.code != 3001:  # 3001: no such webinar (any more): nothing left to cancel
                raise

    def delete_webinar(self, webinar_id: str) -> None:
        # Zoom has one operation for both: DELETE /webinars/{id} removes the webinar and its
        # registrations; cancel_webinar_reminder=false keeps Zoom from mailing anyone.
        self.cancel_webinar(webinar_id)

    def cancel(self, webinar_id: str, registrant_id: str, email: str) -> None:
        body = {"action": "cancel", "registrants": [{"id": registrant_id, "email": email}]}
        self.client.call("PUT", f"/webinars/{webinar_id}/registrants/status", "medium", body=body)

    # -- the registration form, its answers, and decisions on registrants ---------------------

    def registration_questions(self, webinar_id: str) -> dict[str, list[dict]]:
        """The webinar's registration form at Zoom, in Zoom's shapes: `questions`, the standard
        fields asked besides email and first name (`{"field_name": "org", "required": True}`),
        and `custom_questions` (`{"title", "type", "required", "answers"}`, the type one of
        short, single_radio, single_dropdown, multiple). Both lists are there, maybe empty."""
        form = _json(self.client.call("GET", f"/webinars/{webinar_id}/registrants/questions", "light"))
        return {name: list(form.get(name) or []) for name in ("questions", "custom_questions")}

    def set_registration_questions(
        self,
        webinar_id: str,
        questions: Sequence[dict] | None = None,
        custom_questions: Sequence[dict] | None = None,
    ) -> None:
        """Replace the webinar's standard fields and/or custom questions at Zoom, given in the
        shapes `registration_questions` returns. A list left as None stays as Zoom holds it; an
        empty one asks nothing more. Zoom's refusal of a form raises ZoomError, naming the field."""
        form = {
            name: [dict(item) for item in given]
            for name, given in (("questions", questions), ("custom_questions", custom_questions))
            if given is not None
        }
        if form:
            # A replacement: sending it again after a lost answer does no harm.
            self.client.call("PATCH", f"/webinars/{webinar_id}/registrants/questions", "light", body=form)

    def registration_answers(self, webinar_id: str) -> dict[str, dict]:
        """What each registrant (any status) answered, by lower-case address: the standard
        fields they filled in (`org`, `job_title`, …) and `custom_questions`, a list of
        `{"title", "value"}` as Zoom keeps them."""
        answers = {}
        for status in ("pending", "approved", "denied"):
            for entry in self._listed_registrants(webinar_id, status):
                filled = {name: entry[name] for name in _ANSWER_FIELDS if entry.get(name)}
                filled["custom_questions"] = list(entry.get("custom_questions") or [])
                answers[str(entry.get("email", "")).lower()] = filled
        return answers

    def _listed_registrants(self, webinar_id: str, status: str, **narrowed: str) -> Iterator[dict]:
        token = ""
        while True:
            params = {"status": status, "page_size": PAGE_SIZE, **narrowed}
            params |= {"next_page_token": token} if token else {}
            page = _json(self.client.call("GET", f"/webinars/{webinar_id}/registrants", "medium", params=params))
            yield from page.get("registrants", [])
            token = page.get("next_page_token") or ""
            if not token:
                return

    def approve(self, webinar_id: str, registrants: Sequence[dict]) -> list[Registration]:
        """Approve registrants at Zoom. Each is given in Zoom's shape, `{"id": …, "email": …}`
        (either will do); they go DECISIONS_PER_CALL to a call, Zoom's maximum. The answer has
        one Registration per registrant, in order: status "approved", or the error Zoom gave
        for them (see `_decide_batch`)."""
        return self._decide(webinar_id, "approve", registrants)

    def deny(self, webinar_id: str, registrants: Sequence[dict]) -> list[Registration]:
        """Deny registrants at Zoom (pending ones: an approved registration is cancelled
        instead), as `approve` does: DECISIONS_PER_CALL to a call, one Registration each."""
        return self._decide(webinar_id, "deny", registrants)

    def decide(self, webinar_id: str, people: Sequence[HeldRegistrant], approved: bool) -> list[Registration]:
        """The organiser's decisions on registrants Zoom holds, DECISIONS_PER_CALL to a status
        update (`approve` or `deny`); one Registration per person, in order, those Zoom refuses
        (one it approved meanwhile cannot be denied) failing alone."""
        entries = [{"id": person.registrant_id, "email": person.email} for person in people]
        return self.approve(webinar_id, entries) if approved else self.deny(webinar_id, entries)

    def _decide(self, webinar_id: str, action: str, registrants: Sequence[dict]) -> list[Registration]:
        decided: list[Registration] = []
        for batch in chunks(list(registrants), DECISIONS_PER_CALL):
            decided += self._decide_batch(webinar_id, action, batch)
        return decided

    def _decide_batch(
        self, webinar_id: str, action: str, batch: Sequence[dict], alone: bool = False
    ) -> list[Registration]:
        """One status update. When Zoom refuses it (a registrant it does not hold or whose
        state forbids the decision, or one whose daily cap of decisions is spent), each one is
        sent alone, so that only those Zoom refuses fail. A decision taken twice is the same
        decision, so a lost answer is simply sent again."""
        status = _DECIDED[action]
        body = {"action": action, "registrants": [_decision_entry(entry) for entry in batch]}
        try:
            self.client.call("PUT", f"/webinars/{webinar_id}/registrants/status", "medium", body=body)
        except (DailyLimit, ZoomError) as exc:
            fatal = isinstance(exc, ZoomError) and exc.code in _FATAL_FOR_WEBINAR - {3000}
            if alone or fatal:
                return [_undecided(entry, exc) for entry in batch]
            return [r for entry in batch for r in self._decide_batch(webinar_id, action, [entry], alone=True)]
        except ProviderError as exc:
            return [_undecided(entry, exc) for entry in batch]
        return [Registration(entry.get("email") or "", entry.get("id"), status) for entry in batch]


# Zoom's code for "No permission" on the participant lists (also "no webinar plan" elsewhere).
_NO_PERMISSION = 200
# Zoom's code when removing a panelist the webinar does not hold (its document: "User {email}
# does not exist or does not belong to this account").
_NO_SUCH_PANELIST = 1001
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def panelist_entry(speaker: NewPanelist) -> dict:
    """A speaker as an entry of Zoom's add-panelists body: the address, and the name within
    Zoom's limits (64 characters, 12 when it holds Chinese characters); a blank name is the
    address's local part, as Zoom needs one."""
    name = " ".join(speaker.name.split()) or speaker.email.partition("@")[0]
    limit = PANELIST_CHINESE_NAME_LIMIT if _CHINESE.search(name) else PANELIST_NAME_LIMIT
    return {"email": speaker.email, "name": name[:limit].rstrip()}


def _is_panelist_entry(entry: object) -> bool:
    return isinstance(entry, dict) and bool(_text(entry.get("id"))) and bool(_text(entry.get("email")))


def listed_panelist(entry: dict) -> Panelist:
    """One entry of Zoom's panelist listing as a Panelist, its address in lower case."""
    return Panelist(
        panelist_id=str(entry["id"]),
        email=str(entry["email"]).lower(),
        name=_text(entry.get("name")) or "",
        join_url=_text(entry.get("join_url")),
    )


def _panelist_outcome(
    speaker: NewPanelist, held: dict[str, Panelist], refused: dict[str, ProviderError]
) -> PanelistResult:
    panelist = held.get(speaker.email.lower())
    if panelist is not None:
        return PanelistResult(speaker.email, panelist.panelist_id, panelist.join_url)
    why = refused.get(speaker.email.lower()) or ProviderError("Zoom's panelist list does not hold this speaker")
    return _not_a_panelist(speaker, why)


def _not_a_panelist(speaker: NewPanelist, exc: ProviderError) -> PanelistResult:
    return PanelistResult(speaker.email, error=str(exc), retry_after=getattr(exc, "retry_after", None))


def participant_join(row: dict) -> Join:
    """One row of Zoom's participant lists (one session) as a Join. Zoom's `duration` is in
    seconds; an empty `user_email` (someone outside the host's account) is no address."""
    duration = row.get("duration")
    return Join(
        email=_text(row.get("user_email")),
        provider_registrant_id=_text(row.get("registrant_id")),
        joined_at=_zoom_instant(row.get("join_time")),
        left_at=_zoom_instant(row.get("leave_time")),
        minutes=round(duration / 60) if isinstance(duration, int) and duration >= 0 else None,
    )


def _zoom_instant(value: object) -> datetime | None:
    """An instant as Zoom writes it (`2019-02-01T12:34:12Z`, maybe with milliseconds)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


# Zoom's maximum of registrants in one status update (its OpenAPI document and zoom-api.md: 30).
DECISIONS_PER_CALL = 30
_DECIDED = {"approve": "approved", "deny": "denied"}
# The standard fields a registration form may ask for (Zoom's registrants/questions field names).
_ANSWER_FIELDS = (
    "last_name address city country zip state phone industry org job_title purchasing_time_frame "
    "role_in_purchase_process no_of_employees comments"
).split()


def source_token(source_name: object) -> str | None:
    """A Zoom tracking source's name (the host's words: `LinkedIn`, `UN newsletter`, a link) as
    the short token webinar-ops keeps (validate.tracking_source): lower case, each run of other
    characters as one `-`, cut to its bound; None when nothing is left."""
    if not isinstance(source_name, str):
        return None
    words = re.sub(r"[^a-z0-9._]+", "-", source_name.strip().lower()).strip("-._")
    token = words[: validate.MAX_TRACKING_SOURCE].strip("-._")
    try:
        return validate.tracking_source(token) if token else None
    except ValueError:
        return None


def _decision_entry(entry: dict) -> dict:
    return {key: entry[key] for key in ("id", "email") if entry.get(key)}


def _undecided(entry: dict, exc: ProviderError) -> Registration:
    text = str(exc)
    if isinstance(exc, ZoomError) and exc.code == 3000 and "not found" in text:
        # Zoom's 3000 also means "registration is off", which zoom_error explains; not here.
        text = f"Zoom does not hold this registrant ({text.rpartition('(Zoom 3000: ')[2]}"
    return Registration(
        entry.get("email") or "", entry.get("id"), error=text, retry_after=getattr(exc, "retry_after", None)
    )


def webinar_body(definition: Definition, hosts_own: bool = False) -> dict:
    """The create/update body for a definition: a scheduled webinar (type 5) in UTC. With
    `hosts_own` (a webinar its host made on Zoom), without the agenda and the contact."""
    contact = next((c for c in definition.contacts if c.purpose == "registration"), None) or next(
        iter(definition.contacts), None
    )
    settings: dict[str, Any] = {
        "approval_type": approval_type(definition),
        "registrants_email_notification": False,  # webinar-ops sends the mails
    }
    if not hosts_own:
        # The speakers' briefing is webinar-ops's to send; a host's own webinar keeps its setting.
        settings["panelists_invitation_email_notification"] = False
    if contact and not hosts_own:
        settings.update(contact_name=contact.name, contact_email=contact.email)
    if definition.practice is not None or not hosts_own:
        # Zoom's practice session is a switch: the speakers join early and the audience waits
        # until the host starts the webinar. Its time is in webinar-ops's speaker mails.
        settings["practice_session"] = definition.practice is not None
    if closes_at_zoom := _zoom_closes_registration(definition, hosts_own):
        settings["close_registration"] = closes_at_zoom == "closed"
    body = {
        "topic": definition.title[:TOPIC_LIMIT],
        "type": 5,
        "start_time": times.iso_utc(definition.start),
        "duration": int(definition.duration.total_seconds() // 60),
        "timezone": definition.time_zone,
        "settings": settings,
    }
    if not hosts_own:
        body["agenda"] = agenda_text(definition)
    return body


def _zoom_closes_registration(definition: Definition, hosts_own: bool) -> str | None:
    """What to ask of Zoom's `settings.close_registration` ("close registration after event
    date", Zoom's only closing: its page then takes nobody after the start): `closed` when
    `[registration] closes` is at the start or before it, `open` when it is later (Zoom would
    close too early) or absent, None to leave a host's own webinar as its host set it."""
    closes = definition.registration.closes
    if closes is None:
        return None if hosts_own else "open"
    return "closed" if closes <= definition.start else "open"


def approval_type(definition: Definition) -> int:
    """Zoom's approval type: 0 automatic, 1 manual (never 2: nobody could register). Under a
    capacity it is manual whatever the definition's approval: the waitlist is webinar-ops's,
    so people who sign up on Zoom's page wait there as pending until webinar-ops gives them
    a seat, and nobody holds a working join link without one (docs/zoom.md, "Capacity")."""
    automatic = definition.provider.approval == "automatic" and definition.registration.capacity is None
    return 0 if automatic else 1


def agenda_text(definition: Definition) -> str:
    """The agenda as plain text, within Zoom's length limit."""
    lines = []
    for item in definition.agenda:
        lines.append(f"{times.format_clock_span(item.start, item.end, definition.time_zone)} {item.title}")
        lines += [f"  {speaker.describe()}" for speaker in item.speakers]
    text = "\n".join(lines)
    return text if len(text) <= AGENDA_LIMIT else text[: AGENDA_LIMIT - 1] + "…"


def _differs(current: dict, body: dict) -> bool:
    """Whether Zoom's copy differs in what webinar-ops answers for: title, time, length,
    whether people can register, whether its page closes registration at the start, whether
    Zoom mails the panelists itself and whether it holds a practice session. The agenda and
    contact of a webinar made by hand are the organiser's to keep, and each update counts
    against the host's 100 a day."""
    start = current.get("start_time")
    held = current.get("settings", {})
    return (
        current.get("topic") != body["topic"]
        or (start and times.iso_utc(datetime.fromisoformat(start.replace("Z", "+00:00"))) != body["start_time"])
        or current.get("duration") != body["duration"]
        or held.get("approval_type") != body["settings"]["approval_type"]
        or any(
            name in body["settings"] and bool(held.get(name)) != body["settings"][name]
            for name in ("close_registration", "panelists_invitation_email_notification", "practice_session")
        )
    )


def _hosted(webinar: dict, updated: bool = True) -> HostedWebinar:
    # start_url is the host's key to the webinar: it is deliberately not kept.
    return HostedWebinar(
        webinar_id=str(webinar["id"]),
        join_url=webinar.get("join_url"),
        registration_url=webinar.get("registration_url"),
        updated=updated,
    )


def _batch_entry(person: Person) -> dict:
    entry = {"email": person.email, "first_name": person.first_name[:64]}
    if person.last_name:
        entry["last_name"] = person.last_name[:64]
    return entry


def _single_entry(person: Person) -> dict:
    entry = _batch_entry(person)
    optional = {"org": person.organisation, "job_title": person.job_title, "country": person.country}
    entry.update({key: value for key, value in optional.items() if value})
    entry.update(answer_fields(person))
    return entry


# A checkbox is a single choice at Zoom, whose form has no checkbox: "Yes" alone when it must
# be ticked (an agreement), else "Yes" or "No".
_CHECKBOX_ANSWERS = {"yes": "Yes", "no": "No"}


def registration_form(questions: Sequence[RegistrationQuestion]) -> dict[str, list[dict]]:
    """The registration form asking `questions`, in the shapes of Zoom's registrants/questions:
    a question whose id is one of Zoom's own fields (`phone`, `industry`, …) is that field;
    the others are custom questions, a text `short`, a choice `single_dropdown`, a checkbox
    `single_radio`."""
    fields = [{"field_name": q.zoom_field, "required": q.required} for q in questions if q.zoom_field]
    return {"questions": fields, "custom_questions": [_custom_question(q) for q in questions if not q.zoom_field]}


def _custom_question(question: RegistrationQuestion) -> dict:
    asked: dict[str, Any] = {"title": question.text, "required": question.required}
    if question.type == "choice":
        return {**asked, "type": "single_dropdown", "answers": list(question.choices)}
    if question.type == "checkbox":
        return {**asked, "type": "single_radio", "answers": ["Yes"] if question.required else ["Yes", "No"]}
    return {**asked, "type": "short"}


def answer_fields(person: Person) -> dict:
    """A person's answers as the fields of Zoom's add-registrant request: its own fields by
    name, and `custom_questions` as `{"title", "value"}`."""
    fields: dict[str, Any] = {}
    custom = []
    for answer in person.answers:
        question = answer.question
        value = _CHECKBOX_ANSWERS.get(answer.value, answer.value) if question.type == "checkbox" else answer.value
        if question.zoom_field:
            fields[question.zoom_field] = value
        else:
            custom.append({"title": question.text, "value": value})
    if custom:
        fields["custom_questions"] = custom
    return fields


def _text(value: object) -> str | None:
    """A listed field's value as text, or None when Zoom gives none (or something else)."""
    return value if isinstance(value, str) and value.strip() else None


def listed_answers(entry: dict) -> dict[str, str]:
    """A listed registrant's answers: Zoom's own fields by name (the ids of the questions that
    are those fields), custom questions by their title; sync matches them to the questions."""
    answers = {name: str(entry[name]) for name in ZOOM_STANDARD_QUESTIONS if entry.get(name)}
    for item in entry.get("custom_questions") or []:
        if isinstance(item, dict) and isinstance(item.get("title"), str) and isinstance(item.get("value"), str):
            answers[item["title"]] = item["value"]
    return answers


def create_provider(settings: ZoomSettings) -> ZoomProvider:
    """The Zoom provider from the ZOOM_* settings (it keeps nothing in the store)."""
    required = {
        "ZOOM_ACCOUNT_ID": settings.account_id,
        "ZOOM_CLIENT_ID": settings.client_id,
        "ZOOM_CLIENT_SECRET": settings.client_secret,
    }
    missing = [key for key, value in required.items() if not value]
    if missing:
        raise InputError(
            "The zoom provider needs its credentials:",
            [Problem("configuration", "is not set", field=key, fix="see docs/zoom.md") for key in missing],
        )
    credentials = Credentials(settings.account_id, settings.client_id, settings.client_secret)
    client = ZoomClient(credentials, settings.api_base_url, settings.oauth_url, settings.plan)
    return ZoomProvider(client, settings.user_id)


def check_access(settings: ZoomSettings) -> str:
    """For `doctor`: one token request with the app's credentials."""
    create_provider(settings).client.token()
    return f"{settings.oauth_url} granted a token; API {settings.api_base_url}, plan {settings.plan}"
