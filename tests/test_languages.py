"""Mails in each reader's language: English, or French for readers who read it.

The organiser imports a CSV with a `language` column; each person's mails (subject, text,
HTML, the invite's description and the "Add to calendar" links) are written in their
language when the webinar has templates in it: `fr` and `fr-CA` read French, `en` and
languages without templates (here `es`) read English. Dates and times are written the way
the language writes them, in the event's zone and the reader's.

The webinar is in London the day its clocks go forward (28 March 2021: 10:00 BST is 09:00
UTC); the mails are written a week before, while Paris is still on winter time. Worked out
by hand: 09:00 UTC is 11:00 in Paris (CEST, from that same morning), 05:00 in Toronto and
New York (EDT since 14 March), 06:00 in Buenos Aires (-3, no DST).
"""

from __future__ import annotations

import email
import html
import re
import shutil
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from conftest import SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from reading import assert_reads_as_meant, planned

from webinar_ops import calendar_entry, languages, times, validate
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.errors import InputError
from webinar_ops.mail.compose import Composer, check_definition_templates
from webinar_ops.mail.outbox import Delivery
from webinar_ops.plan import plan_manual, plan_webinar
from webinar_ops.providers import RemoteRegistrant, load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import SyncReport, pull_registrants, sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport

SLUG = "open-data-dst"
TITLE = "Open Data after COVID-19"
WRITTEN = datetime(2021, 3, 20, 9, 0, tzinfo=UTC)  # a week before; Paris still on CET
START = datetime(2021, 3, 28, 9, 0, tzinfo=UTC)  # 10:00 in London, on BST since 01:00 UTC
NBSP = "\u00a0"
DEFINITION = f"""\
slug = "{SLUG}"
title = "{TITLE}"
series = "Governance Capacity Development Session Series"
session = "Session 6"
organisers = ["UN DESA", "Seoul National University"]

[schedule]
start = "2021-03-28 10:00"
time_zone = "Europe/London"
duration = "90m"

[[agenda]]
start = "10:00"
end = "10:45"
title = "Opening and presentation"

[[agenda]]
start = "10:45"
end = "11:30"
title = "Questions and answers"

[[contacts]]
purpose = "registration"
name = "Ms. Jihyun Joung"
email = "jihyun.joung@un.org"

[reminders]
offsets = ["1d", "1h"]
"""
PEOPLE = """\
email,first_name,last_name,time_zone,language
amelie.laurent@example.org,Amélie,Laurent,Europe/Paris,fr
jean.tremblay@example.org,Jean,Tremblay,America/Toronto,fr-CA
sarah.johnson@example.org,Sarah,Johnson,America/New_York,en
lucia.fernandez@example.org,Lucía,Fernández,America/Argentina/Buenos_Aires,es
"""
AMELIE, JEAN, SARAH, LUCIA = (line.split(",")[0] for line in PEOPLE.splitlines()[1:])


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY).with_plugin(
        MaildirSettings(outbox_dir=workdir / "out")
    )


@pytest.fixture
def webinar(store: Store, settings: Settings, workdir: Path) -> WebinarRecord:
    """The webinar added, the four people imported, registered and their mail planned."""
    return set_up(store, settings, workdir, DEFINITION)


def set_up(store: Store, settings: Settings, folder: Path, definition: str, people: str = PEOPLE) -> WebinarRecord:
    path = folder / "webinar.toml"
    path.write_text(definition, encoding="utf-8")
    store.save_webinar(load_definition(path), definition, "local", WRITTEN)
    (folder / "people.csv").write_text(people, encoding="utf-8")
    record = store.webinar(SLUG)
    apply_import(store, record, plan_import(store, record, folder / "people.csv"), WRITTEN)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SLUG), WRITTEN)
    plan_webinar(store, store.webinar(SLUG), WRITTEN, settings.mail_domain)
    return store.webinar(SLUG)


def with_own_templates(definition: str = DEFINITION, languages_line: str = "") -> str:
    """The definition with the organiser's template folder `my-templates` (and `[mail] languages`)."""
    mail = f'[mail]\ntemplates = "my-templates"\n{languages_line}\n'
    return definition.replace("[reminders]", f"{mail}\n[reminders]")


def english_templates_in(folder: Path) -> Path:
    """A complete set of templates in `folder`: copies of the English ones, to translate."""
    folder.mkdir(parents=True)
    for template in languages.DEFAULT_TEMPLATES.glob("*.*"):
        shutil.copy(template, folder / template.name)
    return folder


