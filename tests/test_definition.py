"""The webinar definition: the sample is faithful to the guidance note, and every mistake an
organiser can make is reported with the file, the line, the field and a fix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant

from webinar_ops import times
from webinar_ops.definition import load_definition
from webinar_ops.errors import InputError, Problem
from webinar_ops.tomlines import LineIndex

# -- the guidance note, transcribed ---------------------------------------------------------

TITLE = (
    "Strengthening Data Governance for Effective Use of Open Data and Big Data Analytics – in the context of COVID-19"
)
PARK = ("Ms. Mi Kyoung Park", "Governance and Public Administration Officer", "UNPOG/DPIDG/UNDESA")
SHIM = ("Mr. Bokyun Shim", "Head of UN Project Office on Governance", "DPIDG/UN DESA")
YAO = ("Mr. Keping Yao", "Senior Governance and Public Administration Expert", "UNPOG/DPIDG/UN DESA")
SON = (
    "Mr. Sung Joo Son",
    "Director, Digital Government Cooperation Division",
    "Ministry of the Interior and Safety, Republic of Korea",
)
# (start, end, title, speakers) on Seoul clocks, as in "II. Structure & Agenda".
AGENDA = [
    ("15:00", None, "Opening by the Moderator", [PARK]),
    ("15:00", "15:45", f"Presentation: {TITLE}", [SHIM, YAO]),
    ("15:45", "16:05", "Country Case Presentation", [SON]),
    ("16:05", "16:25", "Q&A", []),
    ("16:25", "16:30", "Summary & Wrap-up", []),
]
QUESTIONS = [
    (
        f"Presentation: {TITLE} by Bokyun Shim and Keping Yao, UNPOG/DPIDG/UN DESA",
        [
            "What is data governance and the major pillars of the data governance framework? "
            "What are the major challenges in instituting effective data governance?",
            "How have the open data and big data analytics contributed to effective response to COVID-19? "
            "What are the major strategies, approaches and innovative practices?",
            "What are the major concerns and policy issues in leveraging open data and big data analytics "
            "in addressing challenges of COVID-19?",
            "What are the major key issues on instituting data governance for addressing the COVID-19 pandemic "
            "and preparing for the post-COVID-19 era?",
        ],
    ),
    (
        "Country Presentation",
        [
            "What is the national strategy and framework for data governance?",
            "What are the major challenges in developing data governance and how are these challenges being addressed?",
            "What are the enablers and leading factors for instituting a robust and effective data governance for "
            "addressing the challenges in COVID-19 response and the post-COVID-19 recovery and accelerating the pace "
            "of digital government transformation?",
            "What are the lessons and policy takeaways for the participants?",
        ],
    ),
]
# The note's links are markdown; here with its escapes removed and its spaces written %20.
READINGS = [
    (
        "UN DESA (2020). UN E-Government Survey 2020.",
        "https://publicadministration.un.org/egovkb/Portals/egovkb/Documents/un/2020-Survey/"
        "2020%20UN%20E-Government%20Survey%20(Full%20Report).pdf",
    ),
    (
        "UN DESA (2020). Compendium of Digital Government Initiatives in response to the COVID-19 Pandemic.",
        "https://publicadministration.un.org/egovkb/Portals/egovkb/Documents/un/2020-Survey/"
        "UNDESA%20Compendium%20of%20Digital%20Government%20Initiatives%20in%20Response%20to%20the%20COVID-19"
        "%20Pandemic.pdf",
    ),
    (
        "UN DESA (2020). UN DESA Policy Brief #89: Strengthening Data Governance for Effective Use of Open Data "
        "and Big Data Analytics for Combating COVID-19",
        "https://www.un.org/development/desa/dpad/wp-content/uploads/sites/45/publication/PB_89.pdf",
    ),
    (
        "OECD (2021). Open Data in Action: initiatives during the initial stage of the COVID-19 pandemic",
        "https://www.oecd.org/governance/digital-government/use-of-open-government-data-to-address-covid19-outbreak.htm",
    ),
    (
        "OECD (2020). Digital Transformation in the Age of COVID-19: Building Resilience and Bridging Divides.",
        "http://www.oecd.org/digital/digital-economy-outlook-covid.pdf",
    ),
    (
        "OECD (2019). The Path to Becoming a Data-Driven Public Sector.",
        "https://www.oecd.org/gov/digital-government/the-path-to-becoming-a-data-driven-public-sector-059814a7-en.htm",
    ),
    (
        "Nesta (2019). 20 Tools for Innovating in Government",
        "https://www.nesta.org.uk/report/20-tools-innovating-government/",
    ),
    (
        "Webinar Video: Capacity Development Webinar Series on “Accelerating Digital Transformation for Sustainable "
        "and Resilient Recovery from COVID-19” (co-organized by UN DESA, Ministry of the Interior and Safety and NIA "
        "of the Republic of Korea on 13 October 2020)",
        "http://unpog.org/page/sub3_1_view.asp?sn=389&page=2&search=&SearchString=&BoardID=0002",
    ),
]
# (purpose, name, organisation, email), as in "VI. Contact".
CONTACTS = [
    ("substantive", "Mr. Keping Yao", "UNPOG/DPIDG/UN DESA", "yaok@un.org"),
    ("registration", "Ms. Jihyun (Jenny) Jeoung", "UNPOG", "jihyun.joung@un.org"),
    ("registration", "Ms. Rosie Hyein Lee", "SNU GRC", "hyein.lee@snu.ac.kr"),
]
SEOUL = ZoneInfo("Asia/Seoul")


# -- helpers ----------------------------------------------------------------------------------


def line_of(path: Path, text: str, after: str | None = None) -> int:
    """The 1-based line of the first occurrence of `text` in the file (after `after`, if given)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    return next(i for i, line in enumerate(lines[start:], start + 1) if text in line)


