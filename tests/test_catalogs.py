"""The translations: one set of templates, and a gettext catalog per language.

`make catalogs` extracts the messages of the templates and the Python modules into
`webinar_ops/locale/messages.pot` (with babel.cfg), brings each language's `messages.po` up to
date with it and compiles its `messages.mo`. These tests fail when one of those steps was
skipped: an English sentence added without running it, a language that lacks a message or
holds a fuzzy one, a `.mo` older than its `.po`, a translation that lost a placeholder or a tag.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from gettext import NullTranslations
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from conftest import REPO
from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from webinar_ops import wording
from webinar_ops.mail.translated import TranslatedText

LOCALE = REPO / "webinar_ops" / "locale"
TEMPLATE = LOCALE / "messages.pot"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/messages.po"))
STALE = "run `make catalogs` and translate what it adds (docs/translating.md)"
TAG = re.compile(r"</?[a-z]+[^>]*>")


def read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def key(message: Message) -> tuple:
    """What identifies a message: its English (both forms of a count) and its context."""
    return (message.id if isinstance(message.id, tuple) else (message.id,), message.context)


def extracted() -> set[tuple]:
    """The messages the sources hold now, extracted as `make catalogs` extracts them."""
    with (REPO / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(REPO, method_map, options_map):
        found.add((message if isinstance(message, tuple) else (message,), context))
    return found


def messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def test_the_catalog_template_holds_every_message_of_the_templates_and_the_code():
    in_template = {key(message) for message in messages(read(TEMPLATE))}

    now = extracted()

    assert now - in_template == set(), f"messages.pot lacks these messages: {STALE}"
    assert in_template - now == set(), f"messages.pot holds messages no source has any more: {STALE}"


def test_french_is_a_catalog_and_the_only_folder_of_templates_is_the_english_one():
    assert [path.parent.parent.name for path in CATALOGS] == ["fr"]
    assert wording.catalog_languages() == ("fr",)
    assert not [p for p in (REPO / "templates").iterdir() if p.is_dir() and p.name != "common"]


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_each_catalog_translates_every_message_and_none_is_fuzzy(path):
    catalog = read(path)
    wanted = {key(message) for message in messages(read(TEMPLATE))}

    held = {key(message): message for message in messages(catalog)}

    assert wanted - set(held) == set(), f"{path.relative_to(REPO)} lacks messages: {STALE}"
    assert set(held) - wanted == set(), f"{path.relative_to(REPO)} holds obsolete messages: {STALE}"
    untranslated = [m.id for m in held.values() if not all(m.string if isinstance(m.string, tuple) else [m.string])]
    assert untranslated == [], f"{path.relative_to(REPO)} has messages without a translation"
    assert [m.id for m in held.values() if m.fuzzy] == [], f"{path.relative_to(REPO)} has fuzzy messages to check"


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_each_translation_keeps_the_placeholders_of_its_message(path):
    problems = [(message.id, [str(error) for error in errors]) for message, errors in read(path).check()]

    assert problems == []


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_each_translation_keeps_the_markup_of_its_message(path):
    for message in messages(read(path)):
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        translated = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in translated:
            assert Counter(TAG.findall(form)) == Counter(TAG.findall(english[0])), message.id


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_each_compiled_catalog_is_its_po_file_compiled(path):
    compiled = io.BytesIO()
    write_mo(compiled, read(path))

    assert path.with_suffix(".mo").read_bytes() == compiled.getvalue(), f"messages.mo is older than its .po: {STALE}"


def test_a_count_takes_the_form_the_languages_plural_rule_gives_it():
    english, french = wording.of("en"), wording.of("fr")

    assert [english.count("minutes", n) for n in (0, 1, 2)] == ["0 minutes", "1 minute", "2 minutes"]
    assert [french.count("years", n) for n in (0, 1, 2, 1_000_000)] == ["0 an", "1 an", "2 ans", "1000000 ans"]
    assert wording.of("fr-CA").count("hours", 3) == "3 heures"  # the French of France's catalog


def test_a_language_without_a_catalog_reads_the_english_words_with_its_own_dates():
    spanish = wording.of("es")

    assert spanish.tomorrow == "tomorrow"
    assert spanish.day is None  # CLDR's full date: `sábado, 1 de mayo de 2021`
    assert spanish.line_start("sábado") == "sábado"
    assert wording.of("fr").line_start("samedi 1er mai") == "Samedi 1er mai"


# -- messages written into the templates when they are compiled (webinar_ops/mail/translated.py) --


class Messages(NullTranslations):
    """A catalog in a dict: message -> translation."""

    def __init__(self, translations: dict[str, str]):
        super().__init__()
        self.translations = translations

    def gettext(self, message: str) -> str:
        return self.translations.get(message, message)


MESSAGES = Messages(
    {
        "Dear %(name)s,": "Bonjour %(name)s,",
        "Agenda": "Programme <b>&</b>",
        "100%% sure": "sûr à 100%%",
        "%(a)s and %(b)s": "%(b)s et %(a)s, %(a)s",
        "Title: %(title)s": "Titre",  # a translation that leaves the value out
        "Odd %(n)d": "Bizarre %(n)d",
    }
)
SOURCES = [
    "{{ _('Dear %(name)s,', name=person.first_name) }}",
    "{{ _('Agenda') }} {{ x or _('Agenda') }} {% if _('Agenda') == 'Programme <b>&</b>' %}same{% endif %}",
    "{{ _('100%% sure') }}",
    "{{ _('%(a)s and %(b)s', a=person.first_name, b=items[1], ) }}",
    "{{ _('Title: %(title)s', title=person.first_name) }}",
    "{{ _('Odd %(n)d', n=3) }}",
    "{{ _('Dear %(name)s,', name=person.first_name) | upper }} {{ gettext('Agenda') }} {{ _('Unknown') }}",
    "{% trans name=person.first_name %}Dear {{ name }},{% endtrans %}",
]


def environment(autoescape: bool, written: bool) -> ImmutableSandboxedEnvironment:
    extensions = ["jinja2.ext.i18n", TranslatedText] if written else ["jinja2.ext.i18n"]
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, extensions=extensions, undefined=StrictUndefined)
    env.install_gettext_translations(MESSAGES, newstyle=True)
    env.message_catalog = MESSAGES
    return env


@pytest.mark.parametrize("source", SOURCES, ids=range(len(SOURCES)))
@pytest.mark.parametrize("autoescape", [True, False], ids=["html", "text"])
def test_a_message_written_into_the_template_renders_as_gettext_renders_it(source, autoescape):
    values = {"person": {"first_name": "Zoë <i>&"}, "items": ["a", "<b>"], "x": None}

    written = environment(autoescape, written=True).from_string(source).render(values)

    assert written == environment(autoescape, written=False).from_string(source).render(values)


def test_a_message_that_stands_alone_is_text_of_the_compiled_template():
    env = environment(autoescape=True, written=True)

    tree = env.parse("<p>{{ _('Dear %(name)s,', name=person.first_name) }}</p>{{ _('Agenda') }}")

    assert not list(tree.find_all(nodes.Call)), "no gettext call is left to make while rendering"
    assert env.from_string("{{ _('Dear %(name)s,', name=who) }}").render(who="<Zoë>") == "Bonjour &lt;Zoë&gt;,"