def send(store: Store, settings: Settings, at: datetime) -> None:
    send_due(store, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: at)


def mails_to(settings: Settings, address: str) -> list[EmailMessage]:
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    paths = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    found = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]
    return [m for m in found if address in str(m["To"])]


def words(message: EmailMessage) -> tuple[str, str, str]:
    """Subject, text and HTML, with no-break spaces read as spaces (French puts them in
    times and before colons)."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    markup = message.get_body(preferencelist=("html",)).get_content()
    return tuple(part.replace(NBSP, " ") for part in (str(message["Subject"]), text, markup))


def flat(text: str) -> str:
    return " ".join(text.split())


def event_of(message: EmailMessage) -> icalendar.Event:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    [found] = icalendar.Calendar.from_ical(part.get_content().encode()).events
    return found


def calendar_link(message: EmailMessage, host: str) -> dict[str, str]:
    """The query of the HTML's "Add to calendar" link to `host`, decoded."""
    markup = message.get_body(preferencelist=("html",)).get_content()
    [href] = re.findall(rf'href="(https://{re.escape(host)}/[^"]+)"', markup)
    return {name: values[0] for name, values in parse_qs(urlsplit(html.unescape(href)).query).items()}


# -- who reads what -------------------------------------------------------------------------------


def test_a_french_reader_gets_her_confirmation_in_french_with_both_clocks(store, settings, webinar):
    send(store, settings, WRITTEN)

    [confirmation] = mails_to(settings, AMELIE)
    subject, text, markup = words(confirmation)

    assert subject == f"Inscription confirmée : {TITLE} (dimanche 28 mars 2021)"
    assert text.startswith("Bonjour Amélie,\n\nVotre inscription au webinaire « Open Data after COVID-19 »")
    assert "Dimanche 28 mars 2021, 10 h 00–11 h 30, heure de Londres (UTC+1)" in text
    assert "11 h 00–12 h 30, votre heure locale (Europe/Paris)" in text
    assert "10 h 00–10 h 45, heure de Londres · 11 h 00–11 h 45, votre heure locale" in text
    assert "Aide à l'inscription : Ms. Jihyun Joung, jihyun.joung@un.org" in text
    assert '<html lang="fr">' in markup
    assert "<p>Bonjour Amélie,</p>" in markup
    assert ">Rejoindre le webinaire</a>" in markup


def test_times_keep_together_with_no_break_spaces(store, settings, webinar):
    send(store, settings, WRITTEN)

    [confirmation] = mails_to(settings, AMELIE)

    text = confirmation.get_body(preferencelist=("plain",)).get_content()
    assert f"10{NBSP}h{NBSP}00–11{NBSP}h{NBSP}30" in text  # a wrapped line never splits a time
    assert str(confirmation["Subject"]).startswith(f"Inscription confirmée{NBSP}: "), "the subject keeps it too"


def test_her_reminders_say_how_soon_in_french(store, settings, webinar):
    send(store, settings, START - timedelta(days=1))
    send(store, settings, START - timedelta(hours=1))

    subjects = [words(m)[0] for m in mails_to(settings, AMELIE)]

    assert subjects == [
        f"Inscription confirmée : {TITLE} (dimanche 28 mars 2021)",
        f"Demain : {TITLE}",
        f"Dans une heure : {TITLE}",
    ]
    _, text, _ = words(mails_to(settings, AMELIE)[-1])
    assert "« Open Data after COVID-19 » commence dans une heure." in flat(text)
    assert "11 h 00–12 h 30, votre heure locale (Europe/Paris)" in text  # her clock on the day


def test_an_english_reader_of_the_same_webinar_gets_english(store, settings, webinar):
    send(store, settings, WRITTEN)

    [confirmation] = mails_to(settings, SARAH)
    subject, text, markup = words(confirmation)

    assert subject == f"You are registered: {TITLE} (Sunday 28 March 2021)"
    assert text.startswith("Dear Sarah,")
    assert "Sunday 28 March 2021, 10:00–11:30 London time (GMT+1)" in text
    assert "05:00–06:30 your time (America/New_York)" in text
    assert '<html lang="en">' in markup