def refused(path: Path, field: str | None, at: str, after: str | None = None) -> Problem:
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


def write_definition(folder: Path, text: str, name: str = "webinar.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal(start: str, zone: str, duration: str = "90m", agenda: str = "") -> str:
    return f"""slug = "minimal"
title = "A minimal webinar"

[schedule]
start = "{start}"
time_zone = "{zone}"
duration = "{duration}"
{agenda}"""


def squash(text: str) -> str:
    return " ".join(text.split())


def seoul(day: int, hour: int, minute: int) -> datetime:
    return datetime(2021, 4, day, hour, minute, tzinfo=SEOUL)


# -- the sample is the note ------------------------------------------------------------------


def test_sample_heading_and_time_match_the_note(sample):
    assert sample.slug == SAMPLE_SLUG
    assert sample.title == TITLE
    assert sample.series == "Governance Capacity Development Session Series"
    assert sample.series_theme == "Strengthening Public Governance & Accelerating Innovation to Achieve Agenda 2030"
    assert sample.session == "Session 5"
    assert sample.start == datetime(2021, 4, 30, 6, 0, tzinfo=UTC)
    assert sample.end == datetime(2021, 4, 30, 7, 30, tzinfo=UTC)
    assert sample.duration == timedelta(minutes=90)
    assert sample.time_zone == "Asia/Seoul"
    assert sample.local(sample.start).utcoffset() == timedelta(hours=9)  # "GMT+9"


def test_sample_description_is_the_notes_background(sample):
    paragraphs = sample.description.strip().split("\n\n")
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("All governments have fully recognized the importance of data-driven")
    assert paragraphs[1].endswith("streamline government operations as a whole.")
    assert "\\" not in sample.description
    assert "  " not in sample.description


def test_sample_agenda_has_every_item_with_its_times_and_speakers(sample):
    assert len(sample.agenda) == len(AGENDA)
    for item, (start, end, title, speakers) in zip(sample.agenda, AGENDA, strict=True):
        assert f"{item.start.astimezone(SEOUL):%H:%M}" == start
        assert (None if item.end is None else f"{item.end.astimezone(SEOUL):%H:%M}") == end
        assert item.start.astimezone(SEOUL).date() == seoul(30, 0, 0).date()
        assert item.title == title
        assert [(p.name, p.role, p.organisation) for p in item.speakers] == speakers


def test_opening_is_a_moment_and_the_rest_are_spans(sample):
    opening, *rest = sample.agenda
    assert opening.start == seoul(30, 15, 0)
    assert opening.end is None
    assert [(i.start, i.end) for i in rest] == [
        (seoul(30, 15, 0), seoul(30, 15, 45)),
        (seoul(30, 15, 45), seoul(30, 16, 5)),
        (seoul(30, 16, 5), seoul(30, 16, 25)),
        (seoul(30, 16, 25), seoul(30, 16, 30)),
    ]


def test_speakers_read_as_the_note_lists_them(sample):
    lines = [speaker.describe() for item in sample.agenda for speaker in item.speakers]
    assert lines == [
        "Ms. Mi Kyoung Park, Governance and Public Administration Officer, UNPOG/DPIDG/UNDESA",
        "Mr. Bokyun Shim, Head of UN Project Office on Governance, DPIDG/UN DESA",
        "Mr. Keping Yao, Senior Governance and Public Administration Expert, UNPOG/DPIDG/UN DESA",
        "Mr. Sung Joo Son, Director, Digital Government Cooperation Division, "
        "Ministry of the Interior and Safety, Republic of Korea",
    ]


def test_sample_moderator_is_park(sample):
    assert (sample.moderator.name, sample.moderator.role, sample.moderator.organisation) == PARK


def test_sample_has_both_question_groups_with_four_questions_each(sample):
    assert [(group.part, list(group.items)) for group in sample.questions] == QUESTIONS
    assert [len(group.items) for group in sample.questions] == [4, 4]


def test_sample_has_all_eight_readings_with_links(sample):
    assert [(reading.title, reading.url) for reading in sample.readings] == READINGS


def test_sample_contacts_say_what_to_write_about(sample):
    assert [(c.purpose, c.name, c.organisation, c.email) for c in sample.contacts] == CONTACTS
    assert sample.contacts[0].role == "Sr. Governance and Public Administration Expert"
    assert [c.purpose_label for c in sample.contacts] == [
        "Questions about the substance of the session",
        "Help with registration",
        "Help with registration",
    ]


def test_sample_reminds_a_week_a_day_and_an_hour_before(sample):
    assert sample.reminder_offsets == (timedelta(days=7), timedelta(days=1), timedelta(hours=1))


def test_sample_registration_link_is_the_zoom_page(sample):
    assert sample.provider.registration_url == "https://snu-ac-kr.zoom.us/webinar/register/WN_AELAJxbUQJGz9hW1GsYvCA"
    assert sample.provider.creates


# -- webinar show ------------------------------------------------------------------------------


@pytest.fixture
def initialised(run):
    ran = run("init")
    assert ran.code == 0, ran.stderr
    return run


def test_show_prints_everything_the_note_says(initialised):
    run = initialised
    assert run("webinar", "add", SAMPLE_DEFINITION).code == 0
    shown = run("webinar", "show", SAMPLE_SLUG)
    assert shown.code == 0, shown.stderr
    output = squash(shown.stdout)
    expected = [TITLE, "15:00", "15:00–15:45", "15:45–16:05", "16:05–16:25", "16:25–16:30"]
    expected += [title for _, _, title, _ in AGENDA]
    expected += [text for _, _, _, speakers in AGENDA for name, role, _ in speakers for text in (name, role)]
    expected += [question for _, questions in QUESTIONS for question in questions]
    expected += [text for reading in READINGS for text in reading]
    expected += [text for _, name, _, email in CONTACTS for text in (name, email)]
    missing = [text for text in expected if squash(text) not in output]
    assert missing == []


# -- every mistake is named, placed and explained ----------------------------------------------


def test_typo_in_a_top_level_key_suggests_the_right_one(tmp_path):
    variant = definition_variant(tmp_path, {"\ntitle = ": "\ntitel = "})
    problem = refused(variant, "titel", at="titel =")
    assert "`title`" in problem.fix


def test_typo_in_a_schedule_key(tmp_path):
    variant = definition_variant(tmp_path, {"time_zone =": "timezone ="})
    problem = refused(variant, "schedule.timezone", at="timezone =")
    assert "time_zone" in problem.fix


def test_unknown_key_in_an_agenda_item(tmp_path):
    variant = definition_variant(tmp_path, {'end = "15:45"': 'ending = "15:45"'})
    problem = refused(variant, "agenda[1].ending", at="ending =")
    assert "end" in problem.fix


def test_typo_in_a_speaker_key_names_the_item_and_the_speaker(tmp_path):
    variant = definition_variant(tmp_path, {'name = "Mr. Bokyun Shim"': 'nmae = "Mr. Bokyun Shim"'})
    problem = refused(variant, "agenda[1].speakers[0].nmae", at="nmae =")
    assert "`name`" in problem.fix


def test_misspelt_zone_suggests_the_real_one(tmp_path):
    variant = definition_variant(tmp_path, {'"Asia/Seoul"': '"Asia/Seol"'})
    problem = refused(variant, "schedule.time_zone", at="Asia/Seol")
    assert "Asia/Seoul" in problem.fix


def test_start_in_the_skipped_hour_is_refused(tmp_path):
    variant = definition_variant(
        tmp_path, {'"2021-04-30 15:00"': '"2021-03-28 02:30"', '"Asia/Seoul"': '"Europe/Paris"'}
    )
    problem = refused(variant, "schedule.start", at="2021-03-28 02:30")
    assert "does not exist" in problem.message


def test_start_in_the_repeated_hour_is_refused(tmp_path):
    variant = definition_variant(
        tmp_path, {'"2021-04-30 15:00"': '"2021-10-31 02:30"', '"Asia/Seoul"': '"Europe/Paris"'}
    )
    problem = refused(variant, "schedule.start", at="2021-10-31 02:30")
    assert "twice" in problem.message


def test_both_end_and_duration_points_at_one_of_them(tmp_path):
    variant = definition_variant(tmp_path, {'duration = "90m"': 'duration = "90m"\nend = "2021-04-30 16:30"'})
    with pytest.raises(InputError) as caught:
        load_definition(variant)
    (problem,) = caught.value.problems
    assert "both" in problem.message
    assert (problem.field, problem.line) in {
        ("schedule.duration", line_of(variant, "duration =")),
        ("schedule.end", line_of(variant, 'end = "2021-04-30 16:30"')),
    }, str(problem)
    assert problem.fix


def test_neither_end_nor_duration_points_at_the_schedule(tmp_path):
    variant = definition_variant(tmp_path, {'duration = "90m"             # or: end = "2021-04-30 16:30"': ""})
    problem = refused(variant, "schedule", at="[schedule]")
    assert "neither" in problem.message


def test_end_before_start(tmp_path):
    variant = definition_variant(tmp_path, {'duration = "90m"': 'end = "2021-04-30 14:00"'})
    refused(variant, "schedule.end", at='end = "2021-04-30 14:00"')


def test_unreadable_duration(tmp_path):
    variant = definition_variant(tmp_path, {'duration = "90m"': 'duration = "ninety minutes"'})
    problem = refused(variant, "schedule.duration", at="ninety minutes")
    assert "90m" in problem.fix


def test_agenda_item_before_the_webinar_starts(tmp_path):
    variant = definition_variant(tmp_path, {'start = "15:00"': 'start = "14:30"'})
    problem = refused(variant, "agenda[0].start", at='start = "14:30"')
    assert "15:00" in problem.fix
    assert "16:30" in problem.fix


def test_agenda_item_after_the_webinar_ends(tmp_path):
    variant = definition_variant(tmp_path, {'end = "16:30"': 'end = "16:45"'})
    refused(variant, "agenda[4].end", at='end = "16:45"')


def test_agenda_item_ending_before_it_starts(tmp_path):
    variant = definition_variant(tmp_path, {'end = "16:05"': 'end = "15:40"'})
    refused(variant, "agenda[2].end", at='end = "15:40"')


def test_agenda_time_that_is_not_hh_mm(tmp_path):
    variant = definition_variant(tmp_path, {'start = "15:45"': 'start = "3.45pm"'})
    problem = refused(variant, "agenda[2].start", at="3.45pm")
    assert "15:45" in problem.fix


def test_reading_link_without_a_scheme(tmp_path):
    variant = definition_variant(tmp_path, {'"https://www.nesta.org.uk/': '"www.nesta.org.uk/'})
    refused(variant, "readings[6].url", at='"www.nesta.org.uk/')


def test_reading_link_with_a_space(tmp_path):
    variant = definition_variant(tmp_path, {"UNDESA%20Compendium": "UNDESA Compendium"})
    problem = refused(variant, "readings[1].url", at="UNDESA Compendium%20of")
    assert "%20" in problem.fix


def test_malformed_contact_email(tmp_path):
    variant = definition_variant(tmp_path, {'"yaok@un.org"': '"yaok(at)un.org"'})
    refused(variant, "contacts[0].email", at="yaok(at)un.org")


def test_contact_purpose_outside_the_list(tmp_path):
    variant = definition_variant(tmp_path, {'purpose = "substantive"': 'purpose = "substance"'})
    problem = refused(variant, "contacts[0].purpose", at='purpose = "substance"')
    assert "substantive" in f"{problem.message} {problem.fix}"


def test_start_with_a_utc_offset_is_refused(tmp_path):
    variant = definition_variant(tmp_path, {'start = "2021-04-30 15:00"': "start = 2021-04-30T15:00:00+09:00"})
    problem = refused(variant, "schedule.start", at="2021-04-30T15:00:00+09:00")
    assert "time_zone" in problem.fix


def test_start_as_a_toml_local_datetime_is_fine(tmp_path):
    variant = definition_variant(tmp_path, {'start = "2021-04-30 15:00"': "start = 2021-04-30T15:00:00"})
    assert load_definition(variant).start == datetime(2021, 4, 30, 6, 0, tzinfo=UTC)


def test_reminder_offset_listed_twice(tmp_path):
    variant = definition_variant(tmp_path, {'["7d", "1d", "1h"]': '["7d", "1d", "1d"]'})
    problem = refused(variant, "reminders.offsets[2]", at="offsets =")
    assert "twice" in problem.message


def test_unreadable_reminder_offset(tmp_path):
    variant = definition_variant(tmp_path, {'["7d", "1d", "1h"]': '["7d", "1d", "1 hour"]'})
    refused(variant, "reminders.offsets[2]", at="offsets =")


def test_slug_with_capitals_and_spaces(tmp_path):
    variant = definition_variant(tmp_path, {'slug = "undesa-snu-session-5"': 'slug = "UNDESA Session 5"'})
    refused(variant, "slug", at="slug =")


def test_missing_title_has_no_line_to_point_at(tmp_path):
    variant = definition_variant(tmp_path, {f'\ntitle = "{TITLE}"': ""})
    with pytest.raises(InputError) as caught:
        load_definition(variant)
    (problem,) = caught.value.problems
    assert (problem.field, problem.message, problem.line) == ("title", "is missing", None)
    assert "title" in problem.fix


def test_missing_title_in_an_agenda_item_points_at_the_item(tmp_path):
    variant = definition_variant(tmp_path, {'title = "Q&A"': ""})
    refused(variant, "agenda[3].title", at="[[agenda]]", after='end = "16:05"')


def test_question_group_without_questions(tmp_path):
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    text, count = re.subn(r'(part = "Country Presentation"\nitems = )\[.*?\n\]', r"\1[]", text, flags=re.S)
    assert count == 1
    variant = write_definition(tmp_path, text)
    refused(variant, "questions[1].items", at="items = []")


def test_invalid_toml_reports_its_line(tmp_path):
    variant = definition_variant(tmp_path, {'time_zone = "Asia/Seoul"': 'time_zone = "Asia/Seoul'})
    with pytest.raises(InputError, match="is not valid TOML"):
        load_definition(variant)
    refused(variant, None, at='time_zone = "Asia/Seoul')


def test_file_that_is_not_utf8(tmp_path):
    raw = SAMPLE_DEFINITION.read_bytes().replace(b"Ms. Rosie Hyein Lee", b"Ms. Ros\xe9 Hyein Lee")
    variant = tmp_path / "latin1.toml"
    variant.write_bytes(raw)
    with pytest.raises(InputError) as caught:
        load_definition(variant)
    (problem,) = caught.value.problems
    assert problem.line == raw.split(b"\n").index(b'name = "Ms. Ros\xe9 Hyein Lee"') + 1
    assert "UTF-8" in problem.message
    assert "UTF-8" in problem.fix


def test_file_that_does_not_exist(tmp_path):
    missing = tmp_path / "no-such-webinar.toml"
    with pytest.raises(InputError) as caught:
        load_definition(missing)
    assert str(missing) in str(caught.value)


def test_script_tag_in_a_speaker_name(tmp_path):
    variant = definition_variant(tmp_path, {'"Mr. Bokyun Shim"': '"<script>alert(1)</script>"'})
    refused(variant, "agenda[1].speakers[0].name", at="<script>")


@pytest.mark.parametrize(
    ("replacements", "field", "at"),
    [
        pytest.param({'duration = "90m"': "duration = 90"}, "schedule.duration", "duration = 90", id="not-text"),
        pytest.param({'language = "en"': 'language = "english"'}, "language", "english", id="language"),
        pytest.param({'approval = "automatic"': 'approval = "auto"'}, "provider.approval", '"auto"', id="approval"),
        pytest.param(
            {'"Seoul National University (SNU)"': '"<b>SNU</b>"'}, "organisers[1]", "<b>SNU</b>", id="organiser"
        ),
        pytest.param(
            {'role = "Head of UN Project Office on Governance"': 'role = "Head <of> Office"'},
            "agenda[1].speakers[0].role",
            "Head <of> Office",
            id="speaker-role",
        ),
        pytest.param(
            {'"What are the lessons and policy takeaways for the participants?",': "42,"},
            "questions[1].items[3]",
            "42,",
            id="question-not-text",
        ),
    ],
)
def test_other_mistakes_also_come_with_a_fix(tmp_path, replacements, field, at):
    refused(definition_variant(tmp_path, replacements), field, at=at)


def test_bad_offset_in_a_list_written_across_lines(tmp_path):
    variant = definition_variant(
        tmp_path, {'offsets = ["7d", "1d", "1h"]': 'offsets = ["7d",\n           "1 day",\n           "1h"]'}
    )
    refused(variant, "reminders.offsets[1]", at='"1 day"')


def test_every_mistake_is_reported_at_once(tmp_path):
    variant = definition_variant(
        tmp_path,
        {
            "\ntitle = ": "\ntitel = ",
            'name = "Mr. Bokyun Shim"': 'nmae = "Mr. Bokyun Shim"',
            'start = "15:45"': 'start = "15h45"',
            '"https://www.nesta.org.uk/': '"www.nesta.org.uk/',
            '"yaok@un.org"': '"yaok(at)un.org"',
            '["7d", "1d", "1h"]': '["7d", "1d", "soon"]',
        },
    )
    with pytest.raises(InputError) as caught:
        load_definition(variant)
    found = {p.field: p.line for p in caught.value.problems}
    assert found == {
        "titel": line_of(variant, "titel ="),
        "agenda[1].speakers[0].nmae": line_of(variant, "nmae ="),
        "agenda[2].start": line_of(variant, "15h45"),
        "readings[6].url": line_of(variant, '"www.nesta.org.uk/'),
        "contacts[0].email": line_of(variant, "yaok(at)un.org"),
        "reminders.offsets[2]": line_of(variant, "offsets ="),
    }
    assert all(p.fix for p in caught.value.problems)
    assert caught.value.summary.endswith("has 6 problems:")


# -- the command line refuses bad files cleanly -----------------------------------------------


@pytest.mark.parametrize(
    ("replacements", "field", "at", "fix"),
    [
        pytest.param({"time_zone =": "timezone ="}, "schedule.timezone", "timezone =", "time_zone", id="typo"),
        pytest.param(
            {'"2021-04-30 15:00"': '"2021-03-28 02:30"', '"Asia/Seoul"': '"Europe/Paris"'},
            "schedule.start",
            "2021-03-28 02:30",
            "one hour later",
            id="dst-gap",
        ),
        pytest.param({'"Asia/Seoul"': '"Asia/Seol"'}, "schedule.time_zone", "Asia/Seol", "Asia/Seoul", id="zone"),
    ],
)
def test_add_refuses_a_bad_file_and_adds_nothing(initialised, workdir, replacements, field, at, fix):
    run = initialised
    variant = definition_variant(workdir, replacements)
    ran = run("webinar", "add", variant)
    assert ran.code == 2
    assert f"{variant}:{line_of(variant, at)}: {field}:" in ran.stderr
    assert "fix:" in ran.stderr
    assert fix in ran.stderr
    assert "Traceback" not in ran.stderr
    assert ran.stdout == ""
    assert run("webinar", "list", "--json").json() == []


def test_add_of_a_missing_file_is_a_plain_error(initialised):
    ran = initialised("webinar", "add", "data/webinars/no-such-file.toml")
    assert ran.code == 2
    assert "no-such-file.toml" in ran.stderr
    assert "Traceback" not in ran.stderr


# -- adding again: what counts as a change ----------------------------------------------------


def revision(run) -> int:
    shown = run("webinar", "show", SAMPLE_SLUG, "--json")
    assert shown.code == 0, shown.stderr
    return shown.json()["revision"]


def test_adding_the_same_file_twice_changes_nothing(initialised):
    run = initialised
    assert run("webinar", "add", SAMPLE_DEFINITION).code == 0
    again = run("webinar", "add", SAMPLE_DEFINITION)
    assert again.code == 0
    assert again.stdout.startswith("Unchanged")
    assert revision(run) == 0


def test_a_longer_webinar_is_a_new_revision(initialised, workdir):
    run = initialised
    assert run("webinar", "add", SAMPLE_DEFINITION).code == 0
    longer = definition_variant(workdir, {'duration = "90m"': 'duration = "120m"'})
    ran = run("webinar", "add", longer)
    assert ran.code == 0, ran.stderr
    assert ran.stdout.startswith("Updated")
    assert "changed end: 2021-04-30 16:30 → 2021-04-30 17:00" in ran.stdout
    assert revision(run) == 1


def test_a_later_start_is_a_new_revision(initialised, workdir):
    run = initialised
    assert run("webinar", "add", SAMPLE_DEFINITION).code == 0
    later = definition_variant(
        workdir,
        {
            '"2021-04-30 15:00"': '"2021-04-30 16:00"',
            'start = "15:00"\ntitle = "Opening': 'start = "16:00"\ntitle = "Opening',
            'start = "15:00"\nend = "15:45"': 'start = "16:00"\nend = "16:45"',
            'start = "15:45"\nend = "16:05"': 'start = "16:45"\nend = "17:05"',
            'start = "16:05"\nend = "16:25"': 'start = "17:05"\nend = "17:25"',
            'start = "16:25"\nend = "16:30"': 'start = "17:25"\nend = "17:30"',
        },
    )
    ran = run("webinar", "add", later)
    assert ran.code == 0, ran.stderr
    assert "changed start: 2021-04-30 15:00 Asia/Seoul → 2021-04-30 16:00 Asia/Seoul" in ran.stdout
    assert revision(run) == 1


def test_a_new_description_is_reported_but_keeps_the_revision(initialised, workdir):
    run = initialised
    assert run("webinar", "add", SAMPLE_DEFINITION).code == 0
    edited = definition_variant(workdir, {"All governments have": "Nearly all governments have"})
    ran = run("webinar", "add", edited)
    assert ran.code == 0, ran.stderr
    assert ran.stdout.startswith("Updated")
    assert "changed description" in ran.stdout
    assert revision(run) == 0


# -- clocks and zones --------------------------------------------------------------------------


def test_agenda_after_midnight_is_on_the_next_day(tmp_path):
    agenda = """
[[agenda]]
start = "23:30"
end = "00:15"
title = "Before midnight"

[[agenda]]
start = "00:15"
end = "00:45"
title = "After midnight"
"""
    definition = load_definition(write_definition(tmp_path, minimal("2021-04-30 23:30", "Asia/Seoul", agenda=agenda)))
    before, after = definition.agenda
    assert definition.end == seoul(30, 23, 30) + timedelta(minutes=90)
    assert before.end == after.start == datetime(2021, 5, 1, 0, 15, tzinfo=SEOUL)
    assert after.end == datetime(2021, 5, 1, 0, 45, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Australia/Lord_Howe", "2021-01-15 10:00"),  # summer: UTC+11
        ("Australia/Lord_Howe", "2021-06-15 10:00"),  # winter: UTC+10:30
        ("America/Santiago", "2021-01-15 10:00"),  # southern summer: UTC-3
        ("America/Santiago", "2021-07-15 10:00"),  # southern winter: UTC-4
    ],
)
def test_start_is_converted_with_the_zones_own_rules(tmp_path, zone, start):
    definition = load_definition(write_definition(tmp_path, minimal(start, zone)))
    expected = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    assert definition.start == expected
    assert definition.end == expected + timedelta(minutes=90)


