"""The mail as written reads as meant.

`Composer.message_bytes`, which the sender uses, writes each mail with mime.py, its words
from stencils (stencil.py) and its invite from a stencil (invite.py). Every mail here is read
back by the email package, icalendar and vobject (tests/reading.py) and must read as the
plain path means it: the words of `Composer.render`, the invite icalendar writes whole, the
headers the email package would set. The same `now` gives the same Date and DTSTAMP.
"""

from __future__ import annotations

import email
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from conftest import NOW, SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant, reader
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from reading import assert_calendars_read, assert_reads_as_meant, planned, reference, unfolded

from webinar_ops import calendar_entry, validate
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.mail import stencil
from webinar_ops.mail.compose import Composer, template_environment
from webinar_ops.mail.invite import InviteBuilder
from webinar_ops.mail.outbox import Delivery
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Registrant, Store, WebinarRecord
from webinar_ops.sync import sync_webinar

AN_HOUR_BEFORE = datetime(2021, 4, 30, 5, 0, 17, 250_000, tzinfo=UTC)
ZONES = [None, "", "Asia/Seoul", "Europe/Paris", "America/Los_Angeles", "Pacific/Chatham", "Asia/Kathmandu"]
# One composer serves every example of a test, as it serves every mail of a wave.
SAME_BYTES = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
# Names as registrants write them, and as an attacker would: scripts, marks, quotes, specials.
LONG_WORDS = st.text(st.sampled_from("aé한-/."), min_size=70, max_size=200)
NAME_CHARACTERS = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\"'()<>@,;:\\.[]=?_-^ \t\r\n\u202e\u00a0"
)


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY)


@pytest.fixture
def synced(store: Store, settings: Settings) -> WebinarRecord:
    """The sample webinar, its 15 sample registrants registered (each with a personal link)
    and their mail planned."""
    record = save(store, SAMPLE_DEFINITION)
    apply_import(store, record, plan_import(store, record, SAMPLE_CSV), NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    record = store.webinar(SAMPLE_SLUG)
    plan_webinar(store, record, NOW, settings.mail_domain)
    return record


@pytest.fixture
def composer(store: Store, settings: Settings) -> Composer:
    return Composer(save(store, SAMPLE_DEFINITION), settings)


def save(store: Store, path: Path) -> WebinarRecord:
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW).record


def assert_mail_reads_as_meant(
    composer: Composer, delivery: Delivery, registrant: dict, now: datetime = AN_HOUR_BEFORE
) -> None:
    assert_reads_as_meant(composer, delivery, registrant, now)


def reminder(message_id: str = "<reminder-1h.amelie@webinars.example.org>") -> Delivery:
    return planned("reminder", 60, message_id)


def person(**changes) -> Registrant:
    amelie = {
        "email": "amelie.laurent@example.org",
        "first_name": "Amélie",
        "last_name": "Laurent",
        "time_zone": "Europe/Paris",
        "join_url": "https://webinars.example.org/j/amelie-personal-join-token-0123456789",
    }
    return reader(**{**amelie, **changes})


def test_every_planned_mail_of_the_sample_webinar_reads_as_meant(store, synced, settings):
    composer = Composer(synced, settings)
    people = {row.id: row for row in store.registrants(synced.id)}
    deliveries = list(store.db.query("SELECT * FROM deliveries ORDER BY id"))
    assert {d["template"] for d in deliveries} == {"confirmation", "reminder"}

    for delivery in map(Delivery.from_row, deliveries):
        assert_mail_reads_as_meant(composer, delivery, people[delivery.registrant_id])


@pytest.mark.parametrize("language", [None, "en", "fr", "fr-CA", "es"])
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("link", [None, "https://zoom.example.org/w/9?tk=a,b;c&x=1"])
def test_each_zone_and_language_with_and_without_a_link_reads_as_meant(composer, zone, link, language):
    reader = person(time_zone=zone, join_url=link, language=language)
    assert_mail_reads_as_meant(composer, reminder(), reader)
    assert_mail_reads_as_meant(composer, replace(reminder(), template="confirmation", offset_minutes=None), reader)