def test_a_canadian_french_reader_gets_the_french_mails(store, settings, webinar):
    send(store, settings, WRITTEN)

    [confirmation] = mails_to(settings, JEAN)
    subject, text, _ = words(confirmation)

    assert subject.startswith("Inscription confirmée : ")
    assert "05 h 00–06 h 30, votre heure locale (America/Toronto)" in text


def test_a_language_without_templates_reads_english(store, settings, webinar):
    send(store, settings, WRITTEN)

    [confirmation] = mails_to(settings, LUCIA)
    subject, text, _ = words(confirmation)

    assert subject.startswith("You are registered: ")
    assert "06:00–07:30 your time (America/Argentina/Buenos_Aires)" in text


def test_the_invite_describes_the_webinar_in_the_readers_language(store, settings, webinar):
    send(store, settings, WRITTEN)
    link = store.registrant(webinar.id, AMELIE).join_url

    french, english = event_of(mails_to(settings, AMELIE)[0]), event_of(mails_to(settings, SARAH)[0])

    assert french["SUMMARY"] == english["SUMMARY"] == TITLE  # the programme's own words
    description = french["DESCRIPTION"].replace(NBSP, " ")
    assert description.startswith(f"Lien pour participer : {link}\n\ndimanche 28 mars 2021, 10 h 00–11 h 30")
    assert "10 h 00–10 h 45  Opening and presentation" in description
    assert english["DESCRIPTION"].startswith("Join: ")
    assert french.decoded("DTSTART") == english.decoded("DTSTART")


def test_the_add_to_calendar_links_carry_the_utc_times_and_the_personal_link(store, settings, webinar):
    send(store, settings, WRITTEN)
    [mail] = mails_to(settings, AMELIE)
    link = store.registrant(webinar.id, AMELIE).join_url

    google = calendar_link(mail, "calendar.google.com")
    work = calendar_link(mail, "outlook.office.com")
    personal = calendar_link(mail, "outlook.live.com")

    assert google["action"] == "TEMPLATE"
    assert google["text"] == TITLE
    assert google["dates"] == "20210328T090000Z/20210328T103000Z"
    assert google["location"] == link
    assert google["details"].startswith(f"Lien pour participer{NBSP}: {link}")
    for outlook in (work, personal):
        assert (outlook["startdt"], outlook["enddt"]) == ("2021-03-28T09:00:00Z", "2021-03-28T10:30:00Z")
        assert outlook["subject"] == TITLE
        assert outlook["location"] == link
        assert outlook["rru"] == "addevent"
    _, _, markup = words(mail)
    assert ">Ajouter à Google Agenda</a>" in markup
    assert ">Ajouter à Outlook.com (compte Microsoft personnel)</a>" in markup


# -- every mail reads as meant ------------------------------------------------------------------


def test_every_planned_mail_reads_as_meant_in_each_language(store, settings, webinar):
    composer = Composer(webinar, settings)
    people = {row.id: row for row in store.registrants(webinar.id)}

    for delivery in map(Delivery.from_row, store.db.query("SELECT * FROM deliveries ORDER BY id")):
        reader = people[delivery.registrant_id]
        now = delivery.due
        assert_reads_as_meant(composer, delivery, reader, now)


@pytest.mark.parametrize(
    "template", ["awaiting", "confirmation", "denial", "reminder", "update", "cancellation", "after"]
)
def test_every_french_template_renders_from_its_stencils_as_it_renders_alone(store, settings, webinar, template):
    composer = Composer(webinar, settings)
    amelie = store.registrant(webinar.id, AMELIE)
    delivery = planned(template, 60, "<fr@example.org>")

    fast = composer.fast_render(template, amelie, WRITTEN, 60)

    assert fast == composer.render(template, amelie, WRITTEN, 60)
    assert_reads_as_meant(composer, delivery, amelie, WRITTEN)
    assert "Bonjour Amélie," in fast.text


@pytest.mark.parametrize("template", ["confirmation", "reminder", "update", "after"])
def test_her_french_mails_carry_her_own_unsubscribe_link_and_ask_for_no_reply(store, settings, webinar, template):
    composer = Composer(webinar, settings)
    amelie = store.registrant(webinar.id, AMELIE)
    link = composer.unsubscribe_url(amelie)

    fast = composer.fast_render(template, amelie, WRITTEN, 60)

    assert link in fast.text
    assert f'href="{link}"' in fast.html
    assert "lien de désabonnement" in flat(fast.text.replace(NBSP, " "))
    for said in (fast.text, fast.html):
        assert "« désabonnement »" not in flat(said.replace(NBSP, " ")), "nothing records such a reply"


