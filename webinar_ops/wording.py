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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale

ENGLISH = "en"

# A count's words in each CLDR plural category of the language (`one`, `other`, and for some
# languages `zero`, `two`, `few`, `many`); `other` is the form for a category it lacks.
Plural = Mapping[str, str]


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
    plural_rules: str  # the language whose CLDR plural rules choose among the counts' forms below
    in_time: str  # a reminder's lead: `in {time}`, `dans {time}`
    tomorrow: str  # a lead of about a day
    in_one_hour: str  # a lead of exactly one hour, as the language says it: `dans une heure`
    in_one_minute: str
    minutes: Plural  # `{n} minute`, `{n} minutes`
    hours: Plural
    hours_and_minutes: str  # `{hours} {minutes}`: `1 hour 30 minutes`
    days: Plural
    months: Plural
    years: Plural
    join: str  # the first line of a calendar entry
    link_to_follow: str  # ... when there is no join link yet

    def count(self, forms: Plural, n: int) -> str:
        """`n` with the form of its unit that agrees with it: `1 month`, `3 months`; in French
        `1 an`, `2 ans`, and `0 minute` (French counts 0 as one)."""
        category = locale(self.plural_rules).plural_form(n)
        return forms.get(category, forms["other"]).format(n=n)


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
    plural_rules=ENGLISH,
    in_time="in {time}",
    tomorrow="tomorrow",
    in_one_hour="in 1 hour",
    in_one_minute="in 1 minute",
    minutes={"one": "{n} minute", "other": "{n} minutes"},
    hours={"one": "{n} hour", "other": "{n} hours"},
    hours_and_minutes="{hours} {minutes}",
    days={"one": "{n} day", "other": "{n} days"},
    months={"one": "{n} month", "other": "{n} months"},
    years={"one": "{n} year", "other": "{n} years"},
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
        plural_rules="fr",
        in_time="dans {time}",
        tomorrow="demain",
        in_one_hour="dans une heure",
        in_one_minute="dans une minute",
        minutes={"one": "{n} minute", "other": "{n} minutes"},
        hours={"one": "{n} heure", "other": "{n} heures"},
        hours_and_minutes="{hours} {minutes}",
        days={"one": "{n} jour", "other": "{n} jours"},
        months={"one": "{n} mois", "other": "{n} mois"},
        years={"one": "{n} an", "other": "{n} ans"},
        join="Lien pour participer\u00a0: {link}",
        link_to_follow="Le lien pour participer vous sera envoyé par courriel.",
    ),
}
# English words (counted by English plural rules: a Polish reader's `in 2 months`, not the form
# Polish rules would pick), the language's own dates
_OTHERS = dataclasses.replace(ENGLISH_WORDS, day=None)


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
