"""The webinar definition: everything an organiser knows about one webinar, in one TOML file.

`load_definition(path)` reads and validates a file and returns a frozen `Definition` whose
instants are aware UTC datetimes. Validation reports every mistake at once, each with the
file, the line, the field and a fix. The format is documented in docs/definition.md.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from webinar_ops import languages, plugins, times, validate
from webinar_ops.errors import InputError, Problem
from webinar_ops.tomlines import LineIndex

DEFAULT_REMINDER_OFFSETS = ("7d", "1d", "1h")
DEFAULT_SPEAKER_REMINDERS = ("2d", "2h")  # `[speakers] reminders` when the table is not given
DEFAULT_PRACTICE_REMINDER = timedelta(hours=2)  # `[practice] reminder` when not given
DEFAULT_GRACE = timedelta(minutes=30)
APPROVAL_MODES = ("automatic", "manual")
CONTACT_PURPOSES = {
    "substantive": "Questions about the substance of the session",
    "registration": "Help with registration",
    "technical": "Technical help on the day",
    "general": "General questions",
}
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_PROVIDER_ID_RE = re.compile(r"^[A-Za-z0-9_.=-]{1,128}$")
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
FIRST_YEAR, LAST_YEAR = 1970, 2100  # outside them a date is a typo, and date arithmetic overflows
MAX_LEAD = timedelta(days=365)  # the longest reminder offset and grace period
MAX_FILE_BYTES = 1 << 20  # a definition is a few kilobytes; a larger file is the wrong file

# Each table's keys, with the one-line meaning shown when someone misspells one.
TOP_KEYS = {
    "slug": "short name used on the command line",
    "series": "the series the webinar belongs to",
    "series_theme": "the series' theme or subtitle",
    "session": "the session label, such as 'Session 5'",
    "title": "the title of this session",
    "organisers": "list of organising institutions",
    "language": "the language of the webinar, such as 'en'",
    "description": "a short description",
    "schedule": "table: start, time_zone, duration or end",
    "moderator": "table: name, role, organisation, email, time_zone, language",
    "agenda": "array of tables: start, end, title, speakers",
    "speakers": "table: reminders (the speakers' own reminders before the start)",
    "practice": "table: start, duration or end, reminder (the speakers' practice session)",
    "questions": "array of tables: part, items",
    "readings": "array of tables: title, url",
    "provider": "table: name, webinar_id, approval, registration_url, join_url",
    "contacts": "array of tables: purpose, name, role, organisation, email",
    "reminders": "table: offsets, grace",
    "mail": "table: templates, languages, include_questions, include_readings",
    "after": "array of tables: send, recording, slides, survey, note, to, wait, otherwise (messages after the end)",
    "registration": "table: how people register (capacity, opens, closes, questions)",
}
AFTER_KEYS = {
    "send": "how long after the end, such as '2h' or '1d'",
    "recording": "link to the recording",
    "slides": "link to the slides",
    "survey": "link to a survey",
    "note": "a few words for the participants",
    "to": "who gets it: everyone, attended or absent",
    "wait": "with to = attended or absent: how long after the end to wait for attendance, such as '3d'",
    "otherwise": "with to = attended or absent: skip or everyone, when attendance is still not known by then",
}
AUDIENCES = ("everyone", "attended", "absent")  # whom an [[after]] message is addressed to
FALLBACKS = ("skip", "everyone")  # what an attendance-addressed message does when attendance never came
DEFAULT_WAIT = timedelta(days=3)  # Zoom's reports are ready within hours; an import may take a day or two
# Skipped by default: a message written for those who came (or did not) would say the wrong
# thing to the others, and two versions of one time that both fell back would reach everyone twice.
DEFAULT_OTHERWISE = "skip"
SCHEDULE_KEYS = {"start": "local wall time", "time_zone": "IANA zone", "duration": "length", "end": "local end"}
NAMED_KEYS = {"name": "full name", "role": "role or title", "organisation": "organisation"}
SPEAKER_KEYS = {
    **NAMED_KEYS,
    "email": "the speaker's own address",
    "time_zone": "the speaker's IANA zone, such as Europe/Paris",
    "language": "the language of the speaker's mails, such as 'fr'",
}
SPEAKERS_KEYS = {"reminders": "list of offsets before the start, such as ['2d', '2h']"}
PRACTICE_KEYS = {
    "start": "local wall time in the webinar's zone, like [schedule] start",
    "duration": "length, such as '1h'",
    "end": "local end",
    "reminder": "how long before the practice the speakers are reminded of it, such as '2h'",
}
AGENDA_KEYS = {"start": "HH:MM", "end": "HH:MM", "title": "item title", "speakers": "speakers"}
QUESTION_KEYS = {
    "part": "the part of the session",
    "items": "the questions",
    "item": "the title of the agenda item they belong to (the speakers of that item get them)",
}
READING_KEYS = {"title": "reading title", "url": "link"}
PROVIDER_KEYS = {
    "name": "provider name",
    "webinar_id": "'create' or an existing id",
    "approval": "automatic or manual",
    "registration_url": "public registration page",
    "join_url": "shared join link",
}
CONTACT_KEYS = {**NAMED_KEYS, "purpose": "what to contact them for", "email": "address"}
REGISTRATION_KEYS = {
    "capacity": "how many people get a seat; those past it wait on a waitlist",
    "opens": "when registration opens: a wall time in the webinar's zone, like the start",
    "closes": 'when registration closes: a wall time in the webinar\'s zone, or "start"',
    "questions": "array of tables: id, text, type, choices, required (asked on registering)",
}
REGISTRATION_QUESTION_KEYS = {
    "id": "a short name for the question: lower case letters, digits and _, such as 'sector'",
    "text": "the question as the registration page shows it",
    "type": "text, choice or checkbox",
    "choices": "for a choice: the answers to choose from",
    "required": "true when it must be answered",
}
QUESTION_TYPES = ("text", "choice", "checkbox")
# The ids that Zoom asks as fields of its own form (its registrants/questions `field_name`s),
# each a free text; every other question is one of Zoom's custom questions (docs/zoom.md).
ZOOM_STANDARD_QUESTIONS = ("address", "city", "state", "zip", "phone", "industry", "comments")
# A registrant's own fields that a question may ask for (required, or offered on the page):
# their answer is the registrant's field, and Zoom asks each as its own (the value here).
PERSON_QUESTIONS = {"organisation": "org", "job_title": "job_title", "country": "country"}
ANSWER_MAX_LENGTH = 128  # Zoom keeps at most 128 characters of an answer
# The columns of a registrant CSV and of an export, which a question id must not take
# (people.FIELDS but PERSON_QUESTIONS, and what `registrants export` adds).
RESERVED_QUESTION_IDS = (
    "email first_name last_name time_zone language status source provider_status registered_at tracking_source"
).split()
_QUESTION_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# How many items a list may hold: far more than a real webinar needs, few enough that a typo or
# a generated file cannot fill the outbox (docs/definition.md, "Bounds").
LIST_LIMITS = {
    "offsets": 10,
    "reminders": 10,
    "after": 10,
    "agenda": 100,
    "speakers": 20,
    "questions": 20,
    "items": 30,
    "readings": 50,
    "contacts": 20,
    "organisers": 20,
    "languages": 20,
    "choices": 50,
}
REMINDER_KEYS = {"offsets": "list such as ['7d', '1d', '1h']", "grace": "how late a reminder may still go out"}
MAX_CAPACITY = 1_000_000  # far more than any webinar seats: a larger number is a typo
MAIL_KEYS = {
    "templates": "folder of your own templates, relative to this file",
    "languages": "the languages the mails are written in, such as ['en', 'fr']",
    "include_questions": "true or false",
    "include_readings": "true or false",
}


@dataclass(frozen=True)
class Speaker:
    """Someone the programme names: a speaker of an agenda item, the moderator, and (with
    what to write to them for) each contact, with their name, role and organisation as the
    programme gives them. Not a person to register: that is people.Person.

    A speaker and the moderator may also carry their own address, time zone and language:
    details for writing to them, which the audience never sees (`describe` leaves them out).
    One entry is one mention in the file; `Definition.speakers()` gives each person once."""

    name: str
    role: str | None = None
    organisation: str | None = None
    email: str | None = None
    time_zone: str | None = None
    language: str | None = None

    def describe(self) -> str:
        """`Mr. Keping Yao, Senior Expert, UNPOG`: name, role and organisation, as present."""
        return ", ".join(part for part in (self.name, self.role, self.organisation) if part)


@dataclass(frozen=True)
class SpeakerPerson:
    """One person who speaks or moderates, once however many agenda items name them, with
    each detail as the file gives it in any of their entries.

    `key` is theirs for as long as their address stays (the address, lower case; without an
    address, their name casefolded, which holds no @ and so is never an address): later
    revisions of the definition, and the store, find the same person by it."""

    key: str
    name: str
    role: str | None = None
    organisation: str | None = None
    email: str | None = None
    time_zone: str | None = None
    language: str | None = None
    items: tuple[AgendaItem, ...] = ()  # the agenda items they speak in, in the agenda's order
    moderates: bool = False

    def describe(self) -> str:
        """Name, role and organisation, as `Speaker.describe`."""
        return ", ".join(part for part in (self.name, self.role, self.organisation) if part)


class SpeakerSlot(NamedTuple):
    """One agenda item a person speaks in, with its instants (aware UTC; `end` None for a moment)."""

    title: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class Practice:
    """The speakers' practice session (`[practice]`): aware UTC instants, ending by the
    webinar's start; `reminder` is how long before its start the speakers are reminded."""

    start: datetime
    end: datetime
    reminder: timedelta = DEFAULT_PRACTICE_REMINDER

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class AgendaItem:
    """One line of the programme. `end` is None for a moment, such as an opening."""

    start: datetime
    end: datetime | None
    title: str
    speakers: tuple[Speaker, ...] = ()


