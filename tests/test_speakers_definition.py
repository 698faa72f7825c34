"""Speakers in the definition (issue 17, part 1): each speaker and the moderator may carry an
address, a time zone and a language, checked as strictly as a registrant's; the entries of one
person across agenda items are one person; `[practice]` and `[speakers] reminders` are read;
and all of it survives the store. Every mistake is named with its file, line and fix."""

from __future__ import annotations

import difflib
import email
import json
import re
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
import requests
from conftest import NOW, REPO, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from web_server import serving

from webinar_ops.config import Settings
from webinar_ops.definition import SpeakerSlot, load_definition, parse_definition, speaker_slots
from webinar_ops.errors import InputError, Problem
from webinar_ops.providers import load_provider
from webinar_ops.store import describe_changes, is_significant
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

SPEAKERS_COPY = REPO / "tests" / "data" / "undesa-snu-session-5-speakers.toml"
PARK, SHIM, YAO, SON = (
    "mikyoung.park@example.org",
    "bokyun.shim@example.org",
    "keping.yao@example.org",
    "sungjoo.son@example.org",
)
PRESENTATION = "Presentation: Strengthening Data Governance"
ADDRESSES = (PARK, SHIM, YAO, SON)


def copy_variant(folder: Path, replacements: dict[str, str], name: str = "speakers.toml") -> Path:
    """The test copy with some text replaced; each `old` must occur (its first occurrence is replaced)."""
    text = SPEAKERS_COPY.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{old!r} is not in the speakers' copy"
        text = text.replace(old, new, 1)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, text: str, after: str | None = None) -> int:
    """The 1-based line of the first `text` in the file (after the first `after`, if given)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0 if after is None else next(i for i, line in enumerate(lines) if after in line) + 1
    return next(i for i, line in enumerate(lines[start:], start + 1) if text in line)


def refused(path: Path, field: str, at: str, after: str | None = None) -> Problem:
    """Load `path`, expect exactly one problem, about `field`, on the line holding `at`, with a fix."""
    with pytest.raises(InputError) as caught:
        load_definition(path)
    problems = caught.value.problems
    assert [p.field for p in problems] == [field], str(caught.value)
    problem = problems[0]
    assert problem.source == str(path)
    assert problem.line == line_of(path, at, after), str(problem)
    assert problem.fix, f"no fix for: {problem}"
    return problem


def minimal(start: str, zone: str, extra: str = "") -> str:
    return f"""slug = "minimal"
title = "A minimal webinar"

[schedule]
start = "{start}"
time_zone = "{zone}"
duration = "90m"
{extra}"""


# -- the model webinar's speakers, each once ---------------------------------------------------


def test_the_moderator_and_the_four_speaker_entries_are_four_people_each_with_their_own_items():
    people = load_definition(SPEAKERS_COPY).speakers()
    assert [(p.email, [item.title[:43] for item in p.items], p.moderates) for p in people] == [
        (PARK, ["Opening by the Moderator"], True),
        (SHIM, [PRESENTATION], False),
        (YAO, [PRESENTATION], False),
        (SON, ["Country Case Presentation"], False),
    ]


def test_each_person_keeps_the_details_any_of_their_entries_gives():
    by_key = {p.key: p for p in load_definition(SPEAKERS_COPY).speakers()}
    assert list(by_key) == list(ADDRESSES)
    park = by_key[PARK]
    # Her [moderator] table gives the zone and language; the opening's entry only the address,
    # written in capitals there, which is still her address.
    assert (park.name, park.time_zone, park.language) == ("Ms. Mi Kyoung Park", "Asia/Seoul", "en")
    assert (by_key[SHIM].time_zone, by_key[SHIM].language) == ("America/New_York", "fr")
    assert by_key[YAO].language is None  # their mails will be in the webinar's language
    assert by_key[SON].role == "Director, Digital Government Cooperation Division"


def test_the_speakers_copy_is_the_model_webinar_with_only_the_speakers_details_added():
    sample = SAMPLE_DEFINITION.read_text(encoding="utf-8").splitlines()
    copy = SPEAKERS_COPY.read_text(encoding="utf-8").splitlines()
    diff = [line for line in difflib.ndiff(sample, copy) if line[:1] in "+-"]
    assert [line for line in diff if line.startswith("-")] == []
    added = re.compile(r"^\+ (email|time_zone|language|reminders|start|duration|reminder) = |^\+ (\[\w+\]|#.*)?$")
    assert [line for line in diff if not added.match(line)] == []


def test_without_addresses_each_person_is_known_by_their_name(sample):
    people = sample.speakers()
    assert [p.key for p in people] == ["ms. mi kyoung park", "mr. bokyun shim", "mr. keping yao", "mr. sung joo son"]
    assert all(p.email is None for p in people)
    assert people[0].moderates
    assert [i.title for i in people[0].items] == ["Opening by the Moderator"]


def test_one_speaker_in_two_items_is_one_person_with_both(tmp_path):
    text = minimal(
        "2021-04-30 15:00",
        "Asia/Seoul",
        """