@SAME_BYTES
@given(
    first=st.text(NAME_CHARACTERS, min_size=1, max_size=90),
    zone=st.sampled_from(ZONES),
    seconds=st.integers(min_value=0, max_value=10**6),
)
def test_any_french_reader_gets_a_mail_that_reads_as_meant(composer, first, zone, seconds):
    registrant = person(first_name=first, time_zone=zone, language="fr")
    now = AN_HOUR_BEFORE - timedelta(seconds=seconds)
    try:
        reference(composer, reminder(), registrant, now)
    except ValueError:  # a name that cannot make a safe mail: the test below covers the refusal
        return
    assert_reads_as_meant(composer, reminder(), registrant, now)


@SAME_BYTES
@given(
    first=st.text(NAME_CHARACTERS, min_size=1, max_size=90),
    last=st.none() | st.text(NAME_CHARACTERS, max_size=90),
    local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,60}[a-z0-9]", fullmatch=True),
    domain=st.sampled_from(["example.org", "a.b.example.museum", "x" * 60 + ".example.org"]),
    zone=st.sampled_from(ZONES),
    seconds=st.integers(min_value=0, max_value=10**6),
)
# A name whose encoded words split right after a space: the space must still be read.
@example(
    first="0:¡¡¡¡¡¡¡¡¡¡\u0800" + "\U00010000" * 5 + '"¡',
    last=None,
    local="a",
    domain="example.org",
    zone=None,
    seconds=0,
)
def test_any_registrant_gets_a_mail_that_reads_as_meant(composer, first, last, local, domain, zone, seconds):
    registrant = person(first_name=first, last_name=last, email=f"{local}@{domain}", time_zone=zone)
    now = AN_HOUR_BEFORE - timedelta(seconds=seconds)
    try:
        composer.render("reminder", registrant, now, 60)
        validate.email_address(registrant.email)
    except ValueError as refused:  # a row that cannot make a safe mail is refused, and why
        with pytest.raises(ValueError, match=re.escape(str(refused))):
            composer.message_bytes(reminder(), registrant, now)
        return
    assert_reads_as_meant(composer, reminder(), registrant, now)


@SAME_BYTES
@given(link=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120))
def test_any_join_link_gives_a_mail_that_reads_as_meant(composer, link):
    assert_mail_reads_as_meant(composer, reminder(), person(join_url=f"https://zoom.example.org/j/{link}"))


@pytest.fixture
def names_in_subject(store: Store, settings: Settings, workdir: Path) -> Composer:
    """A composer whose reminder subject, an organiser's template, holds the reader's name."""
    folder = workdir / "organiser"
    (folder / "own").mkdir(parents=True)
    subject = "{{ person.first_name }} {{ person.last_name or '' }}: your webinar starts soon\n"
    (folder / "own" / "reminder.subject.txt").write_text(subject, encoding="utf-8")
    definition_variant(folder, {"[reminders]": '[mail]\ntemplates = "own"\n\n[reminders]'})
    return Composer(save(store, (folder / "variant.toml").relative_to(workdir)), settings)


@SAME_BYTES
@given(first=st.text(NAME_CHARACTERS, min_size=1, max_size=120), words=st.lists(LONG_WORDS, max_size=4))
def test_a_subject_with_any_name_and_long_words_reads_as_meant(names_in_subject, first, words):
    reader = person(first_name=first, last_name=" ".join(words) or None)
    try:
        names_in_subject.render("reminder", reader, AN_HOUR_BEFORE, 60)
    except ValueError:  # a name that cannot make a safe mail: refused, as tested above
        return
    assert_mail_reads_as_meant(names_in_subject, reminder(), reader)


@pytest.mark.parametrize("name", ["=?utf-8?q?Ana?=", "Ana =?utf-8?b?QW5h?= Lima", "=?x", "O'Brien-Smith", "Ms. Ana"])
def test_names_with_encoded_words_or_specials_read_as_meant(composer, name):
    assert_mail_reads_as_meant(composer, reminder(), person(first_name=name, last_name=None))


@pytest.mark.parametrize(
    "message_id",
    [
        "<reminder-1h.7f3a@webinars.example.org>",
        f"<{'r' * 40}.{'a' * 30}@{'long-subdomain.' * 4}example.org>",
    ],
)
def test_short_and_long_message_ids_read_as_meant(composer, message_id):
    assert_mail_reads_as_meant(composer, reminder(message_id), person())


