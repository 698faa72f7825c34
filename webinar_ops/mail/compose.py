"""Composing mails: templates, times in two zones, the invite, and the MIME message.

A `Composer` is made once per webinar revision. Everything that is the same for every
recipient (the template environment, the agenda in the event's zone, the VTIMEZONE) is
prepared then; per message only the recipient's own parts are rendered.

`message_bytes` writes a mail: words from template stencils (stencil.py), the invite from its
stencil (invite.py), and the MIME message by mime.py, with the headers that are the same for
every reader written once per revision.

Templates are Jinja2, as text and HTML twins with the subject a template too:
`NAME.subject.txt`, `NAME.txt`, `NAME.html`, with NAME `confirmation` or `reminder`. A
definition may name its own folder (`[mail] templates`); a template found there replaces the
default of the same name. Each reader's mail is written in their language when the webinar
offers it (languages.py): the templates' sentences are marked with Jinja's i18n extension
(`{{ _("...") }}`) and translated by the language's catalog (webinar_ops/locale); an
organiser's `fr/` folder replaces the French of a template as it stands.
All templates render in Jinja2's sandbox, so an organiser's template cannot reach the host,
and data (names, titles) is only ever substituted, never evaluated as a template. HTML is
autoescaped.
"""

from __future__ import annotations

import json
import re
import textwrap
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, nodes, select_autoescape
from jinja2.exceptions import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from webinar_ops import calendar_entry, languages, times, tokens, validate, wording
from webinar_ops.config import Settings
from webinar_ops.definition import Contact, Definition, questions_for
from webinar_ops.errors import InputError, Problem
from webinar_ops.mail import kinds, mime, stencil
from webinar_ops.mail.invite import InviteBuilder
from webinar_ops.mail.translated import TranslatedText
from webinar_ops.signing import Signer
from webinar_ops.store import Registrant, SpeakerRecord, WebinarRecord

DEFAULT_TEMPLATES = languages.DEFAULT_TEMPLATES  # the English templates; other languages in folders in it
TEXT_WIDTH = 76
_BREAKABLE = re.compile("[\t\n\x0b\x0c\r ]")  # where textwrap may break a line
_REPLY_PURPOSES = ("registration", "general", "substantive", "technical")
SANDBOX_FIX = (
    "templates render in a sandbox: use only the values they are given, such as {{ person.first_name }}, "
    "{{ join_url }} and {{ webinar.title }}"
)
AUTOMATIC = b"Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: OOF, AutoReply\r\n"
ONE_CLICK = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"  # RFC 8058
INCLUDE_FIX = "include templates by their name in the organiser's folder or the default one, such as _details.txt"


class Letter(Protocol):
    """What composing reads of a delivery (outbox.Delivery has it, and so has the mail a
    preview shows, plan.PreviewMail)."""

    template: str
    offset_minutes: int | None
    details: str | None  # JSON: for an update, the revision the reader's calendar holds; for a follow-up, its version
    message_id: str


@dataclass(frozen=True)
class Rendered:
    """One mail's words: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def template_environment(
    custom_folder: str | None = None, language: str = languages.DEFAULT_LANGUAGE
) -> ImmutableSandboxedEnvironment:
    """The sandboxed Jinja2 environment: the organiser's folder first, then the defaults,
    each for `language` first (see languages.template_folders).

    Immutable, too: a template cannot change the lists and dicts it is given, which are shared
    by every recipient's render (one person's data must never reach the next one's mail)."""
    folders = languages.template_folders(custom_folder, language)
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader([_loader(folder) for folder in folders]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n", TranslatedText],
    )
    # The templates' sentences in `language`, from its catalog (babel.cfg extracts them the same
    # way): written into the templates as they are compiled where they can be (translated.py).
    words = wording.of(language)
    env.install_gettext_translations(words.catalog, newstyle=True)
    env.message_catalog = words.catalog
    env.filters["upper_first"] = wording.upper_first
    env.filters["line_start"] = words.line_start
    return env


def _loader(folder: languages.TemplateFolder) -> FileSystemLoader:
    return FileSystemLoader(folder.path) if folder.nested else _TopLevelLoader(folder.path)


class _TopLevelLoader(FileSystemLoader):
    """The templates at the top of a folder, not those in its subfolders: the default mail
    templates, translated, without the frame (`common/_page.html`) that an organiser's own
    folder may replace for every language."""

    def get_source(self, environment, template):
        if "/" in template:
            raise TemplateNotFound(template)
        return super().get_source(environment, template)


class TemplateRefused(InputError):
    """An organiser's template that cannot be rendered: it reaches past the sandbox, has a
    syntax error, names a value it is not given, or includes a template that does not exist.
    The problem names the file and the line; nothing was sent."""


def check_definition_templates(definition: Definition) -> None:
    """Refuse a webinar whose own templates (`[mail] templates`) cannot write its mails in
    each of its languages (check_templates), before it is added; the default ones are checked
    by the tests."""
    if definition.mail.templates:
        check_templates(definition.mail.templates, definition.languages_offered())