[[agenda]]
start = "15:00"
end = "15:30"
title = "Keynote"
[[agenda.speakers]]
name = "Ana Lima"
email = "ana@example.org"
time_zone = "America/Sao_Paulo"

[[agenda]]
start = "16:00"
end = "16:30"
title = "Closing"
[[agenda.speakers]]
name = "Ana  Lima"
[[agenda.speakers]]
name = "Bo Chen"
""",
    )
    (ana, bo) = parse_definition(text).speakers()
    assert (ana.key, ana.time_zone, [i.title for i in ana.items]) == (
        "ana@example.org",
        "America/Sao_Paulo",
        ["Keynote", "Closing"],
    )
    assert (bo.key, bo.email, [i.title for i in bo.items], bo.moderates) == ("bo chen", None, ["Closing"], False)


def test_a_moderator_who_speaks_in_no_item_is_still_a_person_who_moderates(tmp_path):
    text = minimal("2021-04-30 15:00", "Asia/Seoul", '\n[moderator]\nname = "Ana Lima"\nemail = "ana@example.org"\n')
    (ana,) = parse_definition(text).speakers()
    assert (ana.key, ana.items, ana.moderates) == ("ana@example.org", (), True)


# -- every mistake with its line and fix --------------------------------------------------------


@pytest.mark.parametrize(
    ("replacements", "field", "at"),
    [
        pytest.param(
            {'"bokyun.shim@example.org"': '"bokyun.shim(at)example.org"'},
            "agenda[1].speakers[0].email",
            "bokyun.shim(at)",
            id="not-an-address",
        ),
        pytest.param(
            {'"bokyun.shim@example.org"': '"Shim <bokyun.shim@example.org>"'},
            "agenda[1].speakers[0].email",
            "Shim <bokyun",
            id="display-name",
        ),
        pytest.param(
            {'"bokyun.shim@example.org"': '"bokyun.shim@example.org\\r\\nBcc: all@example.org"'},
            "agenda[1].speakers[0].email",
            "Bcc:",
            id="header-injection",
        ),
        pytest.param(
            {'"bokyun.shim@example.org"': '"a@example.org, b@example.org"'},
            "agenda[1].speakers[0].email",
            "a@example.org, b@",
            id="two-addresses",
        ),
        pytest.param(
            {'email = "mikyoung.park@example.org"': "email = 42"},
            "moderator.email",
            "email = 42",
            id="not-text",
        ),
        pytest.param(
            {'language = "fr"': 'language = "french"'},
            "agenda[1].speakers[0].language",
            '"french"',
            id="not-a-language",
        ),
        pytest.param(
            {'"Mr. Sung Joo Son"': '"Son\\u202eexe.gpj"'}, "agenda[2].speakers[0].name", "Son\\u202e", id="bidi-name"
        ),
        pytest.param(
            {'time_zone = "Asia/Seoul"\nlanguage': 'timezone = "Asia/Seoul"\nlanguage'},
            "moderator.timezone",
            "timezone =",
            id="misspelt-key",
        ),
        pytest.param(
            {'email = "sungjoo.son@example.org"': 'phone = "+82 2 1234 5678"'},
            "agenda[2].speakers[0].phone",
            "phone =",
            id="unknown-key",
        ),
    ],
)
def test_a_speakers_bad_detail_is_refused_with_its_line_and_a_fix(tmp_path, replacements, field, at):
    refused(copy_variant(tmp_path, replacements), field, at=at)


def test_a_misspelt_zone_of_a_speaker_suggests_the_real_one(tmp_path):
    variant = copy_variant(tmp_path, {'"America/New_York"': '"America/NewYork"'})
    problem = refused(variant, "agenda[1].speakers[0].time_zone", at="America/NewYork")
    assert "America/New_York" in problem.fix


def test_a_language_the_mails_are_not_written_in_is_refused_with_those_they_are(tmp_path):
    problem = refused(
        copy_variant(tmp_path, {'language = "fr"': 'language = "ko"'}), "agenda[1].speakers[0].language", at='"ko"'
    )
    assert "'ko'" in problem.message
    assert "en, fr" in problem.fix


def test_a_language_left_out_of_the_webinars_mail_languages_is_refused(tmp_path):
    variant = copy_variant(tmp_path, {"\n[speakers]": '\n[mail]\nlanguages = ["en"]\n\n[speakers]'})
    problem = refused(variant, "agenda[1].speakers[0].language", at='language = "fr"')
    assert problem.fix.startswith("use one of en")


def test_a_regional_language_is_taken_when_its_language_is_written(tmp_path):
    definition = load_definition(copy_variant(tmp_path, {'language = "fr"': 'language = "fr_ca"'}))
    assert definition.speakers()[1].language == "fr-CA"


def test_one_address_given_to_two_names_is_refused_with_both_lines(tmp_path):
    variant = copy_variant(tmp_path, {'"keping.yao@example.org"': '"bokyun.shim@example.org"'})
    problem = refused(variant, "agenda[1].speakers[1].email", at="bokyun.shim@", after='"Mr. Keping Yao"')
    assert "Mr. Bokyun Shim" in problem.message
    assert f"(line {line_of(variant, 'bokyun.shim@example.org')})" in problem.message


def test_one_name_with_two_addresses_is_refused_with_both_lines(tmp_path):
    variant = copy_variant(tmp_path, {'"MiKyoung.Park@example.org"': '"park.private@example.org"'})
    problem = refused(variant, "agenda[0].speakers[0].email", at="park.private@")
    assert "mikyoung.park@example.org" in problem.message
    assert f"(line {line_of(variant, 'mikyoung.park@example.org')})" in problem.message


def test_one_person_in_two_time_zones_is_refused_with_both_lines(tmp_path):
    variant = copy_variant(
        tmp_path, {'email = "MiKyoung.Park@example.org"': 'email = "MiKyoung.Park@example.org"\ntime_zone = "UTC"'}
    )
    problem = refused(variant, "agenda[0].speakers[0].time_zone", at='time_zone = "UTC"')
    assert "Asia/Seoul" in problem.message
    assert f"(line {line_of(variant, 'Asia/Seoul', after='[moderator]')})" in problem.message


def test_one_person_in_two_languages_is_refused(tmp_path):
    variant = copy_variant(
        tmp_path, {'email = "MiKyoung.Park@example.org"': 'email = "MiKyoung.Park@example.org"\nlanguage = "fr"'}
    )
    refused(variant, "agenda[0].speakers[0].language", at='language = "fr"')


def test_a_speaker_named_twice_in_one_item_is_refused(tmp_path):
    twice = '[[agenda.speakers]]\nname = "Mr. Sung Joo Son"\n\n[[agenda]]\nstart = "16:05"'
    variant = copy_variant(tmp_path, {'[[agenda]]\nstart = "16:05"': twice})
    problem = refused(variant, "agenda[2].speakers[1].name", at='"Mr. Sung Joo Son"', after="sungjoo.son@")
    assert "twice" in problem.message


def test_every_speaker_mistake_is_reported_at_once_and_nothing_is_kept(tmp_path):
    variant = copy_variant(
        tmp_path,
        {
            '"America/New_York"': '"Mars/Olympus"',
            '"keping.yao@example.org"': '"keping.yao@"',
            'duration = "1h"': 'duration = "3d"',
            'reminders = ["2d", "2h"]': 'reminders = ["2d", "soon"]',
        },
    )
    with pytest.raises(InputError) as caught:
        load_definition(variant)
    assert {p.field: p.line for p in caught.value.problems} == {
        "agenda[1].speakers[0].time_zone": line_of(variant, "Mars/Olympus"),
        "agenda[1].speakers[1].email": line_of(variant, '"keping.yao@"'),
        "practice.duration": line_of(variant, 'duration = "3d"'),
        "speakers.reminders[1]": line_of(variant, '"soon"'),
    }
    assert all(p.fix for p in caught.value.problems)


# -- the practice session ------------------------------------------------------------------------


def test_the_practice_is_held_in_utc_from_a_wall_time_on_the_webinars_clock():
    practice = load_definition(SPEAKERS_COPY).practice
    assert (practice.start, practice.end) == (
        datetime(2021, 4, 28, 6, 0, tzinfo=UTC),
        datetime(2021, 4, 28, 7, tzinfo=UTC),
    )
    assert (practice.duration, practice.reminder) == (timedelta(hours=1), timedelta(hours=3))


@pytest.mark.parametrize(
    ("zone", "practice", "webinar", "practice_utc", "webinar_utc"),
    [
        # Paris goes to summer time on 28 March 2021: the practice is at 15:00 CET, the webinar at 15:00 CEST.
        pytest.param(
            "Europe/Paris", "2021-03-26 15:00", "2021-03-29 15:00", (3, 26, 14), (3, 29, 13), id="paris-spring"
        ),
        # Sydney leaves summer time on 4 April 2021: 10:00 AEDT (+11), then 10:00 AEST (+10).
        pytest.param(
            "Australia/Sydney", "2021-04-02 10:00", "2021-04-06 10:00", (4, 1, 23), (4, 6, 0), id="sydney-autumn"
        ),
        # New York leaves summer time on 7 November 2021: 09:00 EDT (-4), then 09:00 EST (-5).
        pytest.param(
            "America/New_York", "2021-11-05 09:00", "2021-11-08 09:00", (11, 5, 13), (11, 8, 14), id="new-york-fall"
        ),
    ],
)
def test_a_practice_before_the_clocks_change_keeps_its_own_offset(zone, practice, webinar, practice_utc, webinar_utc):
    text = minimal(webinar, zone, f'\n[practice]\nstart = "{practice}"\nduration = "1h30m"\n')
    definition = parse_definition(text)
    assert definition.start == datetime(2021, *webinar_utc, tzinfo=UTC)
    assert (definition.practice.start, definition.practice.end) == (
        datetime(2021, *practice_utc, tzinfo=UTC),
        datetime(2021, *practice_utc, tzinfo=UTC) + timedelta(minutes=90),
    )
    assert definition.practice.reminder == timedelta(hours=2)  # when not given


@pytest.mark.parametrize(
    ("start", "why"),
    [("2021-03-28 02:30", "does not exist"), ("2021-10-31 02:30", "twice")],
    ids=["skipped", "repeated"],
)
def test_a_practice_in_an_hour_the_clocks_skip_or_repeat_is_refused(tmp_path, start, why):
    path = tmp_path / "dst.toml"
    path.write_text(minimal("2021-11-29 15:00", "Europe/Paris", f'\n[practice]\nstart = "{start}"\nduration = "1h"\n'))
    problem = refused(path, "practice.start", at=start)
    assert why in problem.message


def test_a_practice_ending_after_the_webinar_starts_is_refused_at_its_duration(tmp_path):
    problem = refused(
        copy_variant(tmp_path, {'duration = "1h"': 'duration = "2d1h"'}), "practice.duration", at='"2d1h"'
    )
    assert "2021-04-30 16:00 Asia/Seoul" in problem.message
    assert "2021-04-30 15:00" in problem.fix


def test_a_practice_ending_after_the_webinar_starts_is_refused_at_its_end(tmp_path):
    variant = copy_variant(tmp_path, {'duration = "1h"': 'end = "2021-04-30 15:30"'})
    refused(variant, "practice.end", at='end = "2021-04-30 15:30"')


def test_a_practice_ending_as_the_webinar_starts_is_taken(tmp_path):
    variant = copy_variant(tmp_path, {'start = "2021-04-28 15:00"': 'start = "2021-04-30 14:00"'})
    assert load_definition(variant).practice.end == load_definition(variant).start


@pytest.mark.parametrize(
    ("replacements", "field", "at"),
    [
        pytest.param(
            {'start = "2021-04-28 15:00"': 'strat = "2021-04-28 15:00"'}, "practice.strat", "strat =", id="typo"
        ),
        pytest.param(
            {'start = "2021-04-28 15:00"': 'start = "2020-04-28 15:00"'}, "practice.start", "2020-04-28", id="year"
        ),
        pytest.param({'duration = "1h"': 'duration = "an hour"'}, "practice.duration", "an hour", id="duration"),
        pytest.param({'reminder = "3h"': 'reminder = "3 hours"'}, "practice.reminder", "3 hours", id="reminder"),
        pytest.param(
            {'duration = "1h"': 'duration = "1h"\nend = "2021-04-28 16:00"'},
            "practice.end",
            "2021-04-28 16:00",
            id="both",
        ),
    ],
)
def test_a_practice_mistake_is_refused_with_its_line(tmp_path, replacements, field, at):
    refused(copy_variant(tmp_path, replacements), field, at=at)


def test_a_practice_without_a_start_says_what_to_add(tmp_path):
    problem = refused(
        copy_variant(tmp_path, {'start = "2021-04-28 15:00"   # wall time in the webinar\'s zone\n': ""}),
        "practice.start",
        at="[practice]",
    )
    assert "start =" in problem.fix


# -- the speakers' reminders ---------------------------------------------------------------------


def test_speakers_reminders_are_read_as_offsets_before_the_start_latest_first(tmp_path):
    variant = copy_variant(tmp_path, {'reminders = ["2d", "2h"]': 'reminders = ["30m", "1d 12h"]'})
    assert load_definition(variant).speaker_reminder_offsets == (timedelta(days=1, hours=12), timedelta(minutes=30))


def test_without_a_speakers_table_they_are_reminded_two_days_and_two_hours_before(sample):
    assert sample.speaker_reminder_offsets == (timedelta(days=2), timedelta(hours=2))


def test_an_empty_list_reminds_speakers_of_nothing(tmp_path):
    variant = copy_variant(tmp_path, {'reminders = ["2d", "2h"]': "reminders = []"})
    assert load_definition(variant).speaker_reminder_offsets == ()


@pytest.mark.parametrize(
    ("replacements", "field", "at"),
    [
        pytest.param({'["2d", "2h"]': '["2d", "2d"]'}, "speakers.reminders[1]", '["2d", "2d"]', id="twice"),
        pytest.param({'["2d", "2h"]': '["2d", "400d"]'}, "speakers.reminders[1]", '"400d"', id="over-a-year"),
        pytest.param({'reminders = ["2d", "2h"]': 'reminder = ["2d"]'}, "speakers.reminder", "reminder = [", id="typo"),
        pytest.param(
            {'reminders = ["2d", "2h"]': 'reminders = "2d"'}, "speakers.reminders", 'reminders = "2d"', id="not-a-list"
        ),
    ],
)
def test_a_speakers_reminder_mistake_is_refused_with_its_line(tmp_path, replacements, field, at):
    refused(copy_variant(tmp_path, replacements), field, at=at)


def test_more_than_ten_speakers_reminders_are_refused(tmp_path):
    many = ", ".join(f'"{n}h"' for n in range(1, 13))
    variant = copy_variant(tmp_path, {'["2d", "2h"]': f"[{many}]"})
    with pytest.raises(InputError) as caught:
        load_definition(variant)
    assert [p.field for p in caught.value.problems] == ["speakers.reminders[10]"]


# -- the store and the changes --------------------------------------------------------------------


def test_the_stored_definition_reads_back_with_the_same_people_practice_and_reminders(store):
    definition = load_definition(SPEAKERS_COPY)
    store.save_webinar(definition, SPEAKERS_COPY.read_text(encoding="utf-8"), "local", NOW)
    stored = store.webinar(SAMPLE_SLUG).definition
    assert stored == definition
    assert stored.speakers() == definition.speakers()
    assert speaker_slots(stored) == speaker_slots(definition)


def test_the_stored_json_holds_each_speakers_details_and_the_practice_in_utc(store):
    definition = load_definition(SPEAKERS_COPY)
    store.save_webinar(definition, SPEAKERS_COPY.read_text(encoding="utf-8"), "local", NOW)
    (row,) = store.db.execute("SELECT definition_json FROM webinars").fetchall()
    data = json.loads(row[0])
    assert data["moderator"]["email"] == PARK
    assert data["agenda"][1]["speakers"][0] == {
        "name": "Mr. Bokyun Shim",
        "role": "Head of UN Project Office on Governance",
        "organisation": "DPIDG/UN DESA",
        "email": SHIM,
        "time_zone": "America/New_York",
        "language": "fr",
    }
    assert data["practice"] == {"start": "2021-04-28T06:00:00Z", "end": "2021-04-28T07:00:00Z", "reminder": "3h"}
    assert data["speaker_reminder_offsets"] == ["2d", "2h"]


def test_speaker_slots_change_only_for_the_speakers_of_a_moved_item(tmp_path):
    before = load_definition(SPEAKERS_COPY)
    after = load_definition(copy_variant(tmp_path, {'start = "15:45"': 'start = "15:50"'}))
    old, new = speaker_slots(before), speaker_slots(after)
    assert [key for key in old if old[key] != new[key]] == [SON]
    assert new[SON] == (
        SpeakerSlot(
            "Country Case Presentation",
            datetime(2021, 4, 30, 6, 50, tzinfo=UTC),
            datetime(2021, 4, 30, 7, 5, tzinfo=UTC),
        ),
    )


def test_a_speakers_new_slot_is_reported_by_name_but_is_no_new_revision_for_the_audience(tmp_path):
    before = load_definition(SPEAKERS_COPY)
    after = load_definition(copy_variant(tmp_path, {'start = "15:45"': 'start = "15:50"'}))
    changes = describe_changes(before, after)
    assert (
        "speaker Mr. Sung Joo Son: 15:45–16:05 Country Case Presentation → 15:50–16:05 Country Case Presentation"
        in changes
    )
    assert not [line for line in changes if line.startswith("speaker Mr. Bokyun")]
    assert not is_significant(before, after)


def test_a_speaker_added_or_removed_is_reported_by_name(tmp_path):
    before = load_definition(SPEAKERS_COPY)
    after = load_definition(
        copy_variant(tmp_path, {'title = "Q&A"': 'title = "Q&A"\n[[agenda.speakers]]\nname = "Ms. Ana Lima"'})
    )
    assert "speaker Ms. Ana Lima: added (16:05–16:25 Q&A)" in describe_changes(before, after)
    assert "speaker Ms. Ana Lima: removed" in describe_changes(after, before)


def test_a_webinar_moved_to_another_day_reports_its_start_not_every_speaker(tmp_path):
    before = load_definition(SPEAKERS_COPY)
    after = load_definition(copy_variant(tmp_path, {'"2021-04-30 15:00"': '"2021-05-07 15:00"'}))
    changes = describe_changes(before, after)
    assert not [line for line in changes if line.startswith("speaker ")], changes
    assert any(line.startswith("start: ") for line in changes)
    assert speaker_slots(before)[PARK] != speaker_slots(after)[PARK]  # yet each speaker's slot moved


def test_a_new_practice_time_is_reported(tmp_path):
    before = load_definition(SPEAKERS_COPY)
    after = load_definition(copy_variant(tmp_path, {'"2021-04-28 15:00"': '"2021-04-29 10:00"'}))
    old, new = (
        "2021-04-28 15:00 Asia/Seoul, 1h, reminder 3h before",
        "2021-04-29 10:00 Asia/Seoul, 1h, reminder 3h before",
    )
    assert f"practice: {old} → {new}" in describe_changes(before, after)


# -- what the organiser and the audience see -----------------------------------------------------


@pytest.fixture
def with_speakers(run, workdir):
    copy = workdir / "speakers.toml"
    copy.write_text(SPEAKERS_COPY.read_text(encoding="utf-8"), encoding="utf-8")
    assert run("init").code == 0
    added = run("webinar", "add", copy)
    assert added.code == 0, added.stderr
    return run


def test_webinar_show_lists_each_speaker_once_with_their_items_and_the_practice(with_speakers):
    shown = with_speakers("webinar", "show", SAMPLE_SLUG)
    assert shown.code == 0, shown.stderr
    section = shown.stdout.split("Speakers (each once, with their items)\n", 1)[1]
    lines = section.splitlines()
    assert lines[0] == "  Ms. Mi Kyoung Park (mikyoung.park@example.org, Asia/Seoul, en, moderator)"
    assert lines[1].split() == ["15:00", "Opening", "by", "the", "Moderator"]
    assert [line.strip() for line in lines if line.startswith("  Mr.")] == [
        "Mr. Bokyun Shim (bokyun.shim@example.org, America/New_York, fr)",
        "Mr. Keping Yao (keping.yao@example.org, Asia/Seoul)",
        "Mr. Sung Joo Son (sungjoo.son@example.org, Asia/Seoul, en)",
    ]
    assert "Practice session: Wednesday 28 April 2021, 15:00–16:00 Seoul time (GMT+9)" in section


@pytest.mark.parametrize("kind", ["confirmation", "reminder"])
def test_the_audiences_mails_never_show_a_speakers_address(with_speakers, workdir, kind):
    eml = workdir / f"{kind}.eml"
    shown = with_speakers("preview", SAMPLE_SLUG, "--kind", kind, "--eml", eml)
    assert shown.code == 0, shown.stderr
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    assert len(parts) >= 2  # the text and the HTML
    assert "Mr. Bokyun Shim" in parts[0]  # the speakers are named, as before
    assert [address for address in ADDRESSES for part in (*parts, str(message)) if address in part.lower()] == []


def test_the_registration_page_names_the_speakers_but_never_shows_their_addresses(workdir, store):
    settings = Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY)
    store.save_webinar(load_definition(SPEAKERS_COPY), SPEAKERS_COPY.read_text(encoding="utf-8"), "local", NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        page = requests.get(f"{base_url}/register/{SAMPLE_SLUG}", timeout=10)
    assert page.status_code == 200
    assert "Mr. Sung Joo Son" in page.text
    assert [address for address in ADDRESSES if address in page.text.lower()] == []


def test_a_file_whose_speakers_disagree_is_refused_by_webinar_add_and_nothing_is_stored(with_speakers, workdir):
    variant = copy_variant(workdir, {'"keping.yao@example.org"': '"bokyun.shim@example.org"'}, name="clash.toml")
    ran = with_speakers("webinar", "add", variant)
    assert ran.code == 2
    assert f"{variant}:{line_of(variant, 'bokyun.shim@', after='Mr. Keping Yao')}: agenda[1].speakers[1].email:" in (
        ran.stderr
    )
    assert "fix: one address is one person" in ran.stderr
    assert "Traceback" not in ran.stderr
    shown = with_speakers("webinar", "show", SAMPLE_SLUG, "--json").json()
    assert shown["definition"]["agenda"][1]["speakers"][1]["email"] == YAO  # the stored version stays


def test_webinar_add_prints_a_speakers_new_slot_and_keeps_the_revision(with_speakers, workdir):
    moved = copy_variant(workdir, {'start = "15:45"': 'start = "15:50"'}, name="speakers.toml")
    ran = with_speakers("webinar", "add", moved)
    assert ran.code == 0, ran.stderr
    assert "speaker Mr. Sung Joo Son: 15:45–16:05 Country Case Presentation → 15:50–16:05" in ran.stdout
    assert with_speakers("webinar", "show", SAMPLE_SLUG, "--json").json()["revision"] == 0


# -- any programme: each person once, with exactly the items that name them ---------------------

NAMES = ("Ana Lima", "Bo Chen", "Chidi Okafor", "Dana Cohen")


@given(
    items=st.lists(st.lists(st.sampled_from(NAMES), unique=True, max_size=3), min_size=1, max_size=6),
    moderator=st.none() | st.sampled_from(NAMES),
    with_address=st.sets(st.sampled_from(NAMES)),
    spelled_loosely=st.booleans(),
)
@hypothesis_settings(max_examples=80, deadline=None)
def test_any_programme_gives_each_person_once_with_exactly_the_items_that_name_them(
    items, moderator, with_address, spelled_loosely
):
    def entry(name: str, first: bool) -> str:
        shown = name.upper() if spelled_loosely and not first else name  # capitals aside, the same name
        address = f'\nemail = "{name.split()[0].lower()}@example.org"' if name in with_address else ""
        return f'name = "{shown}"{address}'

    seen: set[str] = set()

    def named(name: str) -> str:
        text = entry(name, name not in seen)
        seen.add(name)
        return text

    parts = [f"\n[moderator]\n{named(moderator)}\n"] if moderator else []
    for i, speakers in enumerate(items):
        parts.append(f'\n[[agenda]]\nstart = "15:{i:02d}"\ntitle = "Item {i}"\n')
        parts += [f"[[agenda.speakers]]\n{named(name)}\n" for name in speakers]
    definition = parse_definition(minimal("2021-04-30 15:00", "Asia/Seoul", "".join(parts)))

    people = definition.speakers()
    expected = [name for name in (moderator, *(n for speakers in items for n in speakers)) if name]
    assert [p.name for p in people] == list(dict.fromkeys(expected))  # each once, in the order first named
    for person in people:
        assert [item.title for item in person.items] == [
            f"Item {i}" for i, speakers in enumerate(items) if person.name in speakers
        ]
        assert person.moderates == (person.name == moderator)
        assert person.key == (
            f"{person.name.split()[0].lower()}@example.org" if person.name in with_address else person.name.casefold()
        )
    assert len({p.key for p in people}) == len(people)


# -- the speakers in the store ----------------------------------------------------------------


def test_the_store_keeps_each_speaker_once_apart_from_the_registrants(store):
    definition = load_definition(SPEAKERS_COPY)
    record = store.save_webinar(definition, SPEAKERS_COPY.read_text(encoding="utf-8"), "local", NOW).record

    speakers = store.speakers(record.id)
    assert [s.name for s in speakers] == [p.name for p in definition.speakers()]
    assert speakers[0].moderates
    assert not any(s.moderates for s in speakers[1:])
    assert store.registrant_counts(record.id) == dict.fromkeys(store.registrant_counts(record.id), 0)


def test_a_moved_slot_raises_only_that_speakers_revision_and_a_removed_speaker_is_marked(store, tmp_path):
    text = SPEAKERS_COPY.read_text(encoding="utf-8")
    record = store.save_webinar(load_definition(SPEAKERS_COPY), text, "local", NOW).record
    moved = tmp_path / "moved.toml"
    moved.write_text(text.replace('start = "15:45"\nend = "16:05"', 'start = "15:50"\nend = "16:05"'), encoding="utf-8")
    store.save_webinar(load_definition(moved), moved.read_text(encoding="utf-8"), "local", NOW)

    revisions = {s.email: s.slot_revision for s in store.speakers(record.id)}
    assert revisions["sungjoo.son@example.org"] == 1
    assert {e: r for e, r in revisions.items() if e != "sungjoo.son@example.org"} == dict.fromkeys(
        [e for e in revisions if e != "sungjoo.son@example.org"], 0
    )

    without_son = tmp_path / "without.toml"
    son = text[text.index('[[agenda]]\nstart = "15:45"') :]
    son = son[: son.index("[[agenda]]", 5)]
    without_son.write_text(text.replace(son, ""), encoding="utf-8")
    store.save_webinar(load_definition(without_son), without_son.read_text(encoding="utf-8"), "local", NOW)
    assert "sungjoo.son@example.org" not in {s.email for s in store.speakers(record.id)}
    gone = [s for s in store.speakers(record.id, removed=True) if s.email == "sungjoo.son@example.org"]
    assert gone
    assert gone[0].is_removed