def test_a_cancellation_offers_no_unsubscribe_link_as_nothing_is_left_to_stop(store, settings, webinar):
    cancelled = store.cancel_webinar(webinar, None, WRITTEN)
    amelie = store.registrant(webinar.id, AMELIE)

    words = Composer(cancelled, settings).fast_render("cancellation", amelie, WRITTEN)

    assert "/u/" not in words.text + words.html
    assert "désabonnement" not in words.text


def test_every_english_template_has_its_french_through_the_catalog():
    english = {p.name for p in languages.DEFAULT_TEMPLATES.iterdir() if p.is_file() and p.suffix != ".py"}

    assert set(languages.mail_templates()) <= english
    assert languages.missing_templates("fr") == languages.missing_templates("fr-CA") == ()
    assert languages.available() == ("en", "fr")  # (tests/test_catalogs.py: every message is translated)


# -- updates and cancellations -------------------------------------------------------------------


def test_an_update_shows_her_the_old_time_crossed_out_in_french(store, settings, webinar, workdir):
    send(store, settings, WRITTEN)
    moved = DEFINITION.replace('start = "2021-03-28 10:00"', 'start = "2021-03-28 14:00"')
    moved = moved.replace('"10:00"', '"14:00"').replace('"10:45"', '"14:45"').replace('"11:30"', '"15:30"')
    (workdir / "webinar.toml").write_text(moved, encoding="utf-8")
    later = WRITTEN + timedelta(days=1)
    store.save_webinar(load_definition(workdir / "webinar.toml"), moved, "local", later)
    plan_webinar(store, store.webinar(SLUG), later, settings.mail_domain)
    send(store, settings, later)

    update = mails_to(settings, AMELIE)[-1]
    subject, text, markup = words(update)

    assert subject == f"Nouvel horaire : {TITLE} (dimanche 28 mars 2021)"
    assert text.startswith(f"Bonjour Amélie,\n\nL'horaire du webinaire « {TITLE} » a changé.\n")
    assert "ANCIEN HORAIRE\n  Dimanche 28 mars 2021, 10 h 00–11 h 30, heure de Londres (UTC+1)" in text
    assert "Dimanche 28 mars 2021, 14 h 00–15 h 30, heure de Londres (UTC+1)" in text
    assert "Ancien horaire : <del>dimanche 28 mars 2021, 10 h 00–11 h 30" in markup
    assert "merci de supprimer l'ancienne entrée" in flat(text), "a calendar link cannot update its entry"
    assert event_of(update)["SEQUENCE"] == 1


def test_a_cancellation_reaches_her_in_french(store, settings, webinar):
    send(store, settings, WRITTEN)
    store.cancel_webinar(webinar, "Nous vous prions de nous excuser.", WRITTEN)
    plan_webinar(store, store.webinar(SLUG), WRITTEN, settings.mail_domain)
    send(store, settings, WRITTEN)

    subject, text, _ = words(mails_to(settings, AMELIE)[-1])

    assert subject == f"Annulation : {TITLE} (dimanche 28 mars 2021)"
    assert "est annulé et n'aura pas lieu" in text
    assert "Nous vous prions de nous excuser." in text


# -- what the organiser decides ------------------------------------------------------------------


def test_a_webinar_can_offer_english_only(store, settings, workdir):
    english_only = DEFINITION.replace("[reminders]", '[mail]\nlanguages = ["en"]\n\n[reminders]')
    set_up(store, settings, workdir, english_only)
    send(store, settings, WRITTEN)

    subject, text, _ = words(mails_to(settings, AMELIE)[0])

    assert subject.startswith("You are registered: ")
    assert "11:00–12:30 your time (Europe/Paris)" in text  # her clock on the day, not the day it was written


def test_a_french_webinar_writes_french_to_readers_of_other_languages(store, settings, workdir):
    french_webinar = DEFINITION.replace(f'title = "{TITLE}"', f'title = "{TITLE}"\nlanguage = "fr"')
    set_up(store, settings, workdir, french_webinar)
    send(store, settings, WRITTEN)

    assert words(mails_to(settings, LUCIA)[0])[0].startswith("Inscription confirmée : ")
    assert words(mails_to(settings, SARAH)[0])[0].startswith("You are registered: ")