def check_templates(folder: str, offered: Iterable[str] | None = None) -> None:
    """Refuse an organiser's template folder before any mail is written from it: every
    template in it must parse, and none may reach for Python's internals (`__class__`,
    `__globals__` ...) or include a template that is not there. The sandbox refuses all of
    these while rendering too; this says so when the webinar is added, with file and line.
    Each `offered` language (default: every one with templates) must have every mail and
    dates CLDR can write (see _language_problems).
    Raises TemplateRefused listing every problem."""
    envs = {language: template_environment(folder, language) for language in languages.available(folder)}
    problems = []
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".txt", ".html")):
        # A template in `fr/` includes what a French mail would: its language's chain.
        env = envs.get(path.relative_to(root).parts[0], envs[languages.DEFAULT_LANGUAGE])
        try:
            tree = env.parse(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix(), str(path))
        except UnicodeDecodeError:
            problems.append(Problem(str(path), "is not UTF-8 text", fix="save the template as UTF-8"))
            continue
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(exc, str(path)))
            continue
        problems += [Problem(str(path), what, line=line, fix=fix) for line, what, fix in _reaching(tree, env)]
    problems += _language_problems(folder, languages.available(folder) if offered is None else offered)
    if problems:
        count = len(problems)
        raise TemplateRefused(f"The templates in {folder} have {count} problem{'s' if count > 1 else ''}:", problems)


def _language_problems(folder: str, offered: Iterable[str]) -> list[Problem]:
    """What would make a language's mails fail or come out half in English: a mail template
    it lacks (a Spanish subject over English text), and dates and times it cannot be written
    in, found by writing a probe of them now rather than when its first mail is sent."""
    problems = []
    for language in offered:
        where = str(Path(folder) / language)
        missing = languages.missing_templates(language, folder)
        if missing:
            fix = (
                f"add them (translated from the English ones in {DEFAULT_TEMPLATES}), or remove the folder, "
                "or list only complete languages in [mail] languages"
            )
            problems.append(
                Problem(where, f"lacks {', '.join(missing)}: readers of {language} would get them in English", fix=fix)
            )
        try:
            _write_probe(language)
        except (ValueError, LookupError) as exc:
            fix = "name the folder by a language CLDR knows (such as fr, fr-CA or pt-BR), or remove it"
            problems.append(Problem(where, f"dates and times cannot be written in {language!r}: {exc}", fix=fix))
    return problems


def _write_probe(language: str) -> None:
    """The words a mail in `language` takes from times.py and calendar_entry.py, written once."""
    start = datetime(2021, 5, 1, 6, 0, tzinfo=UTC)
    end = start + timedelta(minutes=90)
    times.format_span(start, end, "Asia/Seoul", language=language)
    times.format_reader_span(start, end, "Asia/Seoul", "America/Toronto", language)
    times.describe_lead(timedelta(days=1), language)
    calendar_entry.details(None, None, language)


def _reaching(tree: nodes.Template, env: ImmutableSandboxedEnvironment) -> Iterator[tuple[int, str, str]]:
    """(line, what, fix) for each place in a parsed template that reaches past what it is given:
    one per line for Python's internals (`''.__class__.__mro__` is one mistake, not two)."""
    lines = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            reach = f".{node.attr}"
        elif isinstance(node, nodes.Getitem) and _constant(node.arg).startswith("__"):
            reach = f"[{_constant(node.arg)!r}]"
        elif (
            isinstance(node, nodes.Filter) and node.name == "attr" and _constant(next(iter(node.args), None))[:1] == "_"
        ):
            reach = f"attr({_constant(node.args[0])!r})"
        else:
            continue
        if node.lineno not in lines:
            lines.add(node.lineno)
            yield node.lineno, f"`{reach}` reaches into Python's internals, which the sandbox refuses", SANDBOX_FIX
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        name = _constant(node.template)
        if not name or getattr(node, "ignore_missing", False):
            continue
        try:
            env.loader.get_source(env, name)
        except TemplateNotFound:
            yield node.lineno, _not_found(name), INCLUDE_FIX


def _not_found(name: str) -> str:
    return f"there is no template {name!r} in the organiser's folder or the default one"


def _constant(node: nodes.Node | None) -> str:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else ""


def _syntax_problem(exc: TemplateSyntaxError, where: str) -> Problem:
    return Problem(where, exc.message or "syntax error", line=exc.lineno, fix="check the {{ }} and {% %} tags there")