def test_lord_howe_moves_its_clocks_by_half_an_hour():
    zone = ZoneInfo("Australia/Lord_Howe")
    summer, winter = datetime(2021, 1, 15, tzinfo=zone), datetime(2021, 6, 15, tzinfo=zone)
    assert summer.utcoffset() - winter.utcoffset() == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("zone", "start", "why"),
    [
        ("Australia/Lord_Howe", "2021-10-03 02:15", "does not exist"),  # 02:00 → 02:30
        ("Australia/Lord_Howe", "2021-04-04 01:45", "twice"),  # 02:00 → 01:30
        ("America/Santiago", "2021-09-05 00:30", "does not exist"),  # 00:00 → 01:00
        ("America/Santiago", "2021-04-03 23:30", "twice"),  # 24:00 → 23:00
    ],
)
def test_half_hour_and_midnight_transitions_are_refused(tmp_path, zone, start, why):
    path = write_definition(tmp_path, minimal(start, zone))
    problem = refused(path, "schedule.start", at=f'start = "{start}"')
    assert why in problem.message


# -- tomlines ----------------------------------------------------------------------------------


def sample_line(text: str, after: str | None = None) -> int:
    return line_of(SAMPLE_DEFINITION, text, after)


def test_lines_of_nested_array_tables():
    index = LineIndex(SAMPLE_DEFINITION.read_text(encoding="utf-8"))
    assert index.line(("agenda", 1, "speakers", 1, "name")) == sample_line('name = "Mr. Keping Yao"')
    assert index.line(("agenda", 2, "speakers", 0, "organisation")) == sample_line('"Ministry of the Interior')
    assert index.line(("agenda", 4, "end")) == sample_line('end = "16:30"')
    assert index.line(("agenda", 1, "speakers", 0)) == sample_line("[[agenda.speakers]]", after='end = "15:45"')
    assert index.line(("contacts", 2, "email")) == sample_line("hyein.lee@snu.ac.kr")
    assert index.line(("readings", 7, "url")) == sample_line("http://unpog.org/")


