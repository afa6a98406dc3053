"""``{% memo a b c %}…{% endmemo %}``: a fragment rendered once per distinct set of inputs, then
answered from this process's memory.

For the parts of dashboard pages that are the same bytes whenever their inputs are (a row of a
list, a chart, the sidebar): the template names every value the fragment is made of, and
the rendered fragment is kept under those values, with the active language and time zone
(they change the words, numbers and dates). **The key is the content**: a changed row is a
different key, so nothing is ever invalidated and a kept fragment is never stale; the least
recently used fragments go once a node holds ``ENTRIES``.

The rule the template keeps: the block reads nothing but the listed values (and what follows
from them alone: a row's URL from its id, an invoice's status label from its status). Values
are plain data (text, numbers, dates, booleans, None, and lists, tuples or dicts of them);
anything else is refused, as is a CSRF token inside the block (it is per response). Under
tests (``settings.TESTING``) every answer from memory is checked against a fresh render, so a
value missing from the key fails the test that changes it.

Each compiled template node keeps its own fragments, so an edited template starts afresh.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.template.base import FilterExpression, NodeList, Parser, Token, VariableNode
from django.template.defaulttags import CsrfTokenNode
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.safestring import SafeString

register = template.Library()

ENTRIES = 512
_PLAIN = (str, int, float, Decimal, dt.date, dt.time, dt.timedelta, bool, type(None))


_SCALARS = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime, dt.time})


def freeze(value: Any) -> Any:
    """A hashable form of ``value`` that tells apart what renders differently
    (``Decimal("1.0")`` and ``Decimal("1.00")``, ``1`` and ``True``, a ``str`` and a
    ``SafeString`` of the same text)."""
    kind = type(value)
    if kind in _SCALARS:
        return (kind, value)
    if kind is Decimal:
        return (kind, str(value))
    if kind is list or kind is tuple:
        return (tuple, tuple(map(freeze, value)))
    if kind is dict:
        return (dict, tuple((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, Promise):  # a lazy translation: its text in the active language
        return (str, str(value))
    if isinstance(value, _PLAIN):  # subclasses: SafeString, a TextChoices member…
        return (kind, str(value) if isinstance(value, Decimal) else value)
    if isinstance(value, (list, tuple)):
        return (tuple, tuple(map(freeze, value)))
    if isinstance(value, dict):
        return (dict, tuple((str(k), freeze(v)) for k, v in value.items()))
    raise TypeError(f"{{% memo %}} keys are plain values, not {kind.__name__}")


class MemoNode(template.Node):
    def __init__(self, nodelist: NodeList, values: list[FilterExpression]) -> None:
        self.nodelist = nodelist
        self.values = values
        # What the block rendered (already escaped: a SafeString), by key.
        self.fragments: OrderedDict[tuple, SafeString] = OrderedDict()
        self.lock = threading.Lock()

    def render(self, context: template.Context) -> SafeString:
        key = (
            translation.get_language(),
            timezone.get_current_timezone_name(),
            tuple(freeze(value.resolve(context)) for value in self.values),
        )
        with self.lock:
            kept = self.fragments.get(key)
            if kept is not None:
                self.fragments.move_to_end(key)
        if kept is not None:
            if settings.TESTING:
                fresh = self.nodelist.render(context)
                if fresh != kept:
                    raise AssertionError(
                        f"{{% memo %}} at {self.origin}:{self.token.lineno} gave a kept "
                        "fragment that differs from a fresh render: a value it reads is "
                        "missing from its key"
                    )
            return kept
        rendered = self.nodelist.render(context)
        with self.lock:
            self.fragments[key] = rendered
            if len(self.fragments) > ENTRIES:
                self.fragments.popitem(last=False)
        return rendered


@register.tag
def memo(parser: Parser, token: Token) -> MemoNode:
    values = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    if not values:
        raise template.TemplateSyntaxError("{% memo %} needs the values its block is made of")
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    per_response = nodelist.get_nodes_by_type(CsrfTokenNode) or [
        node
        for node in nodelist.get_nodes_by_type(VariableNode)
        if str(node.filter_expression.var).startswith(("csrf_token", "csp_nonce"))
    ]
    if per_response:
        raise template.TemplateSyntaxError(
            "{% memo %} cannot hold a CSRF token or CSP nonce (they are per response)"
        )
    return MemoNode(nodelist, values)
