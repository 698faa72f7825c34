"""Rendering one template for many readers: once per kind of reader, then each reader's own
words written in.

The mails of a wave differ in a few values: the reader's name, address and join link, and
the "Add to calendar" links that carry it (their zone, language and how soon the webinar
starts are shared by many). When a template uses those values
only by printing them whole (`{{ person.first_name }}`, or as a value of a translated
message printed whole: `{{ _("Dear %(name)s,", name=person.first_name) }}`) or by testing
whether they are there (`{% if join_url %}`, `{{ join_url or "..." }}`), rendering it once
with a placeholder for
each value, then putting each reader's value (escaped, in HTML) in place of its placeholder,
gives the same text as rendering it for that reader. `prints_only` decides this from the
syntax trees of the template and of everything it includes or extends; a template that does
anything else with those values (a filter, a comparison, a macro) is rendered per reader.
`Stencil.check` confirms it again by rendering twice with different placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateError
from markupsafe import escape

from webinar_ops import calendar_entry

PERSON_VALUES = ("first_name", "last_name", "email")  # of `person`
LINK_VALUES = (
    "join_url",
    *calendar_entry.LINK_NAMES,
    "calendar_file_link",
    "unsubscribe_link",
    "cancel_link",
)  # the reader's own
VALUES = (*PERSON_VALUES, *LINK_VALUES)  # at most ten: a placeholder holds one digit
_PLACEHOLDER = re.compile("\ue000([0-9])\ue001")
# Nodes whose body's output may be changed after it is printed, or that hide where values go.
_OPAQUE = (
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.AssignBlock,
    nodes.Import,
    nodes.FromImport,
    nodes.ScopedEvalContextModifier,
    nodes.EvalContextModifier,
)
_HIDDEN_NAMES = frozenset({"self", "super", "caller", "varargs", "kwargs"})  # block and macro output
# Jinja's i18n calls: a translation depends on the language (part of the kind of reader), not on the reader.
_GETTEXT = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext"})


def placeholder(index: int) -> str:
    return f"\ue000{index}\ue001"


def prints_only(env: Environment, name: str) -> bool:
    """Whether template `name`, with everything it includes or extends, uses the readers' own
    values only by printing them whole or testing them for truth, and all in one escaping."""
    try:
        trees = dict(_closure(env, name))
    except (TemplateError, ValueError):
        return False
    autoescape = {_autoescapes(env, each) for each in trees}
    return len(autoescape) == 1 and all(_only_printed(tree) for tree in trees.values())


def _closure(env: Environment, name: str) -> Iterator[tuple[str, nodes.Template]]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source, filename, _ = env.loader.get_source(env, current)
        tree = env.parse(source, current, filename)
        yield current, tree
        for node in tree.find_all((nodes.Include, nodes.Extends)):
            if not (isinstance(node.template, nodes.Const) and isinstance(node.template.value, str)):
                raise ValueError("a template chosen while rendering")
            todo.append(node.template.value)


def _autoescapes(env: Environment, name: str) -> bool:
    autoescape = env.autoescape
    return bool(autoescape(name) if callable(autoescape) else autoescape)


def _only_printed(tree: nodes.Template) -> bool:
    if any(True for _ in tree.find_all(_OPAQUE)):
        return False
    return all(_allowed(node, parents) for node, parents in _walk(tree, ()))


def _walk(node: nodes.Node, parents: tuple) -> Iterator[tuple[nodes.Node, tuple]]:
    yield node, parents
    for child in node.iter_child_nodes():
        yield from _walk(child, (node, *parents[:2]))


def _allowed(node: nodes.Node, parents: tuple) -> bool:
    if isinstance(node, nodes.Name):
        if node.name in _HIDDEN_NAMES:
            return False
        if node.name == "person":
            parent = parents[0]
            return (
                node.ctx == "load"
                and isinstance(parent, nodes.Getattr)
                and parent.node is node
                and (parent.attr == "time_zone" or parent.attr in PERSON_VALUES)
            )
        if node.name in LINK_VALUES:
            return node.ctx == "load" and _printed_or_tested(node, parents)
        return True
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "person":
        return node.attr == "time_zone" or _printed_or_tested(node, parents)
    return True


def _printed_or_tested(value: nodes.Node, parents: tuple) -> bool:
    """Printed whole, or only its truth used (which is the same for the placeholder)."""
    parent, grandparent, above = (*parents, None, None, None)[:3]
    if isinstance(parent, nodes.Output | nodes.Not):
        return True
    if isinstance(parent, nodes.Keyword) and _printed_message(grandparent, above):
        return True  # `_("Dear %(name)s,", name=...)`: put whole into a message that is printed whole
    if isinstance(parent, nodes.If | nodes.CondExpr) and parent.test is value:
        return True
    if isinstance(parent, nodes.Or | nodes.And) and isinstance(grandparent, nodes.If) and grandparent.test is parent:
        return True  # `{% if a or link %}`: only the truth of each is used
    if isinstance(parent, nodes.CondExpr | nodes.Or | nodes.And):
        return isinstance(grandparent, nodes.Output)
    return False


def _printed_message(call: nodes.Node | None, parent: nodes.Node | None) -> bool:
    """A gettext call of constant messages (the count of ngettext aside), printed as it is:
    its values go whole into the message's `%(name)s`, escaped in HTML as printing would."""
    if not (isinstance(call, nodes.Call) and isinstance(call.node, nodes.Name) and call.node.name in _GETTEXT):
        return False
    messages = call.args[:2] if call.node.name in ("ngettext", "pgettext") else call.args[:1]
    if call.node.name == "npgettext":
        messages = call.args[:3]
    constant = bool(messages) and all(isinstance(m, nodes.Const) and isinstance(m.value, str) for m in messages)
    return constant and not call.dyn_args and not call.dyn_kwargs and isinstance(parent, nodes.Output)