def _refusal(exc: Exception, template: str, context: dict) -> TemplateRefused:
    """A rendering error as the organiser's problem, at the template's file and line. The
    text never carries the reader's own links (`{% include join_url %}` would name one), nor
    the join link inside another link, percent-encoded."""
    if isinstance(exc, TemplateSyntaxError):
        problem = _syntax_problem(exc, exc.filename or template)
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith((".txt", ".html"))]
        where, line = (frames[-1].filename, frames[-1].lineno) if frames else (template, None)
        fix = SANDBOX_FIX
        if isinstance(exc, TemplateNotFound):
            what, fix = _not_found(str(exc.name)), INCLUDE_FIX
        elif isinstance(exc, SecurityError) or "'_" in _message(exc):  # also an attribute of what it refused
            what = f"{_message(exc).rstrip('.')}: it reaches into Python's internals, which the sandbox refuses"
        else:
            what = _message(exc) or type(exc).__name__
        problem = Problem(where, _concealed(what, context), line=line, fix=fix)
    return TemplateRefused(f"The template {template} cannot be rendered:", [problem])


def _concealed(text: str, context: dict) -> str:
    links = [context.get(name) for name in stencil.LINK_VALUES]
    if context.get("join_url"):
        links.append(quote(context["join_url"], safe=""))
    for link in links:
        text = tokens.conceal(text, link)
    return text


def _message(exc: Exception) -> str:
    return (exc.message if isinstance(exc, TemplateError) else str(exc)) or ""