@dataclass(frozen=True)
class QuestionGroup:
    """Guiding questions for one part of the session."""

    part: str
    items: tuple[str, ...]
    item: str | None = None  # the agenda item's title it names outright, if any (see questions_for)


@dataclass(frozen=True)
class AfterMessage:
    """A message sent `delay` after the webinar ends: thanks, the recording, the slides, a survey.

    It goes `to` everyone approved, or only to those who `attended` or were `absent`: such a
    version waits for attendance until `wait` after the end, and then does as `otherwise` says
    (goes to everyone, or is skipped)."""

    delay: timedelta
    recording: str | None = None
    slides: str | None = None
    survey: str | None = None
    note: str | None = None
    to: str = "everyone"
    wait: timedelta | None = None  # only for attended or absent
    otherwise: str | None = None  # only for attended or absent

    @property
    def by_attendance(self) -> bool:
        """Whether it waits for attendance: it goes to those who attended, or to the absent."""
        return self.to != "everyone"


@dataclass(frozen=True)
class Reading:
    """A background reading with its link."""

    title: str
    url: str


@dataclass(frozen=True)
class Contact:
    """Someone participants can write to, and what for."""

    purpose: str
    name: str
    email: str
    role: str | None = None
    organisation: str | None = None

    @property
    def purpose_label(self) -> str:
        return CONTACT_PURPOSES[self.purpose]

    def describe(self) -> str:
        return ", ".join(part for part in (self.name, self.role, self.organisation) if part)


@dataclass(frozen=True)
class ProviderChoice:
    """Which provider hosts the webinar, and whether to create it there or attach to one."""

    name: str | None = None
    webinar_id: str = "create"
    approval: str = "automatic"
    registration_url: str | None = None
    join_url: str | None = None

    @property
    def creates(self) -> bool:
        return self.webinar_id == "create"

    @property
    def signup_status(self) -> str:
        """What a person who signs up gets: approved at once, or pending until the organisers
        approve them (`approval = "manual"`)."""
        return "approved" if self.approval == "automatic" else "pending"


@dataclass(frozen=True)
class MailOptions:
    """How this webinar's mails are written."""

    templates: str | None = None
    languages: tuple[str, ...] | None = None  # None: every language there are templates for
    include_questions: bool = True
    include_readings: bool = True


@dataclass(frozen=True)
class RegistrationQuestion:
    """A question the registration asks (`[[registration.questions]]`): a short text, a
    choice from `choices`, or a checkbox (answered "yes" or "no"). `text` is the organiser's
    own words, shown as written in every language."""

    id: str
    text: str
    type: str = "text"  # one of QUESTION_TYPES
    choices: tuple[str, ...] = ()
    required: bool = False

    @property
    def zoom_field(self) -> str | None:
        """The field of Zoom's own form this question is, or None for a custom question."""
        return PERSON_QUESTIONS.get(self.id) or (self.id if self.id in ZOOM_STANDARD_QUESTIONS else None)

    @property
    def person_field(self) -> str | None:
        """The registrant's own field this question asks for (`organisation`, `job_title`,
        `country`), whose answer is that field rather than an answer of its own; else None."""
        return self.id if self.id in PERSON_QUESTIONS else None

    def check(self, value: str | None) -> str | None:
        """The answer as it is kept (None when unanswered), held to the rules for names: one
        line, no markup, at most ANSWER_MAX_LENGTH characters, a choice one of the choices, a
        checkbox yes or no. Raises ValueError saying what is wrong."""
        text = (value or "").strip()
        if self.type == "checkbox":
            answer = _CHECKED.get(text.casefold())
            if answer is None:
                raise ValueError(f"{validate.shown(text)} is not yes or no")
            if self.required and answer != "yes":
                raise ValueError("must be ticked")
            return answer
        if not text:
            if self.required:
                raise ValueError("is not answered")
            return None
        if self.type == "choice":
            if text not in self.choices:
                raise ValueError(f"{validate.shown(text)} is not one of the choices")
            return text
        return validate.person_text(text, "answer", max_length=ANSWER_MAX_LENGTH)


# How a checkbox may be answered in a file or on the command line; the page sends "yes" or nothing.
_CHECKED = {
    **dict.fromkeys(("yes", "y", "true", "1", "on", "x"), "yes"),
    **dict.fromkeys(("", "no", "n", "false", "0", "off"), "no"),
}


