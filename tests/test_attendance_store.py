"""Attendance in the store: sessions merged per person, matched by provider id then address,
kept all or nothing, and counted for the status and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import NOW, SAMPLE_DEFINITION

from webinar_ops.attendance import Join, match
from webinar_ops.definition import load_definition
from webinar_ops.people import Person
from webinar_ops.store import NewRegistrant, Store

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)


def webinar_with(store: Store, *emails: str):
    definition = load_definition(SAMPLE_DEFINITION)
    record = store.save_webinar(definition, SAMPLE_DEFINITION.read_text(), "local", NOW).record
    people = [Person(email=e, first_name=e.split("@")[0].title()) for e in emails]
    store.add_registrants(
        [NewRegistrant(webinar_id=record.id, person=p, status="approved", source="cli") for p in people], NOW
    )
    return record


def test_two_sessions_of_one_person_are_one_attendee_with_the_minutes_of_both(store):
    record = webinar_with(store, "ana@example.org", "bob@example.org")
    joins = [
        Join("ANA@example.org", joined_at=START, left_at=START + timedelta(minutes=20)),
        Join("ana@example.org", joined_at=START + timedelta(minutes=30), left_at=START + timedelta(minutes=90)),
        Join("stranger@example.org", joined_at=START, minutes=5),
    ]
    matched = match(store.attendance_candidates(record.id), joins)
    assert matched.unmatched == 1
    (ana,) = matched.present
    assert (ana.joined_at, ana.left_at, ana.minutes) == (START, START + timedelta(minutes=90), 80)

    store.record_attendance(record.id, matched.present, "import", NOW, matched.unmatched)
    figures = store.attendance_figures(record.id)
    assert (figures.expected, figures.attended, figures.absent, figures.minutes) == (2, 1, 1, 80)
    assert figures.rate == 0.5
    assert store.attendance_check(record.id).known


def test_a_provider_registrant_id_wins_over_the_address_it_was_reported_with(store):
    record = webinar_with(store, "ana@example.org", "bob@example.org")
    store.db.execute("UPDATE registrants SET provider_registrant_id = 'z-bob' WHERE email = 'bob@example.org'")
    matched = match(store.attendance_candidates(record.id), [Join("bob.private@example.com", "z-bob", minutes=45)])
    (bob,) = matched.present
    assert store.registrant_by_id(bob.registrant_id).email == "bob@example.org"


def test_a_second_record_replaces_the_first_entirely(store):
    record = webinar_with(store, "ana@example.org", "bob@example.org")
    candidates = store.attendance_candidates(record.id)
    store.record_attendance(record.id, match(candidates, [Join("ana@example.org", minutes=10)]).present, "import", NOW)
    store.record_attendance(record.id, match(candidates, [Join("bob@example.org", minutes=30)]).present, "import", NOW)
    by_email = {store.registrant_by_id(rid).email: p.attended for rid, p in store.attendance_of(record.id).items()}
    assert by_email == {"ana@example.org": False, "bob@example.org": True}


def test_a_try_before_the_report_is_ready_counts_and_keeps_its_reason(store):
    record = webinar_with(store, "ana@example.org")
    later = NOW + timedelta(minutes=30)
    store.attendance_not_ready(record.id, "the report is not ready yet", later)
    check = store.attendance_not_ready(record.id, "the report is not ready yet", later)
    assert (check.known, check.tries, check.retry_after) == (False, 2, "2021-04-01T09:30:00Z")
    assert store.attendance_figures(record.id).rate == 0.0