class Composer:
    """Writes the mails of one webinar revision."""

    def __init__(
        self,
        webinar: WebinarRecord,
        settings: Settings,
        answers: Callable[[int], Mapping[str, str]] | None = None,
    ):
        """`answers` looks up a stored registrant's answers to the registration questions
        (Store.answers), which templates see as `person.answers`; None: nobody answered."""
        self.webinar = webinar
        self._answers_of = answers
        self.definition = webinar.definition
        self.env = template_environment(self.definition.mail.templates)  # English, the default
        self.languages = self.definition.languages_offered()
        self.fallback_language = languages.fallback_language(self.languages, self.definition.language)
        self._envs = {languages.DEFAULT_LANGUAGE: self.env}
        self.sender_name, self.sender_address = settings.sender
        self.reply_to = _reply_contact(self.definition.contacts, settings.mail_reply_to)
        self._shared_by_language: dict[str, dict[str, Any]] = {}
        self._local_times_by: dict[tuple[str, str], list[str]] = {}
        self._link_makers: dict[str, calendar_entry.LinkMaker] = {}
        self._frames: dict[tuple, mime.Frame] = {}
        self._secret_key = settings.secret_key
        self._base_url = settings.base_url.rstrip("/")
        self._stencils: dict[tuple, tuple[stencil.Stencil, ...] | None] = {}
        self._signer = Signer.from_settings(settings)  # None: DKIM is off

    @cached_property
    def speakers(self) -> SpeakerLetters:
        """The speakers' mails of this revision."""
        return SpeakerLetters(self)

    def speaker_message_bytes(
        self, delivery: Letter, speaker: SpeakerRecord, now: datetime, sign: bool = True
    ) -> bytes:
        """A speaker's message (see SpeakerLetters)."""
        return self.speakers.message_bytes(delivery, speaker, now, sign)

    @cached_property
    def invites(self) -> InviteBuilder:
        organizer_name, organizer_email = self.reply_to or (self.sender_name, self.sender_address)
        d = self.definition
        return InviteBuilder(
            uid=self.webinar.calendar_uid,
            sequence=self.webinar.revision,
            summary=d.title,
            start=d.start,
            end=d.end,
            time_zone=d.time_zone,
            organizer_email=organizer_email,
            organizer_name=organizer_name,
        )

    # -- words --------------------------------------------------------------------------

    def language_for(self, registrant: Registrant) -> str:
        """The language this registrant's mail is written in: theirs when the webinar offers
        it (`fr-CA` reads French), else the webinar's fallback (see languages.choose)."""
        return languages.choose(registrant.language, self.languages, self.fallback_language)

    def _env(self, language: str) -> ImmutableSandboxedEnvironment:
        if language not in self._envs:
            self._envs[language] = template_environment(self.definition.mail.templates, language)
        return self._envs[language]

    def _shared(self, language: str) -> dict[str, Any]:
        if language not in self._shared_by_language:
            self._shared_by_language[language] = self._shared_context(language)
        return self._shared_by_language[language]

    def render(
        self,
        template: str,
        registrant: Registrant,
        now: datetime,
        offset_minutes: int | None = None,
        details: dict | None = None,
    ) -> Rendered:
        """Render `template` for one registrant. `offset_minutes` is how long before the start
        a scheduled reminder goes; manual ones say how long is left at `now`. `details` are the
        delivery's own (for an update: the revision the reader's calendar holds)."""
        language = self.language_for(registrant)
        env = self._env(language)
        context = {**self._shared(language), **self._personal(registrant, now, offset_minutes, details, template)}
        name = f"{template}.subject.txt"
        try:
            subject = env.get_template(name).render(context)
            name = f"{template}.txt"
            text = env.get_template(name).render(context)
            name = f"{template}.html"
            html = env.get_template(name).render(context)
        except TemplateError as exc:
            raise _refusal(exc, name, context) from exc
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:  # a filter given the wrong value
            raise _refusal(exc, name, context) from exc
        return Rendered(subject=validate.header_text(subject), text=wrap_text(text), html=html)

    def fast_render(
        self,
        template: str,
        registrant: Registrant,
        now: datetime,
        offset_minutes: int | None = None,
        details: dict | None = None,
    ) -> Rendered:
        """The same words as `render`, from this kind of reader's stencils where the templates
        allow (see stencil.py): a wave renders each template once per kind of reader."""
        personal = self._personal(registrant, now, offset_minutes, details, template)
        stencils = self._stencils_for(template, personal)
        if stencils is None:
            return self.render(template, registrant, now, offset_minutes, details)
        values = stencil.reader_values(personal)
        subject, text, html = (s.fill(values) for s in stencils)
        return Rendered(subject=validate.header_text(subject), text=wrap_text(text), html=html)

    def _stencils_for(self, template: str, personal: dict) -> tuple[stencil.Stencil, ...] | None:
        language = personal["language"]  # part of the kind of reader: one stencil per language
        key = (template, stencil.kind_of_reader(personal))
        if key not in self._stencils:
            self._stencils[key] = self._make_stencils(template, {**self._shared(language), **personal}, language)
        return self._stencils[key]

    def _make_stencils(self, template: str, context: dict, language: str) -> tuple[stencil.Stencil, ...] | None:
        env = self._env(language)
        made = []
        for name in (f"{template}.subject.txt", f"{template}.txt", f"{template}.html"):
            try:
                made.append(stencil.make_stencil(env, name, env.get_template(name).render, context))
            except TemplateError:
                return None  # rendered per reader, where the error is reported as it should be
        return None if None in made else tuple(made)

    def _shared_context(self, language: str) -> dict[str, Any]:
        """What every reader of `language` is told, in that language's words."""
        d = self.definition
        zone = d.time_zone
        return {
            "html_lang": wording.primary(language),  # <html lang> of common/_page.html, the frame of every language
            "webinar": {
                "title": d.title,
                "series": d.series,
                "series_theme": d.series_theme,
                "session": d.session,
                "organisers": list(d.organisers),
                "description": d.description,
                "moderator": d.moderator.describe() if d.moderator else None,
                "registration_url": self.webinar.registration_url,
            },
            "when": {
                "event": times.format_span(d.start, d.end, zone, language=language),
                "day": times.format_day(d.start, zone, language),
                "zone_label": times.zone_label(zone, language),
            },
            "agenda": [
                {
                    "start": item.start,
                    "end": item.end,
                    "time": times.format_clock_span(item.start, item.end, zone, language),
                    "title": item.title,
                    "speakers": [speaker.describe() for speaker in item.speakers],
                }
                for item in d.agenda
            ],
            "questions": [{"part": g.part, "items": list(g.items)} for g in d.questions]
            if d.mail.include_questions
            else [],
            "readings": [{"title": r.title, "url": r.url} for r in d.readings] if d.mail.include_readings else [],
            "contacts": [
                {"purpose": c.purpose_label, "kind": c.purpose, "who": c.describe(), "email": c.email}
                for c in d.contacts
            ],
            "cancel_address": self.reply_to[1] if self.reply_to else self.sender_address,
            "cancellation": {"message": self.webinar.cancel_message} if self.webinar.cancelled_at else None,
        }

    def _personal(
        self,
        registrant: Registrant,
        now: datetime,
        offset_minutes: int | None,
        details: dict | None = None,
        template: str | None = None,
    ) -> dict[str, Any]:
        d = self.definition
        zone = registrant.time_zone
        local_zone = zone if zone and zone != d.time_zone else None
        lead = timedelta(minutes=offset_minutes) if offset_minutes is not None else d.start - now
        language = self.language_for(registrant)
        kind = kinds.KINDS.get(template)  # None: the words any mail shares (a page, a calendar)
        # A cancellation's reader has nothing left to join: a link in it would be a live door.
        join_url = self._join_link(registrant) if kind is None or kind.join_link else None
        calendar_links = kind is None or kind.calendar_links
        return {
            "language": language,
            "person": {
                "first_name": registrant.first_name,
                "last_name": registrant.last_name,
                "email": registrant.email,
                "time_zone": zone,
                "answers": self._answers(registrant),
            },
            "when_local": times.format_reader_span(d.start, d.end, d.time_zone, local_zone, language)
            if local_zone
            else None,
            "local_times": self._local_times(local_zone, language) if local_zone else None,
            "join_url": join_url,
            "join_is_personal": join_url is not None and _plain_link(registrant.join_url) is not None,
            **(self._calendar_links(join_url, language) if calendar_links else {}),
            "calendar_file_link": self.calendar_file_url(registrant) if calendar_links else None,
            # The link List-Unsubscribe has; a cancellation is the last mail, with nothing left to stop.
            "unsubscribe_link": self.unsubscribe_url(registrant) if kind is None or kind.unsubscribe else None,
            # Only where the kind says so: the reader's own way out, never on a page or in a calendar.
            "cancel_link": self.cancel_url(registrant) if kind is not None and kind.cancel_link else None,
            "starts_in": times.describe_lead(lead, language),
            "was": self._was((details or {}).get("was"), local_zone, language),
            "after": self._after_message(offset_minutes, details) if kind is kinds.AFTER else None,
            # The organiser's words to this reader with the denial of their request, if any.
            "denial": {"message": registrant.denial_message} if kind is kinds.DENIAL else None,
            "waitlist": {"place": (details or {}).get("place")} if kind is kinds.WAITLISTED else None,
        }

    def _answers(self, registrant: Registrant) -> dict[str, str]:
        """The reader's answers by question id (one cheap lookup, only when questions are asked)."""
        if self._answers_of is None or registrant.id is None or not self.definition.registration.questions:
            return {}
        return dict(self._answers_of(registrant.id))

    def _local_times(self, zone: str, language: str) -> list[str]:
        """The agenda's rows on the clocks of `zone`, made once per zone and language: a wave
        has thousands of readers in a few dozen zones."""
        key = (zone, language)
        if key not in self._local_times_by:
            start_day = times.in_zone(self.definition.start, zone).date()
            self._local_times_by[key] = [
                times.format_reader_clock_span(i["start"], i["end"], zone, start_day, language)
                for i in self._shared(language)["agenda"]
            ]
        return self._local_times_by[key]

    def _calendar_links(self, join_url: str | None, language: str) -> dict[str, str]:
        """The reader's "Add to calendar" links (see calendar_entry.py): they carry the join link."""
        if language not in self._link_makers:
            d = self.definition
            heading = ", ".join(part for part in (d.series, d.session) if part) or None
            self._link_makers[language] = calendar_entry.LinkMaker(d.title, d.start, d.end, heading, language)
        return self._link_makers[language].links(join_url)

    def _after_message(self, delay_minutes: int | None, details: dict | None) -> dict[str, Any] | None:
        """The after-message's words (note and links) and whom it is worded `to`: everyone,
        or those who attended or were absent. A version sent to everyone when attendance was
        not known in time (plan.py rule l) has its own words and everyone's wording."""
        details = details or {}
        to = details.get("to", "everyone")
        message = self.definition.after_message(delay_minutes, details.get("message", to))
        if message is None:
            return None
        return {key: getattr(message, key) for key in ("recording", "slides", "survey", "note")} | {"to": to}

    def _was(self, was: dict | None, local_zone: str | None, language: str) -> dict[str, Any] | None:
        """What an update replaces: the time (in the event's zone and the reader's) and the
        title that the reader's calendar holds."""
        if not was:
            return None
        d = self.definition
        start, end = times.parse_iso_utc(was["start_at"]), times.parse_iso_utc(was["end_at"])
        zone = was["time_zone"]
        return {
            "when": times.format_span(start, end, zone, language=language),
            "when_local": times.format_reader_span(start, end, zone, local_zone, language) if local_zone else None,
            "moved": (start, end, zone) != (d.start, d.end, d.time_zone),
            "title": was["title"] if was["title"] != d.title else None,
        }

    # -- the message --------------------------------------------------------------------

    def message_bytes(self, delivery: Letter, registrant: Registrant, now: datetime, sign: bool = True) -> bytes:
        """The message as sent over SMTP (CRLF line ends), written by mime.py: the reader's
        words and invite in this revision's shared headers, with a DKIM-Signature of exactly
        those bytes on top when DKIM is on (signing.py) and `sign` is true. A preview is not
        signed: a signed copy could be passed on as if the service had sent it."""
        to = mime.address_header("To", *_address(_full_name(registrant), _recipient(registrant.email)))
        method = _method(delivery)
        words = self.fast_render(delivery.template, registrant, now, delivery.offset_minutes, _details(delivery))
        unsubscribe_url = self.unsubscribe_url(registrant)
        invite = method and self._invite(registrant, now, self.invites.fast_invite, method)
        unsubscribe = mime.raw_header("List-Unsubscribe", self._list_unsubscribe(unsubscribe_url))
        listing = unsubscribe + (ONE_CLICK if unsubscribe_url else b"")
        return self.assembled(delivery, to, words, (invite, method), now, sign, listing)

    def assembled(
        self,
        delivery: Letter,
        to: bytes,
        words: Rendered,
        invite: tuple,
        now: datetime,
        sign: bool,
        listing: bytes = b"",
    ) -> bytes:
        """One reader's message from its parts: the shared headers around `to`, the reader's
        `words` and `invite` (the invite and its method, or None twice), `listing` (the
        unsubscribe headers, if the mail has them), signed when DKIM is on and `sign` is true."""
        head = b"".join(
            (
                self._from,
                to,
                self._reply_to,
                mime.text_header("Subject", words.subject),
                f"Date: {format_datetime(now)}\r\n".encode("ascii"),
                mime.fold("Message-ID", [delivery.message_id]),
                AUTOMATIC,
                listing,
                b"MIME-Version: 1.0\r\n",
            )
        )
        message = head + _body(words, *invite, _boundary_seed(delivery.message_id))
        return self._signer.sign(message) if self._signer and sign else message

    @cached_property
    def _from(self) -> bytes:
        return mime.address_header("From", *_address(self.sender_name, self.sender_address))

    @cached_property
    def _reply_to(self) -> bytes:
        return mime.address_header("Reply-To", *_address(*self.reply_to)) if self.reply_to else b""

    def _join_link(self, registrant: Registrant) -> str | None:
        """The person's own join link, else the webinar's: links come from the provider, so
        one that is not a plain http(s) link (a line break, markup, `javascript:`) is dropped."""
        return _plain_link(registrant.join_url) or _plain_link(self.webinar.join_url)

    def _invite(self, registrant: Registrant, now: datetime, write: Callable[..., bytes], method: str) -> bytes:
        """The person's invite, written by `write` (InviteBuilder.invite or .fast_invite). Its
        DESCRIPTION is in the reader's language; the rest (the title) is the programme's own.
        A CANCEL carries no join link: calendars find the entry by UID, and nobody should join."""
        join_url = None if method == "CANCEL" else self._join_link(registrant)
        language = self.language_for(registrant)
        shared = self._shared(language)
        agenda = [
            line
            for item in shared["agenda"]
            for line in (f"{item['time']}  {item['title']}", *(f"    {s}" for s in item["speakers"]))
        ]
        description = calendar_entry.description(join_url, shared["when"]["event"], agenda, language)
        return write(registrant.email, _full_name(registrant), join_url, description, now, method)

    def calendar_file_url(self, registrant: Registrant) -> str | None:
        """The registrant's invite.ics on the web (`serve` answers it), for calendars that
        take a file rather than a mail, or None for a registrant not in the database (a
        preview) or without a signing key."""
        if registrant.id is None or not self._secret_key:
            return None
        token = tokens.calendar_token(self._secret_key, registrant.id, registrant.email)
        return f"{self._base_url}/c/{token}/invite.ics"

    def invite_file(self, registrant: Registrant, now: datetime) -> bytes:
        """The registrant's invite: REQUEST, or CANCEL once the webinar is cancelled or their
        registration is no longer active; same UID and SEQUENCE, so a calendar keeps one entry."""
        active = registrant.is_active
        method = "REQUEST" if active and not self.webinar.cancelled_at else "CANCEL"
        return self._invite(registrant, now, self.invites.invite, method)

    def unsubscribe_url(self, registrant: Registrant) -> str | None:
        """The registrant's one-click unsubscribe link (`serve` answers it), or None for a
        registrant not in the database (a preview) or without a signing key."""
        if registrant.id is None or not self._secret_key:
            return None
        return f"{self._base_url}/u/{tokens.unsubscribe_token(self._secret_key, registrant.id, registrant.email)}"

    def cancel_url(self, registrant: Registrant) -> str | None:
        """The registrant's link to cancel their registration (`serve` answers it, asking
        before it cancels), or None for a preview's sample reader or without a signing key."""
        if registrant.id is None or not self._secret_key:
            return None
        return f"{self._base_url}/c/{tokens.cancel_token(self._secret_key, registrant.id, registrant.email)}"

    def _list_unsubscribe(self, url: str | None) -> str:
        """The List-Unsubscribe value: the one-click link and the mailto, folded after the
        comma when they do not fit one line (RFC 2369)."""
        mailto = f"<{self._unsubscribe_mailto()}>"
        if not url:
            return mailto
        one_line = f"<{url}>, {mailto}"
        return one_line if len(f"List-Unsubscribe: {one_line}") <= mime.MAX_LINE else f"<{url}>,\r\n {mailto}"

    def _unsubscribe_mailto(self) -> str:
        address = self.reply_to[1] if self.reply_to else self.sender_address
        return f"mailto:{address}?subject={quote('Unsubscribe ' + self.webinar.slug)}"