@dataclass(frozen=True)
class RegistrationOptions:
    """How people register (the `[registration]` table). Instants are aware UTC datetimes.

    `opens` and `closes` bound the time people may register in; without them registration is
    open from the webinar's creation to its end. `closes = "start"` gives `closes` the start's
    instant and sets `closes_at_start`, so the closing follows the webinar when it moves.
    `questions` are asked of everyone who registers. Past `capacity` approved people, new
    registrants are waitlisted (None: no limit)."""

    capacity: int | None = None
    opens: datetime | None = None
    closes: datetime | None = None
    closes_at_start: bool = False
    questions: tuple[RegistrationQuestion, ...] = ()

    def window(self, now: datetime) -> str:
        """`not_open` before the opening, `closed` from the closing on, else `open` (the end
        of the webinar, and its cancellation, are the callers' to check)."""
        if self.opens is not None and now < self.opens:
            return "not_open"
        if self.closes is not None and now >= self.closes:
            return "closed"
        return "open"

    def question(self, question_id: str) -> RegistrationQuestion | None:
        """The question called `question_id`, or None."""
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True)
class Definition:
    """A validated webinar definition. Instants are aware UTC datetimes."""

    slug: str
    title: str
    start: datetime
    end: datetime
    time_zone: str
    series: str | None = None
    series_theme: str | None = None
    session: str | None = None
    organisers: tuple[str, ...] = ()
    language: str = "en"
    description: str | None = None
    moderator: Speaker | None = None
    agenda: tuple[AgendaItem, ...] = ()
    questions: tuple[QuestionGroup, ...] = ()
    readings: tuple[Reading, ...] = ()
    provider: ProviderChoice = field(default_factory=ProviderChoice)
    contacts: tuple[Contact, ...] = ()
    reminder_offsets: tuple[timedelta, ...] = ()
    reminder_grace: timedelta = DEFAULT_GRACE
    mail: MailOptions = field(default_factory=MailOptions)
    after: tuple[AfterMessage, ...] = ()
    registration: RegistrationOptions = field(default_factory=RegistrationOptions)
    practice: Practice | None = None
    speaker_reminder_offsets: tuple[timedelta, ...] = ()
    source: str = ""

    def speakers(self) -> tuple[SpeakerPerson, ...]:
        """Each person who moderates or speaks, once: the moderator first, then the speakers in
        the order the agenda first names them, each with every item they speak in. Entries are
        one person when they give the same address, or the same name (one of them without an
        address); the file was refused if two entries of one person disagree."""
        mentions = [] if self.moderator is None else [(None, self.moderator, None)]
        mentions += [(None, speaker, i) for i, item in enumerate(self.agenda) for speaker in item.speakers]
        people, _ = _gather_speakers(mentions)
        return tuple(person.settled(self.agenda) for person in people)

    def languages_offered(self) -> tuple[str, ...]:
        """The languages its mails are written in: those listed (`[mail] languages`), else every
        language there are catalogs or templates for."""
        return self.mail.languages or languages.available(self.mail.templates)

    def after_message(self, delay_minutes: int | None, to: str = "everyone") -> AfterMessage | None:
        """The after-message sent `delay_minutes` after the end to `to` (everyone, attended or
        absent), if the definition has one."""
        delay = timedelta(minutes=delay_minutes or 0)
        return next((m for m in self.after if m.delay == delay and m.to == to), None)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def local(self, instant: datetime) -> datetime:
        """`instant` on the event's own clock."""
        return times.in_zone(instant, self.time_zone)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: instants as ISO UTC strings, durations as `1h30m`."""
        return _jsonable(asdict(self))


def speaker_slots(definition: Definition) -> dict[str, tuple[SpeakerSlot, ...]]:
    """{person key: the items they speak in, with their instants}: what a speaker is told of
    their part. Two revisions of a definition differ here for a person exactly when their slot
    moved, their items changed, or they were added or removed."""
    return {
        person.key: tuple(SpeakerSlot(item.title, item.start, item.end) for item in person.items)
        for person in definition.speakers()
    }


def questions_for(definition: Definition, item: AgendaItem) -> tuple[QuestionGroup, ...]:
    """The guiding questions of one agenda item: each `[[questions]]` group whose `part`
    starts with the item's title, or the title with the part (case and spacing aside: "Presentation:
    … by Bokyun Shim and Keping Yao" is the part of the item "Presentation: …"); for an item
    no group names so, each group whose part starts with the same word as the title and
    that names no item so itself ("Country Presentation" for "Country Case Presentation").
    A group with `item = "…"` belongs to that item alone, whatever its part says."""
    by_title = {i.title: _plain_words(i.title) for i in definition.agenda}
    outright = tuple(g for g in definition.questions if g.item == item.title)
    guessed = [g for g in definition.questions if g.item is None]

    def names(group: QuestionGroup, title: str) -> bool:
        part = _plain_words(group.part)
        return bool(part) and (part.startswith(title) or title.startswith(part))

    title = by_title[item.title]
    named = tuple(g for g in guessed if names(g, title))
    if outright or named:
        return outright + named
    first = title.split(" ")[0].strip(":,.;–-")
    return tuple(
        g
        for g in guessed
        if _plain_words(g.part).split(" ")[0].strip(":,.;–-") == first
        and not any(names(g, other) for other in by_title.values())
    )


def _plain_words(text: str) -> str:
    return " ".join(text.split()).casefold()


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass
class _Gathered:
    """One person while their entries are gathered: their details, where each was first
    given (for the message when a later entry disagrees), and where they appear."""

    details: dict[str, str | None]
    given_at: dict[str, Any]
    items: list[int] = field(default_factory=list)
    moderates: bool = False

    def settled(self, agenda: tuple[AgendaItem, ...]) -> SpeakerPerson:
        details = self.details
        key = details["email"] or _name_key(details["name"])
        return SpeakerPerson(key=key, **details, items=tuple(agenda[i] for i in self.items), moderates=self.moderates)


class _Clash(NamedTuple):
    """Two entries of one person that disagree: `field` of the entry at `where` against the
    one at `before` (the checker's paths; None when gathered without them)."""

    where: Any
    before: Any
    field: str
    message: str
    fix: str


_PERSON_DETAILS = ("name", "role", "organisation", "email", "time_zone", "language")
_MUST_AGREE = ("email", "time_zone", "language")  # a role may be written shorter in one item


def _gather_speakers(mentions: list[tuple[Any, Speaker, int | None]]) -> tuple[list[_Gathered], list[_Clash]]:
    """Gather `mentions` (where, speaker entry, agenda index or None for the moderator) into
    people, in the order first named, and the clashes between entries of one person."""
    people: list[_Gathered] = []
    clashes: list[_Clash] = []
    for where, speaker, item in mentions:
        person = _person_of(people, speaker)
        if person is None:
            person = _Gathered(
                details={name: getattr(speaker, name) for name in _PERSON_DETAILS},
                given_at={name: where for name in _PERSON_DETAILS if getattr(speaker, name) is not None},
            )
            people.append(person)
        elif _name_key(speaker.name) != _name_key(person.details["name"]):  # found by the address
            clashes.append(_shared_address(person, where, speaker))
            continue  # another person, wrongly given this one's address: nothing more to compare
        else:
            clashes += _merge(person, where, speaker)
        if item is None:
            person.moderates = True
        elif item in person.items:
            clashes.append(
                _Clash(
                    where,
                    person.given_at["name"],
                    "name",
                    f"{speaker.name} is named twice in this item",
                    "name each speaker once",
                )
            )
        else:
            person.items.append(item)
    return people, clashes


def _person_of(people: list[_Gathered], speaker: Speaker) -> _Gathered | None:
    """The person `speaker` is: the one with its address, else the one with its name."""
    if speaker.email:
        by_address = next((p for p in people if p.details["email"] == speaker.email), None)
        if by_address is not None:
            return by_address
    name = _name_key(speaker.name)
    return next((p for p in people if _name_key(p.details["name"]) == name), None)


def _merge(person: _Gathered, where: Any, speaker: Speaker) -> list[_Clash]:
    """Take the details `speaker` adds to `person`; a clash for each it contradicts."""
    clashes = []
    for name in _PERSON_DETAILS:
        value, known = getattr(speaker, name), person.details[name]
        if value is None:
            continue
        if known is None:
            person.details[name] = value
            person.given_at[name] = where
        elif name in _MUST_AGREE and value != known:
            clashes.append(
                _Clash(
                    where,
                    person.given_at[name],
                    name,
                    f"{person.details['name']} has another {_DETAIL_WORDS[name]} elsewhere: {known}",
                    f"one person has one {_DETAIL_WORDS[name]}: write the same in both places, or leave it out of one",
                )
            )
    return clashes


def _shared_address(person: _Gathered, where: Any, speaker: Speaker) -> _Clash:
    return _Clash(
        where,
        person.given_at["email"],
        "email",
        f"{speaker.email} is also the address of {person.details['name']}",
        "one address is one person: write the same name in both places, or give each their own address",
    )


_DETAIL_WORDS = {"email": "address", "time_zone": "time zone", "language": "language"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return times.iso_utc(value)
    if isinstance(value, timedelta):
        return times.format_duration(value)
    return value


def load_definition(path: Path | str) -> Definition:
    """Read, validate and return the definition in `path`; raise InputError listing every problem."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"Cannot read {validate.shown_path(path)}: {exc.strerror or exc}.") from exc
    if len(raw) > MAX_FILE_BYTES:
        problem = Problem(
            str(path), "the file is larger than 1 MB", line=1, fix="check that this is a webinar definition (TOML)"
        )
        raise InputError(f"{path} is not a webinar definition:", [problem])
    if validate.looks_like_utf16(raw[:512]):
        problem = Problem(str(path), "the file is saved as UTF-16", line=1, fix="save the file as UTF-8")
        raise InputError(f"{path} is not a valid webinar definition:", [problem])
    try:
        text = validate.utf8_text(raw)
    except validate.NotUtf8 as exc:
        problem = Problem(str(path), f"byte {exc.byte:#04x} is not UTF-8", line=exc.line, fix="save the file as UTF-8")
        raise InputError(f"{path} is not a valid webinar definition:", [problem]) from exc
    definition = parse_definition(text, str(path), default_slug=path.stem)
    _require_english_templates(path, definition.mail.templates)
    return definition


def _require_english_templates(path: Path, custom_folder: str | None) -> None:
    """Refuse a webinar none of whose mails could be written: templates missing from the install."""
    missing = languages.missing_english_templates(custom_folder)
    if missing:
        fix = (
            f"reinstall webinar-ops (its templates belong in {languages.DEFAULT_TEMPLATES}), "
            "or give them in a folder of your own ([mail] templates)"
        )
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise InputError(
            f"{path}: no mail could be written:", [Problem("templates", f"{shown} cannot be found", fix=fix)]
        )


def parse_definition(text: str, source: str = "<definition>", default_slug: str | None = None) -> Definition:
    """Validate TOML `text` as a definition; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc)) or text.count("\n") + 1  # "at end of document"
        raise InputError(
            f"{source} is not valid TOML:",
            [Problem(source, str(exc), line=line, fix="check quotes, brackets and `key = value` syntax on that line")],
        ) from exc
    except RecursionError as exc:  # this Python's tomllib has no nesting limit of its own
        problem = Problem(source, "arrays or tables are nested too deeply", line=1, fix="write the definition flat")
        raise InputError(f"{source} is not valid TOML:", [problem]) from exc
    checker = _Checker(source, LineIndex(text))
    definition = checker.definition(data, default_slug)
    if checker.problems:
        count = len(checker.problems)
        raise InputError(f"{source} has {count} problem{'s' if count > 1 else ''}:", checker.problems)
    assert definition is not None
    return definition


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


