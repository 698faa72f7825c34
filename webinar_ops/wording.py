"""The few words of a mail that its templates do not hold, in each language, from its catalog.

Templates hold a mail's sentences; the words here are filled into them: how a clock time, a
time zone, "your time" and a reminder's lead are written (times.py), and the join line of a
calendar entry (calendar_entry.py). Day and month names and the `GMT+9`/`UTC+9` of an offset
come from CLDR (Babel) for every language.

The words are messages of the same gettext catalogs as the templates' sentences
(`webinar_ops/locale/LANG/LC_MESSAGES/messages.po`, see docs/translating.md): the English
here is the message, a catalog holds its translation, and a count's form follows the
catalog's plural rule. A tag reads its primary language's catalog when it has none of its own
(`fr-CA` and `fr-BE` read French). A language without a catalog reads English words, with
its own CLDR dates (`sábado, 1 de mayo de 2021`), counted by English rules. Adding a language
is one `.po` file; only French needs a little grammar of its own here (`french_place`).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale

ENGLISH = "en"
LOCALE_FOLDER = Path(__file__).resolve().parent / "locale"  # LANG/LC_MESSAGES/messages.mo, as gettext finds them
DOMAIN = "messages"


def upper_first(text: str) -> str:
    """The text with its first letter in capitals and the rest as it is: a French date opens
    a line as `Vendredi 30 avril 2021` (str.capitalize would write `séoul` further on)."""
    return text[:1].upper() + text[1:]


def as_written(text: str) -> str:
    """The text unchanged: a place as a language's zone words take it when they need no grammar."""
    return text


@dataclass(frozen=True)
class Wording:
    """One language's words, as its catalog has them; `%(name)s` are filled in."""

    catalog: gettext.NullTranslations  # the language's messages: English where it has none
    translated: bool  # English, or a language with a catalog: its own words, places and capitals
    day: str | None  # the CLDR pattern of a date; None: the language's own "full" date
    first_of_month: str  # how the 1st is written in a date (French `1er`)
    clock: str  # strftime pattern of a time of day: `15:00`, `15 h 00`
    place: Callable[[str], str]  # a place's name as the zone's words take it (French: `de Séoul`)
    places_from_cldr: bool  # the place named as the language names it (`Séoul`), or as the zone ID does
    zone: str  # a zone's place as its time: `%(place)s time`
    with_zone: str  # a time and its zone: `15:00–16:30 Seoul time`, `15 h 00–16 h 30, heure de Séoul`
    your_time: str  # the reader's own clock
    in_time: str  # a reminder's lead: `in %(time)s`
    tomorrow: str  # a lead of about a day
    in_one_hour: str  # a lead of exactly one hour, as the language says it: `dans une heure`
    in_one_minute: str
    hours_and_minutes: str  # `1 hour 30 minutes`
    join: str  # the first line of a calendar entry
    link_to_follow: str  # ... when there is no join link yet

    def line_start(self, text: str) -> str:
        """`text` as it opens a line: with a capital in a translated language (`Dimanche 28
        mars`); as CLDR writes it in the others, whose templates are the organiser's own."""
        return upper_first(text) if self.translated else text

    def count(self, unit: str, n: int) -> str:
        """`n` with the form of its unit that agrees with it, by the catalog's plural rule:
        `1 month`, `3 months`; in French `1 an`, `2 ans`, and `0 minute` (French counts 0 as one)."""
        ngettext = self.catalog.ngettext
        forms = {
            "minutes": lambda: ngettext("%(num)d minute", "%(num)d minutes", n),
            "hours": lambda: ngettext("%(num)d hour", "%(num)d hours", n),
            "days": lambda: ngettext("%(num)d day", "%(num)d days", n),
            "months": lambda: ngettext("%(num)d month", "%(num)d months", n),
            "years": lambda: ngettext("%(num)d year", "%(num)d years", n),
        }
        return forms[unit]() % {"num": n}


def french_place(place: str) -> str:
    """A place as French names its time, with the article, elision or contraction it wants:
    `de Séoul`, `d'Accra`, `du Caire`, `des Açores`, `de la Jamaïque`, `de l'île de Man`,
    `de Yakutat` (a `y` that is heard is not elided); the catalog's `heure %(place)s` holds it."""
    if place in _FRENCH_PLACES:
        return _FRENCH_PLACES[place]
    if place.startswith("Le "):
        return f"du {place[3:]}"
    if place.startswith("Les "):
        return f"des {place[4:]}"
    if place.startswith("Îles "):
        return f"des îles {place[5:]}"
    if place.startswith("Île "):
        return f"de l'île {place[4:]}"
    if place[:1].lower() in "aeiouàâäéèêëîïôöùûü":
        return f"d'{place}"
    return f"de {place}"