ENCODINGS = {
    # template body -> the transfer encoding the text part is written in
    "Dear {{ person.first_name }},\nSee you soon.\n": "quoted-printable",
    "Chère {{ person.first_name }},\nLe webinaire commence dans une heure : à bientôt.\n": "quoted-printable",
    "Chère {{ person.first_name }},\nÀ bientôt.\n": "base64",  # a third of its bytes are not ASCII
    "Réunion: {{ webinar.title | replace(' ', '_') }}\n": "quoted-printable",  # a long line, mostly ASCII
    ("안녕하세요 {{ person.first_name }} 님, 곧 웨비나가 시작됩니다. 참가 링크는 아래에 있습니다. " * 3 + "\n")
    * 12: "base64",
}


@pytest.mark.parametrize("body", ENCODINGS, ids=ENCODINGS.values())
def test_a_text_part_is_quoted_printable_unless_most_of_it_is_not_ascii(store, settings, workdir, body):
    folder = workdir / "organiser"
    (folder / "own").mkdir(parents=True)
    (folder / "own" / "reminder.txt").write_text(body, encoding="utf-8")
    (folder / "own" / "reminder.html").write_text(f"<p>{body}</p>", encoding="utf-8")
    definition_variant(folder, {"[reminders]": '[mail]\ntemplates = "own"\n\n[reminders]'})
    composer = Composer(save(store, (folder / "variant.toml").relative_to(workdir)), settings)

    raw = composer.message_bytes(reminder(), person(first_name="Ji-woo"), AN_HOUR_BEFORE)

    text = next(
        p for p in email.message_from_bytes(raw, policy=policy.default).walk() if p.get_content_subtype() == "plain"
    )
    assert text["Content-Transfer-Encoding"] == ENCODINGS[body]
    assert_mail_reads_as_meant(composer, reminder(), person(first_name="Ji-woo"))


@SAME_BYTES
@given(
    name=st.none() | st.text(NAME_CHARACTERS, max_size=80),
    link=st.none() | st.sampled_from(["https://zoom.us/w/1?tk=x,y;z", "http://localhost:8080/j/abc^def"]),
    description=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=600),
    method=st.sampled_from(["REQUEST", "CANCEL"]),
)
def test_an_invite_from_the_stencil_reads_as_the_invite_icalendar_writes(name, link, description, method):
    builder = _builder()
    arguments = ("ana@example.org", name, link, description, AN_HOUR_BEFORE, method)

    fast = builder.fast_invite(*arguments)

    assert unfolded(fast) == unfolded(builder.invite(*arguments))
    assert_calendars_read(fast)
    assert all(len(line) <= 75 for line in fast.split(b"\r\n"))


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    title=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=120),
    link=st.none() | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80),
    heading=st.none() | st.text(max_size=60),
    language=st.sampled_from(["en", "fr"]),
)
def test_calendar_links_from_the_marker_are_the_links_made_whole(title, link, heading, language):
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    end = start + timedelta(minutes=90)
    whole = calendar_entry.links(title, start, end, link, calendar_entry.details(link, heading, language))

    assert calendar_entry.LinkMaker(title, start, end, heading, language).links(link) == whole


def _builder() -> InviteBuilder:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # London's clocks go forward that morning
    return InviteBuilder(
        uid="0b9f3c1e@webinar-ops",
        sequence=2,
        summary="Data governance, open data; and COVID-19 \\ recovery",
        start=start,
        end=start + timedelta(minutes=90),
        time_zone="Europe/London",
        organizer_email="jihyun.joung@un.org",
        organizer_name="Ms. Jihyun (Jenny) Jeoung",
    )


# -- stencils: a template rendered once per kind of reader -----------------------------------