class SpeakerLetters:
    """The speakers' mails of one webinar revision (plan.py rule m): each speaker's own part
    (their items on the event's clock and theirs, the others of those items, the guiding
    questions of their part), the practice session, the contacts a speaker needs, their own
    panelist link and their own invite. Nothing in it is any other speaker's."""

    def __init__(self, composer: Composer):
        self.composer = composer
        self.definition = composer.definition
        self._people = {person.key: person for person in self.definition.speakers()}

    def language_for(self, speaker: SpeakerRecord) -> str:
        c = self.composer
        return languages.choose(speaker.language, c.languages, c.fallback_language)

    def render(
        self, template: str, speaker: SpeakerRecord, now: datetime, offset_minutes: int | None = None
    ) -> Rendered:
        """Render `template` (a speakers' kind) for one speaker."""
        language = self.language_for(speaker)
        env = self.composer._env(language)
        context = {**self.composer._shared(language), **self.context(template, speaker, now, offset_minutes, language)}
        name = f"{template}.subject.txt"
        try:
            subject = env.get_template(name).render(context)
            name = f"{template}.txt"
            text = env.get_template(name).render(context)
            name = f"{template}.html"
            html = env.get_template(name).render(context)
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise _refusal(exc, name, context) from exc
        return Rendered(subject=validate.header_text(subject), text=wrap_text(text), html=html)

    def context(
        self, template: str, speaker: SpeakerRecord, now: datetime, offset_minutes: int | None, language: str
    ) -> dict[str, Any]:
        """What one speaker is told, beyond what every reader of `language` is."""
        d = self.definition
        kind = kinds.of(template)
        local_zone = speaker.time_zone if speaker.time_zone and speaker.time_zone != d.time_zone else None
        lead = timedelta(minutes=offset_minutes) if offset_minutes is not None else d.start - now
        person = self._people.get(speaker.key)
        moderator = d.moderator.describe() if d.moderator and not (person and person.moderates) else None
        return {
            "language": language,
            "speaker": {"name": speaker.name, "time_zone": speaker.time_zone},
            "moderates": bool(person and person.moderates),
            "moderator": moderator,
            "when_local": times.format_reader_span(d.start, d.end, d.time_zone, local_zone, language)
            if local_zone
            else None,
            "part": [self._item(item, speaker.key, local_zone, language) for item in (person.items if person else ())],
            "practice": self._practice(local_zone, language),
            "contacts": _speakers_contacts(self.composer._shared(language)["contacts"]),
            "join_url": _plain_link(speaker.join_url) if kind.join_link else None,
            "starts_in": times.describe_lead(lead, language),
            "unsubscribe_link": None,
        }

    def _item(self, item, key: str, local_zone: str | None, language: str) -> dict[str, Any]:
        zone = self.definition.time_zone
        return {
            "title": item.title,
            "when": _moment_or_span(item.start, item.end, zone, None, language),
            "when_local": _moment_or_span(item.start, item.end, zone, local_zone, language) if local_zone else None,
            "minutes": int((item.end - item.start).total_seconds() // 60) if item.end else None,
            "others": [p.describe() for p in self._people.values() if p.key != key and item in p.items],
            "questions": [{"part": g.part, "asked": list(g.items)} for g in questions_for(self.definition, item)],
        }

    def _practice(self, local_zone: str | None, language: str) -> dict[str, str | None] | None:
        practice, zone = self.definition.practice, self.definition.time_zone
        if practice is None:
            return None
        return {
            "when": times.format_span(practice.start, practice.end, zone, language=language),
            "when_local": times.format_reader_span(practice.start, practice.end, zone, local_zone, language)
            if local_zone
            else None,
        }

    def invites(self, speaker: SpeakerRecord) -> InviteBuilder:
        """The speaker's own invite: a UID of theirs (never the audience's), derived from the
        webinar's and their key so it stays, and SEQUENCE their slot's revision."""
        c, d = self.composer, self.definition
        organizer_name, organizer_email = c.reply_to or (c.sender_name, c.sender_address)
        return InviteBuilder(
            uid=speaker_calendar_uid(c.webinar.calendar_uid, speaker.key),
            sequence=speaker.slot_revision,
            summary=d.title,
            start=d.start,
            end=d.end,
            time_zone=d.time_zone,
            organizer_email=organizer_email,
            organizer_name=organizer_name,
        )

    def invite(self, speaker: SpeakerRecord, now: datetime, method: str) -> bytes:
        """The speaker's invite: their items in its description, their link (none in a CANCEL)."""
        join_url = None if method == "CANCEL" else _plain_link(speaker.join_url)
        language = self.language_for(speaker)
        person = self._people.get(speaker.key)
        zone = self.definition.time_zone
        agenda = [
            f"{times.format_clock_span(item.start, item.end, zone, language)}  {item.title}"
            for item in (person.items if person else ())
        ]
        when = self.composer._shared(language)["when"]["event"]
        description = calendar_entry.description(join_url, when, agenda, language)
        return self.invites(speaker).invite(speaker.email, speaker.name, join_url, description, now, method)

    def message_bytes(self, delivery: Letter, speaker: SpeakerRecord, now: datetime, sign: bool = True) -> bytes:
        """The speaker's message, as `Composer.message_bytes` writes a registrant's: no
        unsubscribe (these are the organiser's working mails to a speaker), their own invite."""
        to = mime.address_header("To", *_address(speaker.name, _recipient(speaker.email)))
        method = _method(delivery)
        words = self.render(delivery.template, speaker, now, delivery.offset_minutes)
        invite = method and self.invite(speaker, now, method)
        return self.composer.assembled(delivery, to, words, (invite, method), now, sign)


def speaker_calendar_uid(webinar_uid: str, key: str) -> str:
    """A speaker's own calendar UID: stable for the webinar and the person, never the audience's."""
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, f'webinar-ops/{webinar_uid}/speaker/{key}')}@webinar-ops"