def test_lines_of_multiline_array_elements():
    index = LineIndex(SAMPLE_DEFINITION.read_text(encoding="utf-8"))
    assert index.line(("organisers", 1)) == sample_line('"Seoul National University (SNU)"')
    assert index.line(("questions", 1, "items", 2)) == sample_line('"What are the enablers')
    assert index.line(("questions", 0, "items", 3)) == sample_line('"What are the major key issues')


def test_a_path_the_scanner_cannot_place_falls_back_to_its_table():
    index = LineIndex(SAMPLE_DEFINITION.read_text(encoding="utf-8"))
    assert index.line(("reminders", "offsets", 1)) == sample_line("offsets =")
    assert index.line(("agenda", 3, "speakers")) == sample_line("[[agenda]]", after='end = "16:05"')
    assert index.line(("nowhere",)) is None


def test_multiline_strings_do_not_look_like_keys():
    index = LineIndex('description = """\ntitle = "not a key"\n[not.a.table]\n"""\ntitle = "real"\n')
    assert index.line(("title",)) == 5
    assert index.line(("not", "a", "table")) is None


def test_array_elements_sharing_lines_with_their_brackets():
    text = 'offsets = ["7d",\n           "1d",\n           "1h"]\nnext = 1\n'
    index = LineIndex(text)
    assert [index.line(("offsets", i)) for i in range(3)] == [1, 2, 3]
    assert index.line(("next",)) == 4