class _Invalid(Exception):
    """Raised inside the checker to abandon one field after recording its problem."""


class _Checker:
    """Walks the parsed TOML, building the Definition and collecting every problem."""

    def __init__(self, source: str, lines: LineIndex):
        self.source = source
        self.lines = lines
        self.problems: list[Problem] = []
        # Each speaker entry and the moderator, for gathering them into people at the end.
        self.mentions: list[tuple[tuple, Speaker, int | None]] = []

    # -- reporting -------------------------------------------------------------------

    def report(self, path: tuple, message: str, fix: str | None = None) -> None:
        self.problems.append(Problem(self.source, message, line=self.lines.line(path), field=_dotted(path), fix=fix))

    def fail(self, path: tuple, message: str, fix: str | None = None) -> _Invalid:
        self.report(path, message, fix)
        return _Invalid()

    def known_keys(self, table: dict, path: tuple, allowed: dict[str, str]) -> None:
        for key in table:
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
            fix = f"did you mean `{close[0]}`?" if close else f"allowed keys here: {', '.join(allowed)}"
            self.report((*path, key), f"unknown key `{key}`", fix)

    # -- typed getters -----------------------------------------------------------------

    def get(self, table: dict, path: tuple, key: str, kind: type | tuple, required: bool = False) -> Any:
        if key not in table:
            if required and not _misspelt_in(key, table):
                raise self.fail((*path, key), "is missing", f"add `{key} = ...` to this table")
            if required:
                raise _Invalid()  # the misspelling is already reported, with the fix
            return None
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            example = ' in quotes, like "90m"' if kind is str else ""
            raise self.fail(
                (*path, key),
                f"must be {_kind_name(kind)}, not {_kind_name(type(value))}",
                f"write {key} as {_kind_name(kind)}{example}",
            )
        return value

    def text(
        self,
        table: dict,
        path: tuple,
        key: str,
        required: bool = False,
        check: Callable[[str], str] | None = None,
        fix: str | None = None,
    ) -> str | None:
        value = self.get(table, path, key, str, required)
        if value is None:
            return None
        if not value.strip():
            if required:
                raise self.fail((*path, key), "is empty", f"write the {key.replace('_', ' ')}")
            return None
        try:
            return check(value) if check else value.strip()
        except ValueError as exc:
            raise self.fail((*path, key), str(exc), fix or _fix_for(check)) from exc

    def safe(self, fn: Callable[..., Any], /, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """Run one field's check; if it failed (already reported), go on with `default`."""
        try:
            return fn(*args, **kwargs)
        except _Invalid:
            return default

    def tables(self, data: dict, key: str, parent: tuple = ()) -> list[tuple[tuple, dict]]:
        value = self.bounded(data.get(key, []), (*parent, key))
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            where = _dotted((*parent, key))
            self.report(
                (*parent, key),
                f"must be an array of tables, written [[{where}]]",
                f"write each item as a [[{where}]] table",
            )
            return []
        return [((*parent, key, i), item) for i, item in enumerate(value)]

    def table(self, data: dict, key: str, required: bool = False) -> dict | None:
        if key not in data:
            if required:
                self.report((key,), "is missing", f"add a [{key}] table")
            return None
        if not isinstance(data[key], dict):
            self.report((key,), f"must be a table, written [{key}]", f"write [{key}] and its keys below it")
            return None
        return data[key]

    # -- the definition ------------------------------------------------------------------

    def definition(self, data: dict, default_slug: str | None) -> Definition | None:
        self.known_keys(data, (), TOP_KEYS)
        labels = {
            key: self.safe(self.text, data, (), key, check=_label) for key in ("series", "series_theme", "session")
        }
        slug = self.safe(self.slug, data, default_slug)
        title = self.safe(self.text, data, (), "title", required=True, check=_label)
        language = self.safe(self.text, data, (), "language", check=validate.language) or "en"
        organisers = self.safe(self.strings, data, (), "organisers", _label, default=())
        description = self.safe(self.text, data, (), "description", check=_description)
        schedule = self.schedule(data)
        moderator = self.moderator(data)
        agenda = self.agenda(data, schedule)
        questions = self.questions(data, agenda)
        readings = self.readings(data)
        provider = self.provider(data)
        contacts = self.contacts(data)
        offsets, grace = self.reminders(data)
        mail = self.mail(data)
        after = self.after_messages(data)
        registration = self.registration(data, schedule)
        practice = self.practice(data, schedule)
        speaker_offsets = self.speaker_reminders(data)
        self.speakers_agree(mail, language)
        if self.problems or schedule is None:
            return None
        start, end, zone_name = schedule
        return Definition(
            slug=slug,
            title=title,
            start=start,
            end=end,
            time_zone=zone_name,
            **labels,
            organisers=organisers,
            language=language,
            description=description,
            moderator=moderator,
            agenda=agenda,
            questions=questions,
            readings=readings,
            provider=provider,
            contacts=contacts,
            reminder_offsets=offsets,
            reminder_grace=grace,
            mail=mail,
            after=after,
            registration=registration,
            practice=practice,
            speaker_reminder_offsets=speaker_offsets,
            source=self.source,
        )

    def slug(self, data: dict, default_slug: str | None) -> str:
        value = self.text(data, (), "slug")
        if value is None:
            if default_slug and _SLUG_RE.match(default_slug):
                return default_slug
            raise self.fail(("slug",), "is missing", 'add `slug = "my-webinar"` (lower case letters, digits, -)')
        if not _SLUG_RE.match(value):
            raise self.fail(
                ("slug",),
                f"{value!r} is not a valid slug",
                "use lower case letters, digits and hyphens, such as 'session-5'",
            )
        return value

    def bounded(self, value: Any, path: tuple) -> Any:
        """`value`, or its first LIST_LIMITS items, reporting the excess: a definition that asks
        for 5,000 reminders would make a million outbox rows for 200 people."""
        limit = LIST_LIMITS.get(path[-1])
        if not isinstance(value, list) or limit is None or len(value) <= limit:
            return value
        self.report(
            (*path, limit),
            f"has {len(value)} items; a webinar holds at most {limit}",
            f"keep at most {limit} (see the bounds in docs/definition.md)",
        )
        return value[:limit]

    def strings(self, table: dict, path: tuple, key: str, check: Callable[[str], str]) -> tuple[str, ...]:
        values = self.bounded(self.get(table, path, key, list) or [], (*path, key))
        result = []
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                self.report((*path, key, i), "must be non-empty text", 'write each item as text in quotes, like "..."')
                continue
            try:
                result.append(check(value))
            except ValueError as exc:
                self.report((*path, key, i), str(exc), _fix_for(check))
        return tuple(result)

    def schedule(self, data: dict) -> tuple[datetime, datetime, str] | None:
        table = self.table(data, "schedule", required=True)
        if table is None:
            return None
        path = ("schedule",)
        self.known_keys(table, path, SCHEDULE_KEYS)
        zone_name = self.safe(self.time_zone, table, path)
        if zone_name is None:
            return None
        start = self.safe(self.wall_time, table, path, "start", zone_name, required=True)
        if start is None:
            return None
        end = self.safe(self.end, table, path, start, zone_name)
        return (start, end, zone_name) if end is not None else None

    def time_zone(self, table: dict, path: tuple) -> str:
        name = self.text(table, path, "time_zone", required=True)
        try:
            times.zone(name)
        except ValueError as exc:
            raise self.fail((*path, "time_zone"), str(exc), times.suggest_zones(name)) from exc
        return name

    def wall_time(self, table: dict, path: tuple, key: str, zone_name: str, required: bool = False) -> datetime | None:
        value = self.get(table, path, key, (str, datetime, date), required)
        if value is None:
            return None
        wall = self.naive_datetime(value, (*path, key))
        if not FIRST_YEAR <= wall.year <= LAST_YEAR:
            raise self.fail(
                (*path, key), f"{wall:%Y-%m-%d} is not between {FIRST_YEAR} and {LAST_YEAR}", "check the year"
            )
        try:
            return times.to_utc(wall, zone_name)
        except times.LocalTimeError as exc:
            raise self.fail((*path, key), str(exc), exc.fix) from exc

    def naive_datetime(self, value: Any, path: tuple) -> datetime:
        fix = 'write the local wall time, such as "2021-04-30 15:00", and the zone in time_zone'
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise self.fail(path, "has a UTC offset; the offset comes from time_zone", fix)
            return value
        if isinstance(value, date):
            raise self.fail(path, "is a date without a time", fix)
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError as exc:
            raise self.fail(path, f"{value!r} is not a date and time", fix) from exc
        if parsed.tzinfo is not None:
            raise self.fail(path, "has a UTC offset; the offset comes from time_zone", fix)
        return parsed

    def end(self, table: dict, path: tuple, start: datetime, zone_name: str) -> datetime:
        has_end, has_duration = "end" in table, "duration" in table
        if has_end == has_duration:
            fix = 'give one of them: duration = "90m", or end = "2021-04-30 16:30"'
            if has_end:
                raise self.fail((*path, "end"), "both end and duration are given", fix)
            raise self.fail(path, "gives neither end nor duration", fix)
        if has_duration:
            text = self.text(table, path, "duration", required=True)
            try:
                end = start + times.parse_duration(text)
            except ValueError as exc:
                raise self.fail((*path, "duration"), str(exc), 'write it like "90m", "1h30m" or "2h"') from exc
            except OverflowError as exc:
                raise self.fail(
                    (*path, "duration"), f"{text!r} is too long", 'write it like "90m", "1h30m" or "2h"'
                ) from exc
            if end.year > LAST_YEAR:
                raise self.fail(
                    (*path, "duration"),
                    f"{text!r} is too long: the webinar would end after {LAST_YEAR}",
                    'write it like "90m", "1h30m" or "2h"',
                )
        else:
            end = self.wall_time(table, path, "end", zone_name, required=True)
        if end <= start:
            raise self.fail((*path, "end"), "is not after the start", "the end must come after the start")
        return end

    def named(self, table: dict, path: tuple, keys: dict[str, str]) -> Speaker:
        """Name, role and organisation, as the programme shows them."""
        self.known_keys(table, path, keys)
        name = self.text(table, path, "name", required=True, check=_name)
        role = self.safe(self.text, table, path, "role", check=_label)
        organisation = self.safe(self.text, table, path, "organisation", check=_label)
        return Speaker(name=name, role=role, organisation=organisation)

    def speaker(self, table: dict, path: tuple, item: int | None) -> Speaker:
        """A speaker entry or the moderator: named as the programme shows them, with their own
        address, time zone and language when given, each checked as a registrant's is.
        Remembered for gathering entries into people."""
        named = self.safe(self.named, table, path, SPEAKER_KEYS)
        email = self.safe(self.text, table, path, "email", check=validate.email_address, fix=_EMAIL_FIX)
        zone_name = self.safe(self.own_time_zone, table, path)
        language = self.safe(self.text, table, path, "language", check=validate.language)
        if named is None:
            raise _Invalid()
        speaker = Speaker(**{**asdict(named), "email": email, "time_zone": zone_name, "language": language})
        self.mentions.append((path, speaker, item))
        return speaker

    def own_time_zone(self, table: dict, path: tuple) -> str | None:
        """A person's own `time_zone`, which may be left out (the schedule's is required)."""
        return self.time_zone(table, path) if "time_zone" in table else None

    def moderator(self, data: dict) -> Speaker | None:
        table = self.table(data, "moderator")
        return None if table is None else self.safe(self.speaker, table, ("moderator",), None)

    def speakers_agree(self, mail: MailOptions, webinar_language: str) -> None:
        """Every entry of one person gives the same details, and each speaker's language is
        one the webinar's mails are written in."""
        _, clashes = _gather_speakers(self.mentions)
        for clash in clashes:
            before = self.lines.line((*clash.before, clash.field)) if clash.before else None
            elsewhere = f" (line {before})" if before else ""
            self.report((*clash.where, clash.field), clash.message + elsewhere, clash.fix)
        offered = mail.languages or languages.available(mail.templates)
        for path, speaker, _ in self.mentions:
            if speaker.language and languages.offered_for(speaker.language, offered) is None:
                self.report(
                    (*path, "language"),
                    f"the mails are not written in {speaker.language!r}",
                    f"use one of {', '.join(offered)}, or leave it out for the webinar's own ({webinar_language})",
                )

    def agenda(self, data: dict, schedule: tuple[datetime, datetime, str] | None) -> tuple[AgendaItem, ...]:
        items = []
        for path, table in self.tables(data, "agenda"):
            self.known_keys(table, path, AGENDA_KEYS)
            title = self.safe(self.text, table, path, "title", required=True, check=_label)
            entries = self.tables(table, "speakers", path)
            named = [self.safe(self.speaker, entry, where, path[-1]) for where, entry in entries]
            speakers = tuple(speaker for speaker in named if speaker is not None)
            if schedule is None or title is None:
                continue
            item = self.safe(self.agenda_times, table, path, schedule, title, speakers)
            if item is not None:
                items.append(item)
        return tuple(items)

    def agenda_times(self, table: dict, path: tuple, schedule: tuple, title: str, speakers: tuple) -> AgendaItem:
        start_utc, end_utc, zone_name = schedule
        start = self.clock(table, path, "start", schedule, required=True)
        end = self.clock(table, path, "end", schedule)
        fix_outside = _between(start_utc, end_utc, zone_name)
        if start < start_utc or start > end_utc:
            raise self.fail((*path, "start"), "is outside the webinar's time", fix_outside)
        if end is not None and end < start:
            raise self.fail((*path, "end"), "is before the item's start", "the item must end after it starts")
        if end is not None and end > end_utc:
            raise self.fail((*path, "end"), "is after the webinar ends", fix_outside)
        return AgendaItem(start=start, end=end, title=title, speakers=speakers)

    def clock(self, table: dict, path: tuple, key: str, schedule: tuple, required: bool = False) -> datetime | None:
        """An agenda time `HH:MM` on the webinar's day, in its zone (the next day if past midnight)."""
        start_utc, _, zone_name = schedule
        value = self.get(table, path, key, (str, time), required)
        if value is None:
            return None
        if isinstance(value, str):
            match = _CLOCK_RE.match(value.strip())
            if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                raise self.fail((*path, key), f"{value!r} is not a time of day", 'write it like "15:45"')
            value = time(int(match.group(1)), int(match.group(2)))
        local_start = times.in_zone(start_utc, zone_name).replace(tzinfo=None)
        wall = datetime.combine(local_start.date(), value)
        if wall < local_start.replace(second=0, microsecond=0):
            wall += timedelta(days=1)
        try:
            return times.to_utc(wall, zone_name)
        except times.LocalTimeError as exc:
            raise self.fail((*path, key), str(exc), exc.fix) from exc

    def questions(self, data: dict, agenda: tuple[AgendaItem, ...] | None) -> tuple[QuestionGroup, ...]:
        groups = []
        titles = {_plain_words(i.title): i.title for i in agenda or ()}
        for path, table in self.tables(data, "questions"):
            self.known_keys(table, path, QUESTION_KEYS)
            part = self.safe(self.text, table, path, "part", check=_label) or ""
            items = self.safe(self.strings, table, path, "items", _question, default=())
            if not items:
                self.report((*path, "items"), "has no questions", 'add items = ["First question?", ...]')
            item = self.safe(self.text, table, path, "item", check=_label)
            if item is not None and agenda is not None and _plain_words(item) not in titles:
                listed = "; ".join(f'"{t}"' for t in titles.values()) or "none"
                self.report((*path, "item"), f"names no agenda item: {item!r}", f"use one of the titles: {listed}")
            groups.append(QuestionGroup(part=part, items=items, item=titles.get(_plain_words(item or ""), item)))
        return tuple(groups)

    def readings(self, data: dict) -> tuple[Reading, ...]:
        readings = []
        for path, table in self.tables(data, "readings"):
            self.known_keys(table, path, READING_KEYS)
            title = self.safe(self.text, table, path, "title", required=True, check=_label)
            link = self.safe(self.text, table, path, "url", required=True, check=validate.url, fix=_URL_FIX)
            if title and link:
                readings.append(Reading(title=title, url=link))
        return tuple(readings)

    def provider(self, data: dict) -> ProviderChoice:
        table = self.table(data, "provider")
        if table is None:
            return ProviderChoice()
        path = ("provider",)
        self.known_keys(table, path, PROVIDER_KEYS)
        name = self.safe(self.text, table, path, "name", check=_provider_name)
        webinar_id = self.safe(self.webinar_id, table, path) or "create"
        approval = self.safe(self.text, table, path, "approval", check=_APPROVAL)
        links = {
            key: self.safe(self.text, table, path, key, check=validate.url, fix=_URL_FIX)
            for key in ("registration_url", "join_url")
        }
        return ProviderChoice(name=name, webinar_id=webinar_id, approval=approval or "automatic", **links)

    def webinar_id(self, table: dict, path: tuple) -> str | None:
        value = self.get(table, path, "webinar_id", (str, int))
        if value is None:
            return None
        value = str(value).strip()
        if value != "create" and not _PROVIDER_ID_RE.match(value):
            raise self.fail(
                (*path, "webinar_id"),
                f"{value!r} is not a webinar id",
                'write "create", or the id the provider shows, such as "81234567890"',
            )
        return value

    def contacts(self, data: dict) -> tuple[Contact, ...]:
        contacts = []
        for path, table in self.tables(data, "contacts"):
            named = self.safe(self.named, table, path, CONTACT_KEYS)
            purpose = self.safe(self.text, table, path, "purpose", required=True, check=_PURPOSE)
            address = self.safe(
                self.text, table, path, "email", required=True, check=validate.mailbox_address, fix=_EMAIL_FIX
            )
            if named and purpose and address:
                shown = {"name": named.name, "role": named.role, "organisation": named.organisation}
                contacts.append(Contact(purpose=purpose, email=address, **shown))
        return tuple(contacts)

    def reminders(self, data: dict) -> tuple[tuple[timedelta, ...], timedelta]:
        table = self.table(data, "reminders")
        texts = DEFAULT_REMINDER_OFFSETS if table is None else None
        grace = DEFAULT_GRACE
        if table is not None:
            self.known_keys(table, ("reminders",), REMINDER_KEYS)
            texts = self.safe(self.strings, table, ("reminders",), "offsets", str, default=())
            grace = self.safe(self.duration, table, ("reminders",), "grace") or DEFAULT_GRACE
        return self.offsets(texts, ("reminders", "offsets")), grace

    def speaker_reminders(self, data: dict) -> tuple[timedelta, ...]:
        """`[speakers] reminders`: the speakers' own offsets before the start, read as
        `[reminders] offsets` are; DEFAULT_SPEAKER_REMINDERS without the table."""
        table = self.table(data, "speakers")
        if table is None:
            return self.offsets(DEFAULT_SPEAKER_REMINDERS, ("speakers", "reminders"))
        self.known_keys(table, ("speakers",), SPEAKERS_KEYS)
        texts = self.safe(self.strings, table, ("speakers",), "reminders", str, default=())
        return self.offsets(texts, ("speakers", "reminders"))

    def offsets(self, texts: tuple[str, ...], where: tuple) -> tuple[timedelta, ...]:
        """Offsets before the start (`7d`, `1h`), each once and within a year, latest first."""
        offsets: list[timedelta] = []
        for i, text in enumerate(texts):
            path = (*where, i)
            try:
                offset = times.parse_duration(text)
            except ValueError as exc:
                self.report(path, str(exc), _OFFSET_FIX)
                continue
            if offset in offsets:
                self.report(path, f"{text!r} is listed twice", "list each offset once")
                continue
            if offset > MAX_LEAD:
                self.report(path, f"{text!r} is more than a year before the start", _OFFSET_FIX)
                continue
            offsets.append(offset)
        return tuple(sorted(offsets, reverse=True))

    def practice(self, data: dict, schedule: tuple[datetime, datetime, str] | None) -> Practice | None:
        """`[practice]`: a start in the webinar's zone and a duration (or an end), ending by
        the webinar's start and at most a year before it; `reminder` before its start."""
        table = self.table(data, "practice")
        if table is None:
            return None
        path = ("practice",)
        self.known_keys(table, path, PRACTICE_KEYS)
        reminder = self.safe(self.duration, table, path, "reminder") or DEFAULT_PRACTICE_REMINDER
        if schedule is None:  # the zone or the start is wrong, and already reported
            return None
        webinar_start, _, zone_name = schedule
        start = self.safe(self.wall_time, table, path, "start", zone_name, required=True)
        end = None if start is None else self.safe(self.end, table, path, start, zone_name)
        if end is None:
            return None
        by = f"hold the practice before the webinar starts ({_local(webinar_start, zone_name)})"
        if end > webinar_start:
            ends_by = "end" if "end" in table else "duration"
            self.report(
                (*path, ends_by), f"the practice ends at {_local(end, zone_name)}, after the webinar starts", by
            )
            return None
        if start < webinar_start - MAX_LEAD:
            self.report((*path, "start"), "is more than a year before the webinar", f"check the year: {by}")
            return None
        return Practice(start=start, end=end, reminder=reminder)

    def after_messages(self, data: dict) -> tuple[AfterMessage, ...]:
        messages: list[AfterMessage] = []
        for path, table in self.tables(data, "after"):
            self.known_keys(table, path, AFTER_KEYS)
            delay = self.safe(self.duration, table, path, "send")
            if delay is None:
                if "send" not in table:
                    self.report((*path, "send"), "is missing", 'add send = "1d" (how long after the end)')
                continue
            audience = self.safe(self.after_audience, table, path)
            if audience is None:
                continue
            links = {
                key: self.safe(self.text, table, path, key, check=validate.url, fix=_URL_FIX)
                for key in ("recording", "slides", "survey")
            }
            note = self.safe(self.text, table, path, "note", check=_description)
            message = AfterMessage(delay=delay, note=note, **links, **audience)
            if self.safe(self.after_fits, message, messages, table, path, default=False):
                messages.append(message)
        return tuple(sorted(messages, key=lambda m: (m.delay, AUDIENCES.index(m.to))))

    def after_audience(self, table: dict, path: tuple) -> dict[str, Any]:
        """`to`, and for attended or absent `wait` and `otherwise`, which an everyone message
        must not have (it waits for nothing)."""
        to = self.text(table, path, "to") or "everyone"
        if to not in AUDIENCES:
            raise self.fail((*path, "to"), f"{to!r} is not an audience", f"write to = one of {', '.join(AUDIENCES)}")
        if to == "everyone":
            for key in ("wait", "otherwise"):
                if key in table:
                    raise self.fail(
                        (*path, key),
                        "is only for a message to attended or absent: everyone's waits for no attendance",
                        f'remove {key}, or write to = "attended" or "absent"',
                    )
            return {}
        wait = self.duration(table, path, "wait")
        otherwise = self.text(table, path, "otherwise") or DEFAULT_OTHERWISE
        if otherwise not in FALLBACKS:
            raise self.fail(
                (*path, "otherwise"),
                f"{otherwise!r} is not what to do without attendance",
                'write otherwise = "skip" (send nothing) or "everyone" (send it to every approved registrant)',
            )
        return {"to": to, "wait": DEFAULT_WAIT if wait is None else wait, "otherwise": otherwise}

    def after_fits(self, message: AfterMessage, earlier: list[AfterMessage], table: dict, path: tuple) -> bool:
        """Whether `message` may go at its time beside the `earlier` ones: one message per
        audience and time, no everyone message beside a version, the versions of one time
        waiting alike, and at most one of them falling back to everyone (nobody gets both)."""
        same_time = [m for m in earlier if m.delay == message.delay]
        send = table["send"]
        if any(m.to == message.to for m in same_time):
            if message.to == "everyone":
                raise self.fail((*path, "send"), f"{send!r} is given twice", "send each message at its own time")
            other = "absent" if message.to == "attended" else "attended"
            raise self.fail(
                (*path, "send"),
                f"{send!r} is given twice for those {message.to}",
                f'send each message at its own time, or address this one to = "{other}"',
            )
        if same_time and "everyone" in (message.to, same_time[0].to):
            raise self.fail(
                (*path, "to"),
                f"a message to everyone and one to attended or absent are both sent at {send!r}: "
                "those addressed would get both",
                'address both by attendance (to = "attended" and to = "absent"), or send them at different times',
            )
        if same_time and same_time[0].wait != message.wait:
            raise self.fail(
                (*path, "wait"),
                f"the versions sent at {send!r} wait for attendance for different times",
                f'give both the same wait, such as wait = "{times.format_duration(same_time[0].wait)}"',
            )
        if same_time and message.otherwise == same_time[0].otherwise == "everyone":
            raise self.fail(
                (*path, "otherwise"),
                f"both versions sent at {send!r} fall back to everyone: without attendance, everyone would get both",
                'let one of them skip: otherwise = "skip"',
            )
        return True

    def registration(self, data: dict, schedule: tuple[datetime, datetime, str] | None) -> RegistrationOptions:
        """The `[registration]` table: each part of it is read by a method of its own."""
        table = self.table(data, "registration")
        if table is None:
            return RegistrationOptions()
        path = ("registration",)
        self.known_keys(table, path, REGISTRATION_KEYS)
        return RegistrationOptions(
            capacity=self.safe(self.registration_capacity, table, path),
            questions=self.registration_questions(table),
            **self.registration_window(table, path, schedule),
        )

    def registration_window(self, table: dict, path: tuple, schedule: tuple | None) -> dict[str, Any]:
        """`opens` and `closes`: wall times in the webinar's zone (or `closes = "start"`), the
        opening before the closing, and both before the webinar ends."""
        if schedule is None:  # the zone or the start is wrong, and already reported
            return {}
        start, end, zone_name = schedule
        opens = self.safe(self.wall_time, table, path, "opens", zone_name)
        at_start = isinstance(table.get("closes"), str) and table["closes"].strip().lower() == "start"
        closes = start if at_start else self.safe(self.wall_time, table, path, "closes", zone_name)
        fix_end = f"registration must open and close before the webinar ends ({_local(end, zone_name)})"
        if opens is not None and opens >= end:
            self.report((*path, "opens"), "is not before the webinar ends", fix_end)
            opens = None
        if closes is not None and closes > end:
            self.report((*path, "closes"), "is after the webinar ends", f'{fix_end}, or write closes = "start"')
            closes = None
        if opens is not None and closes is not None and closes <= opens:
            self.report((*path, "closes"), "is not after opens", "registration must close after it opens")
        return {"opens": opens, "closes": closes, "closes_at_start": at_start}

    def registration_questions(self, table: dict) -> tuple[RegistrationQuestion, ...]:
        """`[[registration.questions]]`: each checked alone, then their ids and texts for repeats."""
        questions: list[RegistrationQuestion] = []
        for path, entry in self.tables(table, "questions", ("registration",)):
            question = self.safe(self.registration_question, entry, path)
            if question is None:
                continue
            if any(q.id == question.id for q in questions):
                self.report((*path, "id"), f"{question.id!r} is given twice", "give each question its own id")
            elif any(q.text == question.text for q in questions):
                self.report((*path, "text"), "is asked twice", "ask each question once (Zoom keeps them by text)")
            else:
                questions.append(question)
        return tuple(questions)

    def registration_question(self, table: dict, path: tuple) -> RegistrationQuestion:
        self.known_keys(table, path, REGISTRATION_QUESTION_KEYS)
        question_id = self.safe(self.question_id, table, path)
        text = self.safe(self.text, table, path, "text", required=True, check=_label)
        kind = self.safe(self.text, table, path, "type", check=_QUESTION_TYPE) or "text"
        required = self.safe(self.flag, table, path, "required", False, default=False)
        choices = self.question_choices(table, path, kind)
        if question_id is None or text is None:
            raise _Invalid()
        own_fields = (*PERSON_QUESTIONS, *ZOOM_STANDARD_QUESTIONS)
        if question_id in own_fields and kind != "text":
            raise self.fail(
                (*path, "type"),
                f"{question_id!r} is one of Zoom's own fields, which are answered in words",
                f'write type = "text", or give the question another id than {", ".join(own_fields)}',
            )
        return RegistrationQuestion(id=question_id, text=text, type=kind, choices=choices, required=required)

    def question_id(self, table: dict, path: tuple) -> str:
        value = self.text(table, path, "id", required=True)
        if not _QUESTION_ID_RE.match(value):
            raise self.fail(
                (*path, "id"),
                f"{validate.shown(value)} is not a question id",
                "use lower case letters, digits and _, starting with a letter, such as 'sector' (at most 40)",
            )
        if value in RESERVED_QUESTION_IDS:
            raise self.fail(
                (*path, "id"),
                f"{value!r} is already a column of the registrants",
                f"give the question another id than {', '.join(RESERVED_QUESTION_IDS)}",
            )
        return value

    def question_choices(self, table: dict, path: tuple, kind: str) -> tuple[str, ...]:
        if kind != "choice":
            if "choices" in table:
                self.report(
                    (*path, "choices"), f"a {kind} question has no choices", 'remove them, or write type = "choice"'
                )
            return ()
        if "choices" not in table:
            self.report((*path, "choices"), "is missing", 'add choices = ["First", "Second"]')
            return ()
        choices = self.safe(self.strings, table, path, "choices", _choice, default=())
        for i, choice in enumerate(choices):
            if choice in choices[:i]:
                self.report((*path, "choices", i), f"{choice!r} is listed twice", "list each choice once")
        if table["choices"] == []:
            self.report((*path, "choices"), "is empty", 'list the answers to choose from, such as ["Yes", "No"]')
        return tuple(dict.fromkeys(choices))

    def registration_capacity(self, table: dict, path: tuple) -> int | None:
        """`capacity`: a positive whole number of seats, or absent for no limit."""
        capacity = self.get(table, path, "capacity", int)
        if capacity is None:
            return None
        fix = "write the number of seats as a whole number such as 100, or leave capacity out for no limit"
        if capacity < 1:
            raise self.fail((*path, "capacity"), f"must be at least 1, not {capacity}", fix)
        if capacity > MAX_CAPACITY:
            raise self.fail((*path, "capacity"), f"{capacity:,} is more than {MAX_CAPACITY:,} seats", fix)
        return capacity

    def duration(self, table: dict, path: tuple, key: str) -> timedelta | None:
        text = self.text(table, path, key)
        if text is None:
            return None
        try:
            duration = times.parse_duration(text)
        except ValueError as exc:
            raise self.fail((*path, key), str(exc), 'write it like "30m", "1h" or "2h30m"') from exc
        if duration > MAX_LEAD:
            raise self.fail((*path, key), f"{text!r} is more than a year", 'write it like "30m", "1h" or "2h30m"')
        return duration

    def flag(self, table: dict, path: tuple, key: str, default: bool) -> bool:
        value = self.get(table, path, key, bool)
        return default if value is None else value

    def mail(self, data: dict) -> MailOptions:
        table = self.table(data, "mail")
        if table is None:
            return MailOptions()
        path = ("mail",)
        self.known_keys(table, path, MAIL_KEYS)
        templates = self.safe(self.template_folder, table, path)
        return MailOptions(
            templates=templates,
            languages=self.mail_languages(table, path, templates),
            include_questions=self.safe(self.flag, table, path, "include_questions", True, default=True),
            include_readings=self.safe(self.flag, table, path, "include_readings", True, default=True),
        )

    def mail_languages(self, table: dict, path: tuple, templates: str | None) -> tuple[str, ...] | None:
        """The languages the webinar's mails are offered in; each must have templates, in the
        default folder or the organiser's. None when not given: every language that has."""
        if "languages" not in table:
            return None
        tags = self.safe(self.strings, table, path, "languages", validate.language, default=())
        installed = languages.available(templates)
        offered: list[str] = []
        for i, tag in enumerate(tags):
            if tag in offered:
                self.report((*path, "languages", i), f"{tag!r} is listed twice", "list each language once")
            elif tag not in installed:
                fix = f"use one of {', '.join(installed)}, or add a folder of templates named {tag!r}"
                self.report((*path, "languages", i), f"there are no templates in {tag!r}", fix)
            else:
                offered.append(tag)
        if not tags and isinstance(table.get("languages"), list) and not table["languages"]:
            self.report((*path, "languages"), "is empty", 'list at least one, such as ["en"], or leave it out')
        return tuple(offered) or None

    def template_folder(self, table: dict, path: tuple) -> str | None:
        """The organiser's template folder, resolved against the definition's own folder."""
        text = self.text(table, path, "templates")
        if text is None:
            return None
        where, fix = (*path, "templates"), "give a folder path relative to this file"
        if validate.has_control(text) or len(text) > 1024:
            raise self.fail(where, f"{validate.shown(text)} is not a folder name", fix)
        try:
            folder = (Path(self.source).parent / text).resolve()
            found = folder.is_dir()
        except (OSError, ValueError):  # a name the system cannot look up: too long, odd bytes
            found = False
        if not found:
            raise self.fail(where, f"{validate.shown(text)} is not a folder", fix)
        return str(folder)


_URL_FIX = "write a full link such as https://example.org/page (spaces as %20)"
_EMAIL_FIX = "write a plain address such as name@example.org"
_TEXT_FIX = "write it on one line, without < or > or control characters"
_OFFSET_FIX = 'write offsets before the start like "7d", "1d", "1h" or "30m"'


def _label(value: str) -> str:
    """Programme text shown in mail headers and subjects: one line, no control characters."""
    return validate.person_text(value, "text", max_length=300)


def _name(value: str) -> str:
    return validate.person_text(value, "name")


def _question(value: str) -> str:
    """A guiding question: shown only in the body, so markup is fine; one line, no controls."""
    return validate.prose(value, "question")


def _choice(value: str) -> str:
    """One of a question's choices: an answer, so held to the answers' rules."""
    return validate.person_text(value, "choice", max_length=ANSWER_MAX_LENGTH)


def _description(value: str) -> str:
    return validate.paragraphs(value, "description")


def _one_of(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value.strip() not in allowed:
            raise ValueError(f"{value!r} must be one of: {', '.join(allowed)}")
        return value.strip()

    return check


_PURPOSE = _one_of(tuple(CONTACT_PURPOSES))
_APPROVAL = _one_of(APPROVAL_MODES)
_QUESTION_TYPE = _one_of(QUESTION_TYPES)


def _fix_for(check: Callable[[str], str] | None) -> str:
    """The fix to show when `check` refuses a value."""
    fixes = {
        _label: _TEXT_FIX,
        _name: _TEXT_FIX,
        _question: "write the question as plain text, without control or text-direction characters",
        _description: "write it as plain text, without control or text-direction characters",
        validate.language: "use an ISO 639-1 code such as en, fr, es, ar, zh or ru",
        validate.url: _URL_FIX,
        validate.email_address: _EMAIL_FIX,
        validate.mailbox_address: "write an address such as name@example.org or Name <name@example.org>",
        _PURPOSE: f"write one of: {', '.join(CONTACT_PURPOSES)}",
        _APPROVAL: f"write one of: {', '.join(APPROVAL_MODES)}",
        _QUESTION_TYPE: f"write one of: {', '.join(QUESTION_TYPES)}",
        _choice: f"write each choice on one line, without < or >, in at most {ANSWER_MAX_LENGTH} characters",
        str: _OFFSET_FIX,
    }
    if check is _provider_name:
        return (
            f"write one of: {', '.join(plugins.names(plugins.PROVIDERS))}, or leave it out to use WEBINAR_OPS_PROVIDER"
        )
    return fixes.get(check, "correct the value as the message says")


def _provider_name(value: str) -> str:
    return _one_of(plugins.names(plugins.PROVIDERS))(value)


def _local(instant: datetime, zone_name: str) -> str:
    return f"{times.in_zone(instant, zone_name):%Y-%m-%d %H:%M} {zone_name}"


def _between(start: datetime, end: datetime, zone_name: str) -> str:
    first, last = times.in_zone(start, zone_name), times.in_zone(end, zone_name)
    return f"agenda times must lie between {first:%H:%M} and {last:%H:%M} ({zone_name})"


def _misspelt_in(key: str, table: dict) -> bool:
    return bool(difflib.get_close_matches(key, [str(k) for k in table], n=1, cutoff=0.6))


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _kind_name(kind: type | tuple) -> str:
    names = {str: "text", int: "a whole number", list: "a list", dict: "a table", bool: "true or false"}
    names.update({datetime: "a date and time", date: "a date", time: "a time", float: "a number"})
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)
