"""What the organiser sees in a terminal: tables, progress bars, JSON and plain reports.

Human output goes to standard output as readable tables; progress and errors go to
standard error, so `--json` output on standard output stays machine-readable. rich is
imported only when something is drawn, which keeps `webinar-ops --help` quick.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from webinar_ops import times
from webinar_ops.store import WebinarRecord


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on standard output."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A readable table on standard output."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    # A pipe has no width of its own; an unbounded one keeps addresses and links whole for grep.
    Console(highlight=False, width=None if sys.stdout.isatty() else 100_000).print(table)


def error(text: str) -> None:
    """An error for a person, on standard error."""
    sys.stderr.write(text.rstrip("\n") + "\n")


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error; yields `advance(done, total)`. The bar appears
    only once there is something to count, so work that turns out empty stays quiet."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=Console(stderr=True))
    task = None

    def advance(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            progress.start()
            task = progress.add_task(description, total=total)
        progress.update(task, completed=done, total=total)

    try:
        yield advance
    finally:
        progress.stop()


def mask_link(url: str | None) -> str | None:
    """A personal join link with its secret part hidden, for listings."""
    if not url:
        return url
    head, _, tail = url.rpartition("/")
    return f"{head}/{tail[:4]}…" if head else "…"


def webinar_when(record: WebinarRecord) -> str:
    """`Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9) = 06:00–07:30 UTC`."""
    definition = record.definition
    local = times.format_span(definition.start, definition.end, definition.time_zone)
    utc = times.format_span(definition.start, definition.end, "UTC", with_day=False)
    when = local if definition.time_zone in ("UTC", "Etc/UTC") else f"{local} = {utc}"
    return f"CANCELLED on {record.cancelled_at}: {when}" if record.cancelled_at else when


def webinar_report(record: WebinarRecord) -> str:
    """Everything the definition holds, as plain text: what `webinar show` prints."""
    d = record.definition
    lines = [d.title]
    lines += [f"{label}: {value}" for label, value in _header_fields(record) if value]
    if d.description:
        lines += ["", "About", *d.description.strip().splitlines()]
    if d.moderator:
        lines += ["", f"Moderator: {d.moderator.describe()}"]
    lines += ["", f"Agenda ({times.zone_label(d.time_zone)})"]
    for item in d.agenda:
        lines.append(f"  {_item_time(item, d.time_zone)}  {item.title}")
        lines += [f"      {speaker.describe()}" for speaker in item.speakers]
    if d.questions:
        lines += ["", "Guiding questions"]
        for group in d.questions:
            lines.append(f"  {group.part}" if group.part else "")
            lines += [f"    - {question}" for question in group.items]
    if d.registration.questions:
        lines += ["", "Registration questions"]
        lines += [f"  {q.id}: {q.text} ({_question_kind(q)})" for q in d.registration.questions]
    if d.readings:
        lines += ["", "Background readings"]
        for reading in d.readings:
            lines += [f"  - {reading.title}", f"    {reading.url}"]
    if d.contacts:
        lines += ["", "Contacts"]
        lines += [f"  {c.purpose_label}: {c.describe()} <{c.email}>" for c in d.contacts]
    offsets = ", ".join(times.format_duration(offset) for offset in d.reminder_offsets) or "none"
    lines += ["", f"Reminders before the start: {offsets}"]
    lines += _speakers_section(d)
    return "\n".join(lines)


def _speakers_section(d: Any) -> list[str]:
    """Each person who speaks or moderates, once, with the details the file gives for writing
    to them and their items; then the practice session. What the definition says, not what
    was sent: no mail goes to speakers yet."""
    people = d.speakers()
    lines = ["", "Speakers (each once, with their items)"] if people else []
    for person in people:
        own = [person.email, person.time_zone, person.language, "moderator" if person.moderates else None]
        details = ", ".join(part for part in own if part)
        lines.append(f"  {person.name}" + (f" ({details})" if details else ""))
        lines += [f"      {_item_time(item, d.time_zone)}  {item.title}" for item in person.items]
    if d.practice is not None:
        when = times.format_span(d.practice.start, d.practice.end, d.time_zone)
        lines += ["", f"Practice session: {when}"]
    return lines


def _question_kind(question: Any) -> str:
    """`choice of Government, Academia; required`: how a registration question is answered."""
    kind = f"choice of {', '.join(question.choices)}" if question.type == "choice" else question.type
    return f"{kind}; required" if question.required else kind


def _header_fields(record: WebinarRecord) -> list[tuple[str, str | None]]:
    d = record.definition
    hosted = record.provider_webinar_id or ("not created yet" if d.provider.creates else d.provider.webinar_id)
    return [
        ("Series", " — ".join(part for part in (d.series, d.series_theme) if part) or None),
        ("Session", d.session),
        ("Organisers", "; ".join(d.organisers) or None),
        ("When", webinar_when(record)),
        ("Slug", record.slug),
        ("Revision", str(record.revision)),
        ("Provider", f"{record.provider} (webinar {hosted}, {d.provider.approval} approval)"),
        ("Registration", record.registration_url),
        ("Registration opens", _moment(record, d.registration.opens)),
        ("Registration closes", _moment(record, d.registration.closes, d.registration.closes_at_start)),
        ("Capacity", f"{d.registration.capacity:,} seats" if d.registration.capacity else None),
        ("Shared join link", record.join_url),
        ("Provider error", record.provider_error),
    ]


def _moment(record: WebinarRecord, instant: Any, at_start: bool = False) -> str | None:
    """`Thu 29 Apr 2021 18:00 Seoul time (09:00 UTC)`, or None for no instant."""
    if instant is None:
        return None
    zone = times.zone_label(record.definition.time_zone)
    shown = f"{record.definition.local(instant):%a %d %b %Y %H:%M} {zone} ({times.iso_utc(instant)})"
    return f"{shown}, at the start" if at_start else shown


def _item_time(item: Any, zone_name: str) -> str:
    start = times.in_zone(item.start, zone_name)
    if item.end is None:
        return f"{start:%H:%M}      "
    return f"{start:%H:%M}–{times.in_zone(item.end, zone_name):%H:%M}"


def _manual_send_line(record: WebinarRecord, send: dict) -> str:
    """`manual-reminder asked 2026-12-02 12:59 UTC (Wed 02 Dec 21:59 KST): 12 sent, last at 13:00 UTC`."""
    asked = times.parse_iso_utc(send["asked_at"])
    zone = times.zone_label(record.definition.time_zone)
    states = ", ".join(f"{n} {state}" for state, n in sorted(send["states"].items()))
    line = (
        f"manual-{send['template']} asked {asked:%Y-%m-%d %H:%M} UTC "
        f"({record.definition.local(asked):%a %d %b %H:%M} {zone}): {states}"
    )
    if send["last_sent_at"]:
        line += f", last sent {times.parse_iso_utc(send['last_sent_at']):%Y-%m-%d %H:%M} UTC"
    return line


def _awaiting_line(record: WebinarRecord, approval: dict) -> str:
    """`awaiting approval: 3, the oldest for 2d4h (since …)`, and how to decide."""
    waited = times.format_duration(timedelta(seconds=max(0, approval["oldest_waited_seconds"])))
    return (
        f"awaiting approval: {approval['pending']}, the oldest for {waited} (since {approval['oldest_since']}); "
        f"decide with `webinar-ops registrants approve|deny {record.slug} EMAIL...`"
    )


def print_status(record: WebinarRecord, summary: dict) -> None:
    """One webinar's status: registrants, registration at the provider, and mail by kind."""
    import click

    counts, synced = summary["registrants"], summary["sync"]
    click.echo(f"{record.slug} (revision {record.revision}): {record.title}")
    click.echo(f"  {webinar_when(record)}")
    click.echo(f"  provider: {record.provider}, webinar {record.provider_webinar_id or 'not created yet (run sync)'}")
    if record.provider_error:
        click.echo(f"  provider error: {record.provider_error}")
    seats = summary["seats"]
    if seats["capacity"] is not None or seats["waiting"]:
        click.echo(
            f"  capacity: {seats['capacity'] or 'none'}, {seats['taken']} seats taken, "
            f"{seats['waiting']} on the waitlist"
        )
    print_table(
        (
            "pending",
            "approved",
            "waitlisted",
            "denied",
            "cancelled",
            "at provider",
            "waiting",
            "sync failed",
            "unsubscribed",
        ),
        [
            (
                counts["pending"],
                counts["approved"],
                counts["waitlisted"],
                counts["denied"],
                counts["cancelled"],
                synced["registered"],
                synced["waiting"],
                synced["failed"],
                summary["unsubscribed"],
            )
        ],
        title="Registrants",
    )
    if summary["approval"]["pending"]:
        click.echo(f"  {_awaiting_line(record, summary['approval'])}")
    states = ("sent", "pending", "sending", "failed", "skipped", "missed")
    rows = [(kind, *(by_state.get(state, 0) for state in states)) for kind, by_state in summary["mail"].items()]
    if rows:
        print_table(("mail", *states), rows, title="Mail")
    rows = [(kind, *(by_state.get(state, 0) for state in states)) for kind, by_state in summary["speaker_mail"].items()]
    if rows:
        print_table(("mail", *states), rows, title="Speakers' mail")
    for send in summary["manual_sends"]:
        click.echo(f"  {_manual_send_line(record, send)}")
    nxt = summary["next_mail"]
    if nxt:
        due = times.parse_iso_utc(nxt["due_at"])
        local = record.definition.local(due)
        zone = times.zone_label(record.definition.time_zone)
        click.echo(
            f"  next mail: {nxt['kind']} to {nxt['recipients']}, due {times.iso_utc(due)} "
            f"({local:%a %d %b %H:%M} {zone})"
        )
    for reason in summary["not_sent"]:
        click.echo(f"  {reason['state']}: {reason['n']} × {reason['kind']}: {reason['why']}")
    for waiting in summary["waiting_for_attendance"]:
        click.echo(f"  {_waiting_line(record, waiting)}")
    if line := _registration_line(record, summary["registration"]):
        click.echo(f"  {line}")
    if summary["sources"]:
        counted = ", ".join(f"{row['source'] or 'no source'} {row['registrants']}" for row in summary["sources"])
        click.echo(f"  came from: {counted}")
    if line := attendance_line(summary["attendance"]):
        click.echo(f"  {line}")