def test_an_organisers_template_replaces_the_default_of_its_own_language_only(store, settings, workdir):
    own = workdir / "my-templates"
    (own / "fr").mkdir(parents=True)
    (own / "confirmation.subject.txt").write_text("Welcome, {{ person.first_name }}: {{ webinar.title }}\n")
    (own / "fr" / "confirmation.subject.txt").write_text("Bienvenue, {{ person.first_name }} : {{ webinar.title }}\n")
    set_up(
        store, settings, workdir, DEFINITION.replace("[reminders]", '[mail]\ntemplates = "my-templates"\n\n[reminders]')
    )
    send(store, settings, WRITTEN)

    amelie, sarah = words(mails_to(settings, AMELIE)[0]), words(mails_to(settings, SARAH)[0])

    assert amelie[0] == f"Bienvenue, Amélie : {TITLE}"
    assert amelie[1].startswith("Bonjour Amélie,")  # the rest is the default French
    assert sarah[0] == f"Welcome, Sarah: {TITLE}"


def test_an_organisers_english_template_is_not_given_to_french_readers(store, settings, workdir):
    own = workdir / "my-templates"
    own.mkdir()
    (own / "confirmation.subject.txt").write_text("Welcome: {{ webinar.title }}\n")
    set_up(store, settings, workdir, with_own_templates())
    send(store, settings, WRITTEN)

    assert words(mails_to(settings, SARAH)[0])[0] == f"Welcome: {TITLE}"
    assert words(mails_to(settings, AMELIE)[0])[0] == f"Inscription confirmée : {TITLE} (dimanche 28 mars 2021)"


def test_an_organisers_frame_and_own_parts_serve_every_language(store, settings, workdir):
    own = workdir / "my-templates"
    (own / "common").mkdir(parents=True)
    frame = (languages.DEFAULT_TEMPLATES / "common" / "_page.html").read_text(encoding="utf-8")
    (own / "common" / "_page.html").write_text(frame.replace("<body ", '<body data-frame="own" '))
    (own / "fr").mkdir()
    (own / "_note.txt").write_text("Note: {{ webinar.title }}\n")
    (own / "fr" / "confirmation.txt").write_text("Bonjour {{ person.first_name }},\n{% include '_note.txt' %}")
    set_up(store, settings, workdir, with_own_templates())
    send(store, settings, WRITTEN)

    _, text, markup = words(mails_to(settings, AMELIE)[0])
    assert text == f"Bonjour Amélie,\nNote: {TITLE}\n"
    assert 'data-frame="own"' in markup
    assert "<p>Bonjour Amélie,</p>" in markup  # the default French around the organiser's frame
    assert 'data-frame="own"' in words(mails_to(settings, SARAH)[0])[2]


def test_language_and_country_codes_are_the_ones_cldr_knows():
    assert validate.language("fj") == "fj"  # Fijian: CLDR names it, though it has no dates in it
    assert validate.language("sr-XK") == "sr-XK"  # Kosovo, which Zoom and the UN use
    assert validate.country("ic") == "IC"  # the Canary Islands, a territory of its own in CLDR
    for region in ("EU", "UN", "ZZ", "XA"):  # a union, an organisation, the unknown region, a pseudo-locale
        with pytest.raises(ValueError, match="not a two-letter country code"):
            validate.country(region)
    with pytest.raises(ValueError, match="not a language code"):
        validate.language("qa")


def test_a_language_without_templates_is_refused_in_the_definition_with_its_line(workdir):
    path = workdir / "webinar.toml"
    path.write_text(DEFINITION.replace("[reminders]", '[mail]\nlanguages = ["en", "de"]\n\n[reminders]'))

    with pytest.raises(InputError) as refused:
        load_definition(path)

    [problem] = refused.value.problems
    assert "mail.languages[1]" in str(problem)
    assert "there are no templates in 'de'" in str(problem)
    assert problem.line == DEFINITION.count("\n", 0, DEFINITION.index("[reminders]")) + 2
    assert "use one of en, fr" in problem.fix


# -- languages an organiser adds ----------------------------------------------------------------


