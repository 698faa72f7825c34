"""Registrants: validating people, importing them from CSV, adding and cancelling one, and
approving or denying the requests that wait for the organiser's approval.

An import is all-or-nothing: the whole file is read and checked first, every problem is
reported with its line, and only a clean file is written, in one transaction. Importing the
same file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from webinar_ops import csv_files, times, validate
from webinar_ops.definition import ANSWER_MAX_LENGTH, RegistrationQuestion
from webinar_ops.errors import InputError, NotFound, Problem
from webinar_ops.people import FIELDS, REQUIRED_FIELDS, Person, check_answers, check_person, missing_fields
from webinar_ops.store import NewRegistrant, Registrant, Store, WebinarRecord

COLUMNS = FIELDS  # the CSV's columns are the fields of a Person
REQUIRED_COLUMNS = REQUIRED_FIELDS
MAX_ROWS = 200_000  # people in one file: a webinar holds tens of thousands at most
_HEADER_FIX = f"start the file with a header row such as: {','.join(COLUMNS)}"
_TOO_MANY_FIX = (
    f"a webinar holds tens of thousands of people at most: check that this is the right file, "
    f"or split it into files of at most {MAX_ROWS:,} people"
)

_NAME_FIX = "write just the name on one line: no < or >, no web or mail address, and a space after each dot"
_FIXES = {
    "email": "write a plain address such as ana@example.org",
    "first_name": _NAME_FIX,
    "last_name": _NAME_FIX,
    "organisation": "write it on one line, without < or >",
    "job_title": "write it on one line, without < or >",
    "country": "use a two-letter code such as KR, FR or BR, or leave it empty",
    "time_zone": "use an IANA zone such as Europe/Paris, or leave it empty",
    "language": "use a language tag such as en, fr, fr-CA or en-GB, or leave it empty",
}


@dataclass
class ImportPlan:
    """What an import would do; `apply_import` carries it out."""

    source: str
    new: list[Person] = field(default_factory=list)
    updated: list[tuple[Registrant, Person, list[str]]] = field(default_factory=list)
    unchanged: int = 0
    left_cancelled: list[Person] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(self.new or self.updated)


def read_csv(path: Path | str, answers: Collection[str] = ()) -> list[tuple[int, dict[str, str]]]:
    """Read a registrant CSV into (line number, {column: value}) pairs, checking its shape.

    UTF-8 with or without a byte-order mark; commas, semicolons or tabs; header names are
    case-insensitive and may use spaces for underscores. `answers` are the ids of the
    registration questions, which may be columns too. Raises InputError naming the line.
    """
    return list(iter_csv(path, answers))


def iter_csv(path: Path | str, answers: Collection[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """`read_csv` one row at a time, so that memory stays bounded whatever the file holds:
    a line longer than csv_files.MAX_LINE_LENGTH or a file of more than MAX_ROWS people is refused as
    soon as it is met, without reading the rest. The file's shape is checked in a first pass
    that keeps nothing, so that a caller collecting the rows never holds a file it must refuse."""
    for _ in _shaped_rows(path, answers):
        pass
    yield from _shaped_rows(path, answers)


def _shaped_rows(path: Path | str, answers: Collection[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """The people under the header, with their line numbers."""
    source = str(path)
    names: list[str | None] | None = None
    people = 0
    for number, cells in csv_files.rows(path, line_fix="check that this is a list of people, one per line"):
        if names is None:
            names = csv_files.columns(cells, source, number, (*COLUMNS, *answers), REQUIRED_COLUMNS, _HEADER_FIX)
            continue
        people += 1
        if people > MAX_ROWS:
            problem = Problem(source, f"more than {MAX_ROWS:,} people", line=number, fix=_TOO_MANY_FIX)
            raise InputError(f"{source} is too long to import:", [problem])
        yield number, csv_files.record(names, cells)
    if names is None:  # no line held text, or only separators, such as " , "
        raise InputError(f"{source} is empty.", [Problem(source, "no header row", line=1, fix=_HEADER_FIX)])


def plan_import(store: Store, webinar: WebinarRecord, path: Path | str) -> ImportPlan:
    """Check every row of the CSV against itself and the database; raise InputError listing
    every bad row, or return what the import would change."""
    webinar.require_not_cancelled("registrants can be added")
    source = str(path)
    plan = ImportPlan(source)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    existing = {row.email: row for row in store.registrants(webinar.id)}
    questions = webinar.definition.registration.questions
    stored = store.webinar_answers(webinar.id) if questions else {}
    for line, record in iter_csv(path, [q.id for q in questions if not q.person_field]):
        if "_extra" in record:
            problems.append(Problem(source, record["_extra"], line=line, fix="remove it, or give the column a header"))
            continue
        person, errors = check_person(record)
        problems.extend(Problem(source, message, line=line, field=name, fix=_FIXES[name]) for name, message in errors)
        if person is None:
            continue
        known_row = existing.get(person.email)
        answers, wrong = _answers(questions, record, stored.get(known_row.id) if known_row else None)
        wrong += _missing_fields(questions, person, known_row, record.keys())
        problems.extend(Problem(source, message, line=line, field=name, fix=fix) for name, message, fix in wrong)
        if wrong:
            continue
        person = replace(person, answers=answers)
        if person.email in seen:
            problems.append(
                Problem(
                    source,
                    f"{person.email} is also on line {seen[person.email]}",
                    line=line,
                    field="email",
                    fix="keep one row per person",
                )
            )
            continue
        seen[person.email] = line
        _plan_person(plan, known_row, person, record.keys(), stored.get(known_row.id) if known_row else None)
    if problems:
        raise csv_files.import_refused(source, problems)
    return plan


def _plan_person(
    plan: ImportPlan,
    row: Registrant | None,
    person: Person,
    given: Iterable[str],
    stored_answers: Mapping[str, str] | None = None,
) -> None:
    if row is None:
        plan.new.append(person)
    elif row.is_cancelled:
        plan.left_cancelled.append(person)
    elif changes := _differences(row, person, given, stored_answers):
        plan.updated.append((row, person, changes))
    else:
        plan.unchanged += 1


def _differences(
    row: Registrant, person: Person, given: Iterable[str], stored_answers: Mapping[str, str] | None = None
) -> list[str]:
    """The fields the file gives that differ from the stored ones, and the answers that
    differ. A column the file does not have leaves the stored value alone: a short file must
    not wipe time zones."""
    fields = person.fields()
    changed = [name for name in COLUMNS if name in given and getattr(row, name) != fields[name]]
    stored = stored_answers or {}
    return changed + [key for key, value in person.answer_values().items() if stored.get(key) != value]


def _answers(
    questions: tuple[RegistrationQuestion, ...],
    given: Mapping[str, str | None],
    stored: Mapping[str, str] | None,
    on_page: bool = False,
) -> tuple[tuple, list[tuple[str, str, str]]]:
    """The answers among `given` (the other keys are a person's fields), checked; and a
    (question id, message, fix) per problem, the fix worded for the page when `on_page`."""
    values = {key: value for key, value in given.items() if key not in COLUMNS and key != "_extra"}
    answers, problems = check_answers(questions, values, stored)
    by_id = {q.id: q for q in questions}
    return answers, [(key, message, answer_fix(by_id.get(key), on_page)) for key, message in problems]


def _missing_fields(
    questions: tuple[RegistrationQuestion, ...], person: Person, row: Registrant | None, given: Collection[str] | None
) -> list[tuple[str, str, str]]:
    """The person's own fields a required question asks for that are left empty: a field not
    `given` (None: any left empty) keeps what `row` holds. As (field, message, fix)."""
    values = {}
    for question in questions:
        if name := question.person_field:
            value = getattr(person, name)
            values[name] = (
                value if (given is not None and name in given) or row is None else value or getattr(row, name)
            )
    fix = "give it: this webinar asks everyone for it ([[registration.questions]])"
    return [(name, message, fix) for name, message in missing_fields(questions, values)]


def answer_fix(question: RegistrationQuestion | None, on_page: bool = False) -> str:
    """How to answer `question` well (None: an id that names no question), in a file or on
    the command line, or (`on_page`) on the registration page."""
    if question is None:
        return "answer only the questions the webinar asks ([[registration.questions]] ids)"
    if question.type == "choice":
        return "choose one from the list" if on_page else f"write one of: {', '.join(question.choices)}"
    if question.type == "checkbox":
        if on_page:
            return "tick the box to go on" if question.required else "tick the box, or leave it empty"
        return "write yes or no" + (" (it must be yes)" if question.required else "")
    return f"write the answer on one line, without < or >, in at most {ANSWER_MAX_LENGTH} characters"


def outside_registration(webinar: WebinarRecord, now: datetime) -> str | None:
    """Why registration is not open at `now` (`[registration] opens` and `closes`), as a
    sentence with the time on the webinar's clock, or None while it is open."""
    options, zone_name = webinar.definition.registration, webinar.definition.time_zone
    window = options.window(now)
    if window == "not_open":
        return f"registration for {webinar.slug} opens on {times.format_moment(options.opens, zone_name)}"
    if window == "closed":
        return f"registration for {webinar.slug} closed on {times.format_moment(options.closes, zone_name)}"
    return None


def require_registration_open(webinar: WebinarRecord, now: datetime, force: bool) -> str | None:
    """For the organiser's own commands: outside the registration window, refuse (InputError)
    unless `force`, and then return the warning to show. None while registration is open."""
    why = outside_registration(webinar, now)
    if why is None:
        return None
    if not force:
        raise InputError(f"Nobody was added: {why}. Add --force to add them all the same.")
    return f"{why}; added all the same (--force)"


def apply_import(store: Store, webinar: WebinarRecord, plan: ImportPlan, now: datetime) -> None:
    """Write a checked plan in one transaction: all of it or, on any error, none of it."""
    new = (NewRegistrant(webinar_id=webinar.id, person=p, status="approved", source="import") for p in plan.new)
    with store.transaction():
        store.add_registrants(new, now)
        for row, person, changes in plan.updated:
            fields = {name: getattr(person, name) for name in changes if name in COLUMNS}
            if fields:
                store.update_registrant(row.id, fields, now)
            answers = person.answer_values()
            if any(name in answers for name in changes):
                store.save_answers(row.id, {name: answers[name] for name in changes if name in answers})


def add_person(
    store: Store,
    webinar: WebinarRecord,
    values: dict[str, str | None],
    now: datetime,
    answers: Mapping[str, str] | None = None,
    source: str | None = None,
) -> tuple[str, str]:
    """Register one person from the command line, with their `answers` to the registration
    questions (by question id; a question not answered keeps the answer stored). Returns
    their normalised address and `added`, `re-activated`, `updated` or `unchanged`. A
    cancelled person is registered afresh. `source`, where they came from, is held to
    validate.tracking_source and refused otherwise."""
    webinar.require_not_cancelled("registrants can be added")
    person, errors = check_person(values)
    problems = [
        Problem("command line", message, field=f"--{name.replace('_', '-')}", fix=_FIXES[name])
        for name, message in errors
    ]
    try:
        source = validate.tracking_source(source) if source is not None else None
    except ValueError as exc:
        problems.append(Problem("command line", str(exc), field="--source", fix=_SOURCE_FIX))
    row = store.registrant(webinar.id, person.email) if person else None
    stored = store.answers(row.id) if row else {}
    questions = webinar.definition.registration.questions
    checked, wrong = _answers(questions, answers or {}, stored)
    problems += [Problem("command line", message, field=f"--answer {key}", fix=fix) for key, message, fix in wrong]
    if person is not None:
        missing = _missing_fields(questions, person, row, None)
        problems += [Problem("command line", m, field=f"--{k.replace('_', '-')}", fix=f) for k, m, f in missing]
    if person is None or problems:
        raise InputError("This person cannot be added:", problems)
    person = replace(person, answers=checked)
    fields = {k: v for k, v in person.fields().items() if v is not None}
    fields |= {"tracking_source": source} if source else {}
    new_answers = {k: v for k, v in person.answer_values().items() if stored.get(k) != v}
    with store.transaction():
        if row is None:
            new = NewRegistrant(
                webinar_id=webinar.id, person=person, status="approved", source="cli", tracking_source=source
            )
            store.add_registrants([new], now)
            return person.email, "added"
        if new_answers:
            store.save_answers(row.id, new_answers)
        if row.is_cancelled:
            store.update_registrant(row.id, {**fields, **_NOT_AT_PROVIDER, "status": "approved"}, now)
            return person.email, "re-activated"
        changes = {k: v for k, v in fields.items() if getattr(row, k) != v}
        if not changes and not new_answers:
            return person.email, "unchanged"
        if changes:
            store.update_registrant(row.id, changes, now)
        return person.email, "updated"


def register_online(
    store: Store,
    webinar: WebinarRecord,
    values: dict[str, str | None],
    now: datetime,
    zones: Collection[str] | None = None,
    answers: Mapping[str, str | None] | None = None,
    source: str | None = None,
) -> tuple[Person, str]:
    """Register one person who filled in the registration page. Returns them and `added`,
    `re-activated` or `already registered`; raises InputError with one Problem per field.

    Anyone can type anyone's address, so the page may add a person, or bring back one who
    cancelled, but never rewrites who someone is nor overturns the organisers' denial. The
    webinar's approval rule decides whether they are approved at once or wait. `zones`, when
    given, are the time zones the page offers; any other is refused. `answers` are what the
    page's questions were answered (by question id), held to the same rules as an import's.
    `source` is where they came from (a checked validate.tracking_source), kept with a new or
    returning registration."""
    webinar.require_not_cancelled("registrations are closed")
    person, errors = check_person(values)
    problems = [Problem("registration page", message, field=name, fix=_FIXES[name]) for name, message in errors]
    questions = webinar.definition.registration.questions
    checked, wrong = _answers(questions, answers or {}, None, on_page=True)
    if person is not None:
        wrong += [
            (k, m, "fill it in: the organisers ask everyone")
            for k, m, _ in _missing_fields(questions, person, None, None)
        ]
    problems += [Problem("registration page", message, field=key, fix=fix) for key, message, fix in wrong]
    problems += _link_in_organisation(values.get("organisation"))
    if zones is not None and values.get("time_zone") and values["time_zone"] not in zones:
        problems = [p for p in problems if p.field != "time_zone"]
        problems.append(Problem("registration page", "is not one of the list", field="time_zone", fix=_ZONE_FIX))
    if person is None or problems:
        raise InputError("Some answers need a change:", problems)
    person = replace(person, answers=checked)
    with store.transaction():  # the lookup inside: two submits at once must not both insert
        row = store.registrant(webinar.id, person.email)
        if row is None:
            status = webinar.definition.provider.signup_status
            new = NewRegistrant(
                webinar_id=webinar.id, person=person, status=status, source="web", tracking_source=source
            )
            store.add_registrants([new], now)
            return person, "added"
        if not row.is_cancelled:
            return person, "already registered"
        status = webinar.definition.provider.signup_status
        returning = {**_NOT_AT_PROVIDER, "status": status, **({"tracking_source": source} if source else {})}
        store.update_registrant(row.id, returning, now)
        if checked:  # their answers now, as they came back
            store.save_answers(row.id, person.answer_values())
        return person, "re-activated"


_ZONE_FIX = "choose your zone from the list, or leave it empty"
_SOURCE_FIX = "write a short word such as newsletter (letters, digits, -, _ or .), or leave --source out"
_NOT_AT_PROVIDER = {"provider_registrant_id": None, "provider_status": None, "join_url": None, "sync_error": None}


def _link_in_organisation(organisation: str | None) -> list[Problem]:
    """On the public page, the organisation is held to the rule for names: a stranger's link
    must not travel on with the registration. (An organiser's own file may say Booking.com.)"""
    if not organisation or not validate.reads_as_address(organisation):
        return []
    problem = Problem(
        "registration page",
        "the organisation looks like a link or an address",
        field="organisation",
        fix="write just its name, without a web or mail address",
    )
    return [problem]


def cancel_person(store: Store, webinar: WebinarRecord, email: str, now: datetime) -> Registrant:
    """Mark one registrant cancelled; returns their row as it was. The provider is told at
    the next sync (or at once, by the caller)."""
    try:
        address = validate.email_address(email)
    except ValueError as exc:
        raise InputError(f"Cannot cancel: {exc}.") from exc
    row = store.registrant(webinar.id, address)
    if row is None:
        raise NotFound(f"{address} is not registered for {webinar.slug}.")
    if not row.is_cancelled:
        store.update_registrant(row.id, {"status": "cancelled"}, now)
    return row


# -- export ---------------------------------------------------------------------------------

EXPORT_FIELDS = (*FIELDS, "status", "source", "registered_at")
# A cell starting with one of these is a formula to a spreadsheet (and a tab or a carriage
# return hides one): OWASP's "CSV injection".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_rows(store: Store, webinar: WebinarRecord) -> tuple[list[str], list[dict]]:
    """Every registrant of the webinar, by address: the column names (a person's fields, the
    status, the source, when they registered, then one column per registration question, by
    its id) and one {column: value} per person, None where empty; the answers also under
    `answers`. No join link: it is a secret."""
    questions = [q.id for q in webinar.definition.registration.questions if not q.person_field]
    answers = store.webinar_answers(webinar.id)
    rows = []
    for registrant in store.registrants(webinar.id):
        row = {name: getattr(registrant, name) for name in (*FIELDS, "status", "source")}
        row["registered_at"] = registrant.created_at
        given = answers.get(registrant.id, {})
        row.update({key: given.get(key) for key in questions})
        row["answers"] = {key: given[key] for key in questions if key in given}
        rows.append(row)
    return [*EXPORT_FIELDS, *questions], rows


def export_csv(columns: list[str], rows: list[dict]) -> str:
    """The rows as CSV for a spreadsheet: a byte-order mark first (so Excel reads UTF-8), CRLF
    line ends, and every value that a spreadsheet would take for a formula written as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_text(row.get(name)) for name in columns])
    return "\ufeff" + out.getvalue()


def spreadsheet_text(value: str | None) -> str:
    """`value` as a spreadsheet shows it as text: one starting with = + - @ (or a tab or a
    carriage return) gets a leading apostrophe, which spreadsheets show as text, not run."""
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# -- approval by hand ------------------------------------------------------------------------

# Why a decision changes nothing for someone. A mistake (an address that is no registrant, a
# cancelled registration) is the organiser's to fix; the rest says it was so already.
_ALREADY = {("approved", "approved"): "already approved", ("denied", "denied"): "already denied"}
_TAKE_BACK = "already approved: to take their place back, cancel their registration (`webinar-ops registrants cancel`)"
_REGISTER_AGAIN = "their registration is cancelled: register them again with `webinar-ops registrants add`"
_MISTAKES = {
    ("denied", "approved"): _TAKE_BACK,
    ("approved", "cancelled"): _REGISTER_AGAIN,
    ("denied", "cancelled"): "their registration is cancelled: there is no request to deny",
}


@dataclass(frozen=True)
class Decided:
    """What a decision did for one address: `changed` (with the status it left), or why not."""

    email: str
    changed: bool
    was: str | None = None  # the status before, when known
    became: str | None = None  # the status after, when changed: an approval may waitlist (capacity)
    why: str | None = None  # when nothing changed
    mistake: bool = False  # nothing changed because the organiser asked for something wrong


@dataclass
class Decisions:
    """What `decide_people` did, one Decided per address asked for, in order."""

    status: str  # approved or denied
    outcomes: list[Decided] = field(default_factory=list)

    @property
    def changed(self) -> list[Decided]:
        return [outcome for outcome in self.outcomes if outcome.changed]

    @property
    def unchanged(self) -> list[Decided]:
        return [outcome for outcome in self.outcomes if not outcome.changed]

    @property
    def failed(self) -> bool:
        """Nothing changed, and because of a mistake: the command exits with an error."""
        return not self.changed and any(outcome.mistake for outcome in self.outcomes)


def decide_people(
    store: Store,
    webinar: WebinarRecord,
    emails: Iterable[str],
    status: str,
    now: datetime,
    message: str | None = None,
    all_pending: bool = False,
) -> Decisions:
    """Approve or deny (`status`) the registrants of these addresses, or every pending one
    (`all_pending`), in one transaction, with `message` for the denial mail. The decision is
    the store's; the provider is told by the sync (`sync.push_decisions`). Each address gets
    its outcome: changed, already so, or a mistake (not a registrant, cancelled, a denial of
    someone approved)."""
    webinar.require_not_cancelled("registrations can be decided")
    with store.transaction():
        if all_pending:
            asked = [(row, None) for row in store.registrants(webinar.id, "status = 'pending'")]
        else:
            asked = _once_each([_asked_for(store, webinar, email) for email in emails])
        decisions = Decisions(status, [outcome or _outcome(row, status) for row, outcome in asked])
        changing = [row for (row, _), outcome in zip(asked, decisions.outcomes, strict=True) if outcome.changed]
        store.decide(changing, status, now, message)
        after = {row.id: row.status for row in store.registrants_by_id([row.id for row in changing]).values()}
    by_email = {row.email: after[row.id] for row in changing}
    decisions.outcomes = [replace(o, became=by_email[o.email]) if o.changed else o for o in decisions.outcomes]
    return decisions


def _once_each(asked: list[tuple[Registrant | None, Decided | None]]) -> list[tuple[Registrant | None, Decided | None]]:
    """The addresses asked for in the order given, each registrant once (`Ana@x` is `ana@x`)."""
    seen: set[int] = set()
    kept = []
    for row, outcome in asked:
        if row is not None and row.id in seen:
            continue
        if row is not None:
            seen.add(row.id)
        kept.append((row, outcome))
    return kept


def _asked_for(store: Store, webinar: WebinarRecord, email: str) -> tuple[Registrant | None, Decided | None]:
    """The registrant of `email`, or the mistake that it names none."""
    try:
        address = validate.email_address(email)
    except ValueError as exc:
        return None, Decided(email, False, why=f"not an address: {exc}", mistake=True)
    row = store.registrant(webinar.id, address)
    if row is None:
        why = f"not a registrant of {webinar.slug} (see `webinar-ops registrants list {webinar.slug}`)"
        return None, Decided(address, False, why=why, mistake=True)
    return row, None


def _outcome(row: Registrant, status: str) -> Decided:
    if (status, row.status) in _ALREADY:
        return Decided(row.email, False, row.status, why=_ALREADY[(status, row.status)])
    if (status, row.status) in _MISTAKES:
        return Decided(row.email, False, row.status, why=_MISTAKES[(status, row.status)], mistake=True)
    return Decided(row.email, True, row.status)