def test_two_array_elements_on_one_line():
    text = 'items = [\n  "a", "b",\n  "c",\n]\n'
    index = LineIndex(text)
    assert [index.line(("items", i)) for i in range(3)] == [2, 2, 3]


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "right/UTC", "posix/Asia/Seoul"])
def test_host_files_that_are_not_iana_zones_are_refused(run, workdir, name):
    variant = definition_variant(workdir, {'time_zone = "Asia/Seoul"': f'time_zone = "{name}"'})
    added = run("webinar", "add", variant, env={"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY})
    assert added.code == 2
    assert f"unknown time zone {name!r}" in added.stderr
    person = run(
        "registrants", "add", SAMPLE_SLUG, "--email", "a@example.org", "--first-name", "A", "--time-zone", name
    )
    assert person.code == 2


@pytest.mark.parametrize(
    "name", ["Asia/Seoul", "Asia/Calcutta", "US/Eastern", "UTC", "Etc/GMT+5", "America/Argentina/Salta"]
)
def test_canonical_zones_and_their_links_are_taken(name):
    assert times.zone(name).key == name


@pytest.mark.parametrize(("folder", "what"), [("\\u0000", "'\\x00'"), ("x" * 6000, "xxx...'"), ("a/" * 300, "...'")])
def test_a_template_folder_the_system_cannot_look_up_is_refused_with_exit_2(run, workdir, folder, what):
    variant = definition_variant(workdir, {"[reminders]\n": f'[mail]\ntemplates = "{folder}"\n\n[reminders]\n'})
    added = run("webinar", "add", variant, env={"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY})
    assert added.code == 2, added.stderr
    assert "mail.templates" in added.stderr
    assert what in added.stderr
    assert len(added.stderr) < 1000, "a long name is shown cut short"


@pytest.mark.parametrize(
    "command",
    [("webinar", "add", "{long}.toml"), ("registrants", "import", SAMPLE_SLUG, "{long}.csv"), ("status",)],
)
def test_a_path_of_thousands_of_characters_is_named_cut_short_with_its_file_name(run, command):
    long = "d" * 250 + "/" + "e" * 6000
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY, "WEBINAR_OPS_DB": f"{long}.db"}
    if command != ("status",):
        env.pop("WEBINAR_OPS_DB")
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml", env=env).code in (0, 1)

    ran = run(*(part.format(long=long) for part in command), env=env)

    assert ran.code in (1, 2), ran.stderr
    assert "File name too long" in ran.stderr
    assert "…" in ran.stderr
    assert len(ran.stderr) < 400, "the whole path is not echoed"
    assert "Traceback" not in ran.stderr


def test_a_definition_asking_for_five_thousand_reminders_is_refused_before_anything_is_stored(run, workdir):
    offsets = ", ".join(f'"{minutes}m"' for minutes in range(10, 5010))
    variant = definition_variant(workdir, {'offsets = ["7d", "1d", "1h"]': f"offsets = [{offsets}]"})
    added = run("webinar", "add", variant, env={"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY})
    assert added.code == 2
    assert "reminders.offsets[10]: has 5000 items; a webinar holds at most 10" in added.stderr
    assert "docs/definition.md" in added.stderr
    assert run("webinar", "list", "--json").json() == []


def test_more_than_ten_messages_after_the_webinar_are_refused(run, workdir):
    after = "".join(f'\n[[after]]\nsend = "{n}d"\nnote = "Day {n}."\n' for n in range(1, 12))
    variant = definition_variant(workdir, {"[reminders]\n": after.lstrip() + "\n[reminders]\n"})
    added = run("webinar", "add", variant, env={"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY})
    assert added.code == 2
    assert "after[10]: has 11 items; a webinar holds at most 10" in added.stderr