def test_an_organisers_canadian_french_needs_only_what_differs_from_french(store, settings, workdir):
    own = workdir / "my-templates" / "fr-CA"
    own.mkdir(parents=True)
    (own / "confirmation.subject.txt").write_text(f"Votre inscription est confirmée{NBSP}: {{{{ webinar.title }}}}\n")
    webinar = set_up(store, settings, workdir, with_own_templates())
    send(store, settings, WRITTEN)

    [mail] = mails_to(settings, JEAN)
    subject, text, _ = words(mail)

    assert subject == f"Votre inscription est confirmée : {TITLE}"
    assert "Dimanche 28 mars 2021, 10 h 00–11 h 30, heure de Londres (UTC+1)" in text  # the rest: the French catalog
    assert "05 h 00–06 h 30, votre heure locale (America/Toronto)" in text
    assert event_of(mail)["DESCRIPTION"].startswith(f"Lien pour participer{NBSP}: ")
    assert words(mails_to(settings, AMELIE)[0])[0].startswith("Inscription confirmée : ")  # French of France
    composer, jean = Composer(webinar, settings), store.registrant(webinar.id, JEAN)
    assert composer.language_for(jean) == "fr-CA"
    assert composer.fast_render("confirmation", jean, WRITTEN) == composer.render("confirmation", jean, WRITTEN)


def test_brazilian_portuguese_templates_get_portuguese_dates(store, settings, workdir):
    own = english_templates_in(workdir / "my-templates" / "pt-BR")  # to be translated
    (own / "confirmation.subject.txt").write_text("Inscrição confirmada: {{ webinar.title }} ({{ when.day }})\n")
    people = PEOPLE + "joao.silva@example.org,João,Silva,America/Sao_Paulo,pt-BR\n"
    set_up(store, settings, workdir, with_own_templates(), people)
    send(store, settings, WRITTEN)

    subject, text, _ = words(mails_to(settings, "joao.silva@example.org")[0])

    assert subject == f"Inscrição confirmada: {TITLE} (domingo, 28 de março de 2021)"
    # Day and month from CLDR; the words around them are English until wording.py has Portuguese ones.
    assert "domingo, 28 de março de 2021, 10:00–11:30 London time (+1 GMT)" in text


@pytest.mark.parametrize("tag", ["fr", "fr-CA", "fr-BE", "fr-CH"])
def test_french_of_every_region_writes_the_french_words(tag):
    end = START + timedelta(minutes=90)

    def shown(text: str) -> str:
        return text.replace(NBSP, " ")

    assert shown(times.format_span(START, end, "Europe/London", language=tag)) == (
        "dimanche 28 mars 2021, 10 h 00–11 h 30, heure de Londres (UTC+1)"
    )
    assert shown(times.format_reader_span(START, end, "Europe/London", "America/Toronto", tag)) == (
        "05 h 00–06 h 30, votre heure locale (America/Toronto)"
    )
    assert times.describe_lead(timedelta(days=1), tag) == "demain"
    assert calendar_entry.details(None, None, tag) == "Le lien pour participer vous sera envoyé par courriel."


def test_a_language_folder_missing_templates_is_refused_when_the_webinar_is_added(run, workdir):
    own = workdir / "my-templates" / "es"
    own.mkdir(parents=True)
    (own / "confirmation.subject.txt").write_text("Inscripción confirmada: {{ webinar.title }}\n")
    (workdir / "webinar.toml").write_text(with_own_templates(), encoding="utf-8")
    assert run("init").code == 0

    added = run("webinar", "add", "webinar.toml")

    assert added.code == 2
    lacks = (
        "after.html, after.subject.txt, after.txt, awaiting.html, awaiting.subject.txt, awaiting.txt, "
        "briefing.html, briefing.subject.txt, briefing.txt, called_off.html"
    )
    assert f"my-templates/es: lacks {lacks}" in added.stderr
    assert "confirmation.txt, denial.html" in added.stderr
    assert "readers of es would get them in English" in added.stderr
    assert "or remove the folder, or list only complete languages in [mail] languages" in added.stderr
    (workdir / "webinar.toml").write_text(with_own_templates(languages_line='languages = ["en", "fr"]'))
    assert run("webinar", "add", "webinar.toml").code == 0  # Spanish not offered: its folder may wait


def test_a_language_cldr_has_no_dates_for_is_refused_when_the_webinar_is_added(workdir):
    english_templates_in(workdir / "my-templates" / "fj")  # Fijian, to be translated
    (workdir / "webinar.toml").write_text(with_own_templates(), encoding="utf-8")

    definition = load_definition(workdir / "webinar.toml")
    with pytest.raises(InputError) as refused:
        check_definition_templates(definition)  # as `webinar add` does

    [problem] = refused.value.problems
    assert problem.source.endswith("my-templates/fj")
    assert "dates and times cannot be written in 'fj'" in problem.message
    assert "or remove it" in problem.fix