# CLDR's French exemplar cities of zones that are islands, archipelagos or countries, which
# French names with an article (found by walking every zone: see tests/test_languages.py).
_FRENCH_PLACES = {
    # archipelagos, plural: `les Açores`
    "Açores": "des Açores",
    "Bermudes": "des Bermudes",
    "Caïmans": "des îles Caïmans",
    "Chagos": "des Chagos",
    "Chatham": "des îles Chatham",
    "Cocos": "des îles Cocos",
    "Comores": "des Comores",
    "Fidji": "des Fidji",
    "Galápagos": "des Galápagos",
    "Gambier": "des îles Gambier",
    "Kerguelen": "des Kerguelen",
    "Maldives": "des Maldives",
    "Malouines": "des Malouines",
    "Marquises": "des Marquises",
    "Midway": "des îles Midway",
    "Palaos": "des Palaos",
    # islands named after something else: `l'île Christmas`
    "Christmas": "de l'île Christmas",
    "Norfolk": "de l'île Norfolk",
    "Wake": "de l'île de Wake",
    # countries and islands with their article: `la Jamaïque`, `le Qatar`
    "Belize": "du Belize",
    "Cap-Vert": "du Cap-Vert",
    "Costa Rica": "du Costa Rica",
    "Dominique": "de la Dominique",
    "El Salvador": "du Salvador",
    "Grenade": "de la Grenade",
    "Guadeloupe": "de la Guadeloupe",
    "Guyana": "du Guyana",
    "Géorgie du Sud": "de la Géorgie du Sud",
    "Jamaïque": "de la Jamaïque",
    "La Barbade": "de la Barbade",
    "Martinique": "de la Martinique",
    "Qatar": "du Qatar",
}


# Grammar a pattern cannot hold: how a language's place names enter its zone's words.
PLACE_FORMS = {"fr": french_place}


def catalog_languages() -> tuple[str, ...]:
    """The languages that have a compiled catalog, as tags (`fr`, `pt-BR`), sorted."""
    return _catalog_languages()


@lru_cache(maxsize=1)
def _catalog_languages() -> tuple[str, ...]:
    # Cached: the shipped catalogs do not change while a process runs.
    if not LOCALE_FOLDER.is_dir():
        return ()
    found = (
        p.name.replace("_", "-") for p in LOCALE_FOLDER.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()
    )
    return tuple(sorted(found))


def has_catalog(language: str) -> bool:
    """Whether `language` or its primary language has a catalog: `fr-CA` has French's."""
    shipped = catalog_languages()
    return language in shipped or primary(language) in shipped


@lru_cache(maxsize=32)
def catalog(language: str) -> gettext.NullTranslations:
    """The messages of `language` (a tag such as `fr` or `fr-CA`): its own catalog, falling
    back to its primary language's; English (the messages themselves) when it has neither."""
    names = [tag.replace("-", "_") for tag in dict.fromkeys((language, primary(language))) if tag != ENGLISH]
    if not names or not has_catalog(language):
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_FOLDER, languages=names, fallback=True)


@lru_cache(maxsize=32)
def of(language: str) -> Wording:
    """The words of `language` (a tag such as `fr` or `fr-CA`), from its catalog."""
    messages = catalog(language)
    _ = messages.gettext
    translated = primary(language) == ENGLISH or has_catalog(language)
    return Wording(
        catalog=messages,
        translated=translated,
        # Translators: how a date is written, as a CLDR pattern: EEEE the day of the week, d the day,
        # MMMM the month, y the year (https://cldr.unicode.org/translation/date-time/date-time-patterns).
        day=_("EEEE d MMMM y") if translated else None,
        # Translators: the first day of a month as it is written in a date (French: 1er).
        first_of_month=messages.pgettext("the first day of a month", "1"),
        # Translators: a time of day, as a strftime pattern: %H the hour (00-23), %M the minutes.
        clock=_("%H:%M"),
        place=PLACE_FORMS.get(primary(language), as_written),
        places_from_cldr=translated and primary(language) != ENGLISH,  # English: the zone ID's `Buenos Aires`
        # Translators: a time zone named by its city: Seoul time.
        zone=_("%(place)s time"),
        # Translators: a time or span of times and the zone it is in: 15:00–16:30 Seoul time (GMT+9).
        with_zone=_("%(time)s %(zone)s"),
        # Translators: the reader's own clock; %(zone)s is a time zone ID such as Europe/Paris.
        your_time=_("your time (%(zone)s)"),
        # Translators: how soon a webinar starts: in 3 days, in 1 hour 30 minutes.
        in_time=_("in %(time)s"),
        tomorrow=_("tomorrow"),
        in_one_hour=_("in 1 hour"),
        in_one_minute=_("in 1 minute"),
        # Translators: a lead of hours and minutes: 1 hour 30 minutes.
        hours_and_minutes=_("%(hours)s %(minutes)s"),
        # Translators: the first line of a calendar entry, with the join link.
        join=_("Join: %(link)s"),
        link_to_follow=_("The join link will follow by mail."),
    )


def joining_as_panelist(language: str) -> str:
    """What a speaker's own join page says of how they join, in `language` (a tag)."""
    # Translators: on a speaker's own join page; a panelist can speak and be seen, an attendee cannot.
    return catalog(language).gettext("You join as a panelist, not as an attendee.")


def primary(tag: str) -> str:
    """`fr` for `fr-CA`: the language without its script or region."""
    return tag.split("-", 1)[0].lower()


@lru_cache(maxsize=32)
def locale(language: str) -> Locale:
    """Babel's locale for a tag as webinar-ops writes them (`fr-CA`, not Babel's `fr_CA`); the
    primary language's when CLDR has no data for the region (`fr-US`). Raises ValueError for a
    language CLDR does not know at all: its dates could not be written."""
    from babel import Locale, UnknownLocaleError  # imported when first needed: the command line starts faster

    for candidate in dict.fromkeys((language, primary(language))):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    raise ValueError(f"CLDR (Babel) has no dates and times in {language!r}")