@dataclass(frozen=True)
class Stencil:
    """A template rendered with placeholders, and whether its output is HTML."""

    rendered: str
    html: bool

    def fill(self, values: Mapping[int, str]) -> str:
        """The rendered text with each placeholder replaced by its value (escaped, in HTML)."""
        if self.html:
            return _PLACEHOLDER.sub(lambda m: str(escape(values[int(m.group(1))])), self.rendered)
        return _PLACEHOLDER.sub(lambda m: values[int(m.group(1))], self.rendered)


def make_stencil(env: Environment, name: str, render: Callable[[dict], str], context: dict) -> Stencil | None:
    """Template `name` rendered with placeholders for the readers' values in `context`, or
    None when it must be rendered for each reader. Checked by a second render with other
    stand-ins: if the output differs anywhere but where they stand, the template does more
    with them than print them."""
    if not prints_only(env, name):
        return None
    first = render(_stand_ins(context, placeholder))
    second = render(_stand_ins(context, lambda index: f"\ue002{'x' * (index + 3)}\ue003"))
    stencil = Stencil(first, _autoescapes(env, name))
    stand_ins = {index: f"\ue002{'x' * (index + 3)}\ue003" for index in range(len(VALUES))}
    if Stencil(first, False).fill(stand_ins) != second:
        return None
    return stencil


def _stand_ins(context: dict, stand_in: Callable[[int], str]) -> dict:
    """The context with each reader's value that is a non-empty string replaced by its stand-in."""
    person = dict(context["person"])
    for index, field in enumerate(PERSON_VALUES):
        if isinstance(person.get(field), str) and person[field]:
            person[field] = stand_in(index)
    links = {name: context.get(name) for name in LINK_VALUES if name in context}
    for name, value in links.items():
        if isinstance(value, str) and value:
            links[name] = stand_in(VALUES.index(name))
    return {**context, "person": person, **links}


def reader_values(context: dict) -> dict[int, str]:
    """The reader's own values, by placeholder number."""
    values = {index: context["person"].get(field) for index, field in enumerate(PERSON_VALUES)}
    values.update({VALUES.index(name): context.get(name) for name in LINK_VALUES})
    return {index: value for index, value in values.items() if isinstance(value, str) and value}


def kind_of_reader(context: dict) -> tuple:
    """What a stencil depends on: everything in the reader's context but their values
    themselves, of which only whether each is None, empty or a text."""

    def shape(value: object) -> object:
        return (type(value).__name__, bool(value)) if value is None or isinstance(value, str) else value

    person = context["person"]
    return (
        tuple(shape(person.get(field)) for field in PERSON_VALUES),
        person.get("time_zone"),
        tuple(shape(context.get(name)) for name in LINK_VALUES),
        *(_frozen(value) for key, value in sorted(context.items()) if key != "person" and key not in LINK_VALUES),
    )


def _frozen(value: object) -> object:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value