def test_a_language_is_named_in_its_own_words_or_by_its_tag():
    assert languages.display_name("fr") == "Français"
    assert languages.display_name("fr-CA") == "Français (Canada)"
    assert languages.display_name("pt-BR") == "Português (Brasil)"
    assert languages.display_name("fj") == "fj"  # CLDR has no name for Fijian


# -- where a language comes from -----------------------------------------------------------------


def test_an_unknown_or_malformed_language_in_the_csv_is_an_input_error_naming_the_line(run, write):
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    write(
        "email,first_name,language\nana@example.org,Ana,pt-BR\nzoe@example.org,Zoé,français\nli@example.org,Li,fr-XX\n"
    )

    ran = run("registrants", "import", "undesa-snu-session-5", "people.csv")

    assert ran.code == 2
    assert "people.csv:3: language: 'français' is not a language code" in ran.stderr
    assert "people.csv:4: language: 'fr-XX' is not a language code: XX is not a country code" in ran.stderr
    assert ran.stderr.count("fix: use a language tag such as en, fr, fr-CA or en-GB, or leave it empty") == 2
    assert "people.csv:2" not in ran.stderr


def test_registrants_add_takes_a_language_and_preview_shows_the_mail_in_it(run):
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    added = run(
        "registrants", "add", "undesa-snu-session-5", "--email", "jean@example.org", "--first-name", "Jean",
        "--time-zone", "America/Toronto", "--language", "fr-CA",
    )  # fmt: skip
    assert added.code == 0, added.stderr

    french = run("preview", "undesa-snu-session-5", "--registrant", "jean@example.org", "--kind", "confirmation")
    english = run("preview", "undesa-snu-session-5", "--registrant", "jean@example.org", "--language", "en")

    assert french.code == 0, french.stderr
    assert "Language: fr" in french.stderr
    assert "Subject: Inscription confirmée" in french.stdout
    assert "Vendredi 30 avril 2021, 15 h 00–16 h 30, heure de Séoul (UTC+9)" in french.stdout.replace(NBSP, " ")
    assert "\n  02 h 00–03 h 30, votre heure locale (America/Toronto)\n" in french.stdout.replace(NBSP, " ")
    assert "Subject: Starts in 1 hour: " in english.stdout
    assert run("preview", "undesa-snu-session-5", "--language", "elvish").code == 2


def test_a_language_the_provider_holds_is_kept_for_people_who_registered_there(store, settings, webinar):
    class Zoom:
        name = "zoom"

        def registrants(self, webinar_id):
            yield RemoteRegistrant("marie@example.org", "Marie", "Dubois", "approved", "z1", language="fr-FR")

    pull_registrants(store, Zoom(), store.webinar(SLUG), WRITTEN, SyncReport())

    assert store.registrant(webinar.id, "marie@example.org").language == "fr-FR"
    assert (
        Composer(store.webinar(SLUG), settings).language_for(store.registrant(webinar.id, "marie@example.org")) == "fr"
    )


@pytest.mark.parametrize(
    ("zoom", "kept"),
    [("fr-FR", "fr-FR"), ("en-US", "en-US"), ("jp-JP", "ja-JP"), ("ko-KO", "ko"), ("Tr-TR", "tr-TR"), ("", None),
     (None, None), ("Klingon", None)],
)  # fmt: skip
def test_zoom_language_values_become_tags_or_nothing(zoom, kept):
    assert languages.from_provider(zoom) == kept


@pytest.mark.parametrize(
    ("tag", "written_in"), [("fr", "fr"), ("fr-CA", "fr"), ("fr-BE", "fr"), ("en-GB", "en"), ("es", "en"), (None, "en")]
)
def test_which_language_a_reader_gets(tag, written_in):
    assert languages.choose(tag, ("en", "fr"), fallback="en") == written_in


def test_the_first_of_the_month_is_written_the_french_way():
    first_of_may = datetime(2021, 5, 1, 12, 0, tzinfo=UTC)

    assert times.format_day(first_of_may, "Europe/Paris", "fr") == "samedi 1er mai 2021"
    assert times.format_day(first_of_may, "Europe/Paris") == "Saturday 1 May 2021"