def attendance_line(attendance: dict) -> str | None:
    """`attendance: 3 of 15 attended (20%), 75 minutes on average; from the import, 2021-05-01T…`,
    or why it is not known yet once the webinar has ended; None before the end."""
    if attendance["known"]:
        mean = attendance["mean_minutes"]
        minutes = f", {mean:.0f} minutes on average" if mean is not None else ""
        rate = "-" if attendance["rate"] is None else f"{attendance['rate']:.0%}"
        told = f"from the {attendance['source']}, {attendance['known_at']}"
        strays = attendance["unmatched"]
        unmatched = f"; {strays} session{'' if strays == 1 else 's'} matched no registrant" if strays else ""
        came = f"{attendance['attended']} of {attendance['expected']} attended ({rate})"
        return f"attendance: {came}{minutes}; {told}{unmatched}"
    if not attendance["ended"]:
        return None
    tries = attendance["tries"]
    why = f"; {attendance['error']}" if attendance["error"] else ""
    later = f"; next try after {attendance['retry_after']}" if attendance["retry_after"] else ""
    return f"attendance: not known yet ({tries} {'try' if tries == 1 else 'tries'}{why}{later})"


def _waiting_line(record: WebinarRecord, waiting: dict) -> str:
    """`after-1d-attended, after-1d-absent wait for attendance until 2021-05-03T07:30:00Z (Mon 03
    May 16:30 Seoul time); if it is not known by then: attended to everyone, absent skipped`."""
    until = times.parse_iso_utc(waiting["until"])
    zone = times.zone_label(record.definition.time_zone)
    fallbacks = waiting["otherwise"].items()
    then = ", ".join(f"{to} {'to everyone' if how == 'everyone' else 'skipped'}" for to, how in fallbacks)
    return (
        f"{', '.join(waiting['mail'])} wait for attendance until {waiting['until']} "
        f"({record.definition.local(until):%a %d %b %H:%M} {zone}); if it is not known by then: {then}"
    )


def _registration_line(record: WebinarRecord, window: dict) -> str | None:
    """`registration: open until Fri 30 Apr 15:00 Seoul time (the start)`, or None without bounds."""
    if not window["opens"] and not window["closes"]:
        return None
    zone = times.zone_label(record.definition.time_zone)

    def shown(key: str) -> str:
        return f"{record.definition.local(times.parse_iso_utc(window[key])):%a %d %b %Y %H:%M} {zone}"

    parts = [f"opens {shown('opens')}"] if window["opens"] else []
    if window["closes"]:
        parts.append(f"closes {shown('closes')}" + (" (the start)" if window["closes_at_start"] else ""))
    state = {"open": "open now", "not_open": "not open yet", "closed": "closed"}[window["now"]]
    return f"registration: {state}; {', '.join(parts)}"