WHAT_TEMPLATES_DO = {
    # template -> whether a stencil can stand for it (the name is only printed or tested)
    "Dear {{ person.first_name }},\n{{ join_url or 'no link yet' }}\n": True,
    "{% if person.last_name %}Dear {{ person.first_name }} {{ person.last_name }}{% endif %}\n": True,
    "{{ person.first_name if join_url else 'Hello' }} ({{ person.time_zone }})\n": True,
    "{% if person.last_name or join_url %}Dear {{ person.first_name }}{% endif %}\n": True,
    "{% if (person.last_name or join_url) == 'x' %}Hello{% endif %}\n": False,
    "Dear {{ person.first_name | upper }},\n": False,
    "{% if person.first_name == 'Ana' %}Hola{% else %}Hello{% endif %}\n": False,
    "{{ person.first_name ~ '!' }}\n": False,
    "{% set name = person.first_name %}{{ name }}\n": False,
    "{% macro hello(who) %}{{ who }}{% endmacro %}{{ hello(person.first_name) }}\n": False,
    "{% filter upper %}{{ person.first_name }}{% endfilter %}\n": False,
    "{{ person['first_name'] }}\n": False,
    "{{ person.email | length }}\n": False,
    # translated messages: a reader's value put whole into a message that is printed whole
    "{{ _('Dear %(name)s,', name=person.first_name) }}\n{{ _('Join') if join_url }}\n": True,
    "{% trans name=person.first_name %}Dear {{ name }},{% endtrans %}\n": True,
    "{{ _('Dear %(name)s,', name=person.first_name | upper) }}\n": False,
    "{{ _('Dear %(name)s,', name=person.first_name) | upper }}\n": False,
    "{{ _(person.first_name) }}\n": False,
    "{{ ngettext('%(num)d day', '%(num)d days', person.first_name | length) }}\n": False,
    "{{ webinar.title.format(name=person.first_name) }}\n": False,
}


@pytest.mark.parametrize("body", WHAT_TEMPLATES_DO, ids=range(len(WHAT_TEMPLATES_DO)))
def test_a_stencil_stands_for_a_template_only_when_the_values_are_printed_whole(store, settings, workdir, body):
    folder = workdir / "organiser"
    (folder / "own").mkdir(parents=True)
    (folder / "own" / "reminder.txt").write_text(body, encoding="utf-8")
    definition_variant(folder, {"[reminders]": '[mail]\ntemplates = "own"\n\n[reminders]'})
    composer = Composer(save(store, (folder / "variant.toml").relative_to(workdir)), settings)

    assert stencil.prints_only(composer.env, "reminder.txt") is WHAT_TEMPLATES_DO[body]
    for who in (person(), person(first_name="Ana", last_name=None, join_url=None), person(first_name="<b>Zoë</b>")):
        assert_mail_reads_as_meant(composer, reminder(), who)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_default_templates_are_rendered_from_stencils(composer, language):
    names = [
        f"{t}{suffix}"
        for t in ("reminder", "confirmation", "update", "cancellation", "after")
        for suffix in (".subject.txt", ".txt", ".html")
    ]
    env = template_environment(language=language)

    assert all(stencil.prints_only(env, name) for name in names)


def test_a_name_with_markup_is_escaped_in_the_html_from_a_stencil(composer):
    words = composer.fast_render("reminder", person(first_name="<script>x</script> & Co"), AN_HOUR_BEFORE, 60)

    assert "Dear &lt;script&gt;x&lt;/script&gt; &amp; Co," in words.html
    assert "Dear <script>x</script> & Co," in words.text
    assert words == composer.render("reminder", person(first_name="<script>x</script> & Co"), AN_HOUR_BEFORE, 60)


@pytest.mark.parametrize(
    "base_url",
    ["http://localhost:8080", "https://webinars.department-of-economic-and-social-affairs.example.org/events/sessions"],
)
def test_the_unsubscribe_links_are_plain_links_however_long_and_read_as_meant(store, workdir, base_url):
    # The email package would put a link longer than a line into RFC 2047 encoded words,
    # which no mail client reads as a link.
    settings = Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url=base_url)
    composer = Composer(save(store, SAMPLE_DEFINITION), settings)
    reader = person(id=123456)

    raw = composer.message_bytes(reminder(), reader, AN_HOUR_BEFORE)

    header = email.message_from_bytes(raw, policy=policy.default)["List-Unsubscribe"]
    assert "=?" not in header
    link, mailto = re.findall(r"<([^>]+)>", str(header))
    assert link.startswith(f"{base_url}/u/123456.")
    assert mailto.startswith("mailto:jihyun.joung@un.org?subject=Unsubscribe%20")
    assert_mail_reads_as_meant(composer, reminder(), reader)