def test_a_manual_reminder_is_in_french_too(store, settings, webinar):
    plan_manual(store, webinar, "reminder", WRITTEN, settings.mail_domain, to=AMELIE)
    send(store, settings, WRITTEN)

    subjects = [words(m)[0] for m in mails_to(settings, AMELIE)]

    assert f"Dans 8 jours : {TITLE}" in subjects


def test_other_languages_write_their_own_full_date():
    first_of_may = datetime(2021, 5, 1, 12, 0, tzinfo=UTC)

    assert times.format_day(first_of_may, "Europe/Madrid", "es") == "sábado, 1 de mayo de 2021"
    assert times.format_day(first_of_may, "Europe/Berlin", "de") == "Samstag, 1. Mai 2021"
    assert times.format_day(first_of_may, "America/Sao_Paulo", "pt-BR") == "sábado, 1 de maio de 2021"
    assert times.format_day(datetime(2021, 4, 30, 6, 0, tzinfo=UTC), "Asia/Seoul", "en") == "Friday 30 April 2021"


# -- how French writes -----------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["confirmation", "reminder", "update", "cancellation", "after"])
def test_french_keeps_a_no_break_space_before_its_colons(store, settings, webinar, template):
    amelie = store.registrant(webinar.id, AMELIE)
    was = {"start_at": "2021-03-28T08:00:00Z", "end_at": "2021-03-28T09:30:00Z", "time_zone": "Europe/London"}

    mail = Composer(webinar, settings).render(template, amelie, WRITTEN, 60, {"was": was | {"title": "Open Data"}})
    entry = calendar_entry.description(amelie.join_url, "dimanche 28 mars 2021", [], "fr")

    for text in (mail.text, mail.html, entry):  # (a subject's spaces are all plain: see validate.header_text)
        assert not re.findall(r".{0,30}\S [:;?!»]|« .{0,30}", text)


@pytest.mark.parametrize(
    ("zone_name", "label"),
    [
        ("Asia/Seoul", "heure de Séoul"),
        ("Africa/Accra", "heure d'Accra"),
        ("Asia/Irkutsk", "heure d'Irkoutsk"),
        ("Africa/Cairo", "heure du Caire"),
        ("America/Havana", "heure de La Havane"),
        ("America/Yakutat", "heure de Yakutat"),
        ("Atlantic/Azores", "heure des Açores"),
        ("Atlantic/Bermuda", "heure des Bermudes"),
        ("Indian/Maldives", "heure des Maldives"),
        ("Atlantic/Canary", "heure des îles Canaries"),
        ("Atlantic/Faroe", "heure des îles Féroé"),
        ("Europe/Isle_of_Man", "heure de l'île de Man"),
        ("Pacific/Easter", "heure de l'île de Pâques"),
        ("Indian/Christmas", "heure de l'île Christmas"),
        ("America/Jamaica", "heure de la Jamaïque"),
        ("America/Barbados", "heure de la Barbade"),
        ("Asia/Qatar", "heure du Qatar"),
    ],
)
def test_a_zone_is_named_with_the_article_french_gives_it(zone_name, label):
    assert times.zone_label(zone_name, "fr") == label


def test_no_zone_is_named_with_a_wrong_elision_or_article():
    from zoneinfo import available_timezones

    for zone_name in sorted(available_timezones()):
        label = times.zone_label(zone_name, "fr")
        assert not re.match(r"heure (d'[YyÎî]|de [AEIOUÀÂÉÈÊÎÏÔÛÜ]|de (Le|Les|La Barbade) )", label), label


def test_preview_shows_the_reminder_of_the_offset_asked_for(run, workdir):
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    assert run("webinar", "add", SAMPLE_DEFINITION, env=env).code == 0
    assert run("registrants", "add", SAMPLE_SLUG, "--email", "a@example.org", "--first-name", "A", env=env).code == 0
    subjects = {
        offset: run("preview", SAMPLE_SLUG, "--offset", offset, env=env).stdout.splitlines()[1]
        for offset in ("7d", "1d", "1h")
    }
    assert subjects["7d"].startswith("Subject: Starts in 7 days:")
    assert subjects["1d"].startswith("Subject: Tomorrow:")
    assert subjects["1h"].startswith("Subject: Starts in 1 hour:")
    refused = run("preview", SAMPLE_SLUG, "--offset", "2d", env=env)
    assert refused.code == 2
    assert "its reminders: 7d, 1d, 1h" in refused.stderr
