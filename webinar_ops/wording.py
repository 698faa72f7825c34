"""The few words of a mail that its templates do not hold, in each language.

Templates hold a mail's sentences; the words here are filled into them: how a clock time, a
time zone, "your time" and a reminder's lead are written (times.py), and the join line of a
calendar entry (calendar_entry.py). Day and month names and the `GMT+9`/`UTC+9` of an offset
come from CLDR (Babel) for every language.

Words are looked up by primary language: `fr-CA` and `fr-BE` read the French ones. A language
without words of its own here reads the English ones, with its own CLDR dates (`sábado, 1 de
mayo de 2021`). Adding a language's words is one entry in WORDS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale

ENGLISH = "en"


def upper_first(text: str) -> str:
    """The text with its first letter in capitals and the rest as it is: a French date opens
    a line as `Vendredi 30 avril 2021` (str.capitalize would write `séoul` further on)."""
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Wording:
    """One language's words; `{n}`, `{zone}` and `{link}` are filled in."""

    day: str | None  # the CLDR pattern of a date; None: the language's own "full" date
    first_of_month: str | None  # how the 1st is written in a date, when not `1` (French `1er`)
    clock: str  # strftime pattern of a time of day: `15:00`, `15 h 00`
    zone: Callable[[str], str]  # a zone's place name as its time: `Seoul time`, `heure de Séoul`
    zone_places_from_cldr: bool  # the place named as the language names it (`Séoul`), or as the zone ID does
    zone_joiner: str  # between a time span and its zone: `15:00–16:30 Seoul time`
    your_time: str  # the reader's own clock
    tomorrow: str
    in_days: str
    in_one_hour: str
    in_hours: str
    in_one_minute: str
    in_minutes: str
    join: str  # the first line of a calendar entry
    link_to_follow: str  # ... when there is no join link yet


def heure_de(place: str) -> str:
    """A place's time in French, with the article, elision or contraction French wants:
    `heure de Séoul`, `heure d'Accra`, `heure du Caire`, `heure des Açores`, `heure de la
    Jamaïque`, `heure de l'île de Man`, `heure de Yakutat` (a `y` that is heard is not elided)."""
    if place in _FRENCH_PLACES:
        return f"heure {_FRENCH_PLACES[place]}"
    if place.startswith("Le "):
        return f"heure du {place[3:]}"
    if place.startswith("Les "):
        return f"heure des {place[4:]}"
    if place.startswith("Îles "):
        return f"heure des îles {place[5:]}"
    if place.startswith("Île "):
        return f"heure de l'île {place[4:]}"
    if place[:1].lower() in "aeiouàâäéèêëîïôöùûü":
        return f"heure d'{place}"
    return f"heure de {place}"


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

ENGLISH_WORDS = Wording(
    day="EEEE d MMMM y",  # `Friday 30 April 2021`
    first_of_month=None,
    clock="%H:%M",
    zone="{} time".format,
    zone_places_from_cldr=False,  # the zone ID's own English: `Buenos Aires time`
    zone_joiner=" ",
    your_time="your time ({zone})",
    tomorrow="tomorrow",
    in_days="in {n} days",
    in_one_hour="in 1 hour",
    in_hours="in {n} hours",
    in_one_minute="in 1 minute",
    in_minutes="in {n} minutes",
    join="Join: {link}",
    link_to_follow="The join link will follow by mail.",
)

WORDS = {
    ENGLISH: ENGLISH_WORDS,
    # French as CLDR's fr-CA and French typography write it: `15 h 00`, `vendredi 30 avril 2021`,
    # a no-break space (U+00A0) inside each time and before a colon.
    "fr": Wording(
        day="EEEE d MMMM y",
        first_of_month="1er",  # le premier du mois: `samedi 1er mai 2021`
        clock="%H\u00a0h\u00a0%M",
        zone=heure_de,
        zone_places_from_cldr=True,
        zone_joiner=", ",
        your_time="votre heure locale ({zone})",
        tomorrow="demain",
        in_days="dans {n} jours",
        in_one_hour="dans une heure",
        in_hours="dans {n} heures",
        in_one_minute="dans une minute",
        in_minutes="dans {n} minutes",
        join="Lien pour participer\u00a0: {link}",
        link_to_follow="Le lien pour participer vous sera envoyé par courriel.",
    ),
}
_OTHERS = dataclasses.replace(ENGLISH_WORDS, day=None)  # English words, the language's own dates


def of(language: str) -> Wording:
    """The words of `language` (a tag such as `fr` or `fr-CA`), by its primary language."""
    return WORDS.get(primary(language), _OTHERS)


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