def _moment_or_span(start: datetime, end: datetime | None, zone: str, local_zone: str | None, language: str) -> str:
    """An item's time on the event's clock (`local_zone` None) or the speaker's."""
    if end is None:
        return times.format_moment(start, local_zone or zone, language)
    if local_zone is None:
        return times.format_span(start, end, zone, language=language)
    return times.format_reader_span(start, end, zone, local_zone, language)


def _speakers_contacts(contacts: list[dict]) -> list[dict]:
    """The contacts a speaker needs: the technical ones; without any, all but registration's."""
    for wanted in (lambda c: c["kind"] == "technical", lambda c: c["kind"] != "registration", lambda c: True):
        chosen = [c for c in contacts if wanted(c)]
        if chosen:
            return chosen
    return []


def _details(delivery: Letter) -> dict | None:
    return json.loads(delivery.details) if delivery.details else None


def _method(delivery: Letter) -> str | None:
    """The invite's iTIP method: a cancellation removes the event, a message after the end
    has no invite (None), anything else sets the event."""
    return kinds.of(delivery.template).invite_method


def _boundary_seed(message_id: str) -> str:
    """32 hex digits derived from the Message-ID, so the same mail always has the same
    boundaries (the email package would pick random ones)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, message_id).hex


def _body(words: Rendered, invite: bytes | None, method: str | None, seed: str) -> bytes:
    """The message's body: the text and the HTML as alternatives, and with an invite, the
    invite as a third alternative (calendars read it in place) and as an attachment (for
    mail programs that show only attachments), all in a multipart/mixed."""
    alternatives = [
        mime.leaf('text/plain; charset="utf-8"', *mime.text_body(words.text)),
        mime.leaf('text/html; charset="utf-8"', *mime.text_body(words.html)),
    ]
    if invite is None:
        return mime.multipart("alternative", f"=_{seed}_0", alternatives)
    encoded = mime.base64_body(invite)
    calendar = f'text/calendar; charset="utf-8"; method="{method}"; name="invite.ics"'
    attachment = 'attachment; filename="invite.ics"'
    return mime.multipart(
        "mixed",
        f"=_{seed}_0",
        (
            mime.multipart("alternative", f"=_{seed}_1", [*alternatives, mime.leaf(calendar, "base64", encoded)]),
            mime.leaf('application/ics; name="invite.ics"', "base64", encoded, disposition=attachment),
        ),
    )


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap long lines for a plain mail client, keeping each line's indent (and a bullet's
    hanging indent) and never breaking a link."""
    return "\n".join(_wrap_line(line, width) for line in text.splitlines()) + "\n"


