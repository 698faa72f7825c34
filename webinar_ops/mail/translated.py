"""Template text translated once, when a template is compiled, not each time it renders.

The templates mark their sentences as `{{ _("Dear %(name)s,", name=person.first_name) }}`
(Jinja's i18n extension, newstyle gettext). Rendered as it is written, every such call goes
through the sandbox twice and formats its message anew, which doubled the cost of writing a
mail. An environment is made for one language, so its translations are known when a template
is compiled: this extension looks each message up then, and writes a call that stands alone
in its `{{ }}` as the text it gives, `Bonjour {{ person.first_name }},`, as if the template
had been written in that language. The output is the same: the translated text is trusted as
the template's own (it is Markup in an HTML template), and each value is printed as `{{ }}`
prints it, escaped in HTML, as newstyle gettext's `%` escapes it. The reader's values are
then printed whole, so a wave renders such a template from a stencil (stencil.py).

A message alone inside an expression (`{{ join_url or _("...") }}`) becomes its translated
text, marked safe as gettext marks it. Any other use (a message with values under a filter, a
translation that names a value it is not given or leaves one out, or holds a placeholder other
than `%(name)s`) is left to Jinja's i18n extension as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from gettext import NullTranslations

from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

_PLACEHOLDER = re.compile(r"%(?:\((\w+)\)s|(%))")  # `%(name)s` or `%%`; any other `%` is not for here
_GETTEXT_NAMES = frozenset({"_", "gettext"})


class TranslatedText(Extension):
    """Writes each standalone `{{ _("...", name=value) }}` as its translation in the
    environment's `message_catalog` (see the module's docstring)."""

    def __init__(self, environment: Environment):
        super().__init__(environment)
        environment.extend(message_catalog=NullTranslations())

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        """The template's tokens, each standalone message call replaced by its translation,
        and each call of a message alone (`_("Agenda")`) inside an expression by its
        translated text, marked safe as gettext marks it."""
        catalog = self.environment.message_catalog
        return _constants(list(_rewritten(list(stream), catalog)), catalog)


def _rewritten(tokens: list[Token], catalog: NullTranslations) -> Iterator[Token]:
    index = 0
    while index < len(tokens):
        token = tokens[index]
        end = _variable_end(tokens, index) if token.type == "variable_begin" else None
        written = _translated(tokens[index + 1 : end], catalog, token.lineno) if end is not None else None
        if written is None:
            yield token
            index += 1
            continue
        yield from written
        index = end + 1


def _constants(tokens: list[Token], catalog: NullTranslations) -> Iterator[Token]:
    """`_("message")` with no values, anywhere in an expression, as `("translation" | safe)`:
    the constant Jinja folds it to when it compiles the template."""
    index = 0
    while index < len(tokens):
        window = tokens[index : index + 4]
        after_dot = index > 0 and tokens[index - 1].type == "dot"
        if not after_dot and [t.type for t in window] == ["name", "lparen", "string", "rparen"]:
            pieces = _pieces(catalog.gettext(window[2].value)) if window[0].value in _GETTEXT_NAMES else None
            if pieces is not None and all(kind == "text" for kind, _ in pieces):
                text, lineno = "".join(piece for _, piece in pieces), window[0].lineno
                yield from _parenthesised(
                    [Token(lineno, "string", text), Token(lineno, "pipe", "|"), Token(lineno, "name", "safe")], lineno
                )
                index += 4
                continue
        yield tokens[index]
        index += 1


def _variable_end(tokens: list[Token], start: int) -> int | None:
    for index in range(start + 1, len(tokens)):
        if tokens[index].type == "variable_end":
            return index
    return None


def _translated(inner: list[Token], catalog: NullTranslations, lineno: int) -> list[Token] | None:
    """The tokens that write `_("message", name=value, ...)` translated, or None when `inner`
    is not exactly such a call or its translation cannot be written this way."""
    call = _message_call(inner)
    if call is None:
        return None
    message, values = call
    translation = catalog.gettext(message)
    pieces = _pieces(translation)
    if pieces is None or {name for kind, name in pieces if kind == "value"} != set(values):
        return None  # a value the translation leaves out would not be evaluated: let gettext do it
    written = []
    for kind, piece in pieces:
        if kind == "text":
            written.append(Token(lineno, "data", piece))
        else:
            begin, end = Token(lineno, "variable_begin", "{{"), Token(lineno, "variable_end", "}}")
            written += [begin, *_parenthesised(values[piece], lineno), end]
    return written


def _message_call(inner: list[Token]) -> tuple[str, dict[str, list[Token]]] | None:
    """(message, {name: the tokens of its value}) when `inner` is `_("message", name=value, ...)`."""
    if len(inner) < 4 or inner[0].type != "name" or inner[0].value not in _GETTEXT_NAMES:
        return None
    if inner[1].type != "lparen" or inner[2].type != "string" or inner[-1].type != "rparen":
        return None
    values: dict[str, list[Token]] = {}
    arguments = _split_arguments(inner[3:-1])
    if arguments is None:
        return None
    for argument in arguments:
        if len(argument) < 3 or argument[0].type != "name" or argument[1].type != "assign":
            return None
        values[argument[0].value] = argument[2:]
    return inner[2].value, values


def _split_arguments(tokens: list[Token]) -> list[list[Token]] | None:
    """The keyword arguments after the message, split at the commas outside brackets."""
    if not tokens:
        return []
    if tokens[0].type != "comma":
        return None
    arguments: list[list[Token]] = [[]]
    depth = 0
    for token in tokens[1:]:
        if token.type in ("lparen", "lbracket", "lbrace"):
            depth += 1
        elif token.type in ("rparen", "rbracket", "rbrace"):
            depth -= 1
        if token.type == "comma" and depth == 0:
            arguments.append([])
        else:
            arguments[-1].append(token)
    return [argument for argument in arguments if argument]  # a trailing comma leaves an empty one


def _pieces(translation: str) -> list[tuple[str, str]] | None:
    """The translation as ("text", ...) and ("value", name) pieces, or None when it holds a
    `%` that is neither `%(name)s` nor `%%`."""
    if "%" in _PLACEHOLDER.sub("", translation):
        return None
    pieces: list[tuple[str, str]] = []
    text, position = "", 0
    for match in _PLACEHOLDER.finditer(translation):
        text += translation[position : match.start()]
        position = match.end()
        if match.group(2):  # `%%`
            text += "%"
            continue
        pieces += [("text", text), ("value", match.group(1))]
        text = ""
    pieces.append(("text", text + translation[position:]))
    return [piece for piece in pieces if piece != ("text", "")]


def _parenthesised(tokens: list[Token], lineno: int) -> list[Token]:
    """A value's tokens in parentheses, so that it is printed as one expression."""
    return [Token(lineno, "lparen", "("), *tokens, Token(lineno, "rparen", ")")]