@lru_cache(maxsize=4096)
def _wrap_line(line: str, width: int) -> str:
    # Cached: most lines (agenda, questions, readings) are the same in every mail of a wave.
    if len(line) <= width:
        return line if line == "-- " else line.rstrip()  # "-- " is the signature separator
    if not _BREAKABLE.search(line.strip()):  # one long word, such as a link: it stays as it is
        return line.rstrip()
    indent = re.match(r"\s*(?:[-*•] |\d+\. )?", line).group(0)
    return textwrap.fill(
        line.strip(),
        width=width,
        initial_indent=line[: len(line) - len(line.lstrip())],
        subsequent_indent=" " * len(indent),
        break_long_words=False,
        break_on_hyphens=False,
    )


def _reply_contact(contacts: tuple[Contact, ...], fallback: str | None) -> tuple[str | None, str] | None:
    """Who replies reach: the webinar's registration contact, else another contact, else MAIL_REPLY_TO."""
    for purpose in _REPLY_PURPOSES:
        for contact in contacts:
            if contact.purpose == purpose:
                return contact.name, contact.email
    return validate.mailbox(fallback) if fallback else None


@lru_cache(maxsize=64)  # each mail asks three times about its reader's link
def _plain_link(link: str | None) -> str | None:
    try:
        return validate.url(link) if link else None
    except ValueError:
        return None


def _full_name(registrant: Registrant) -> str:
    return " ".join(part for part in (registrant.first_name, registrant.last_name) if part)


def _recipient(address: str) -> str:
    """The registrant's address, checked again: a row that skipped the import's checks must
    not become a To header with a line break, a display name or a second address in it."""
    try:
        return validate.email_address(address)
    except ValueError as exc:
        raise ValueError(f"cannot write a mail to {validate.shown(address)}: {exc}") from exc


def _address(name: str | None, address: str) -> tuple[str, str]:
    """(display name, address) for a header: the name cleaned, so that it can never smuggle
    in a second address."""
    return validate.display_name(name or ""), address
