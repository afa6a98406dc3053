"""``{% portal_slot "name" %}``: render the templates other apps put in one of the portal's
slots (``portal.slots``), each in the page's context as an ``{% include %}`` would."""

from __future__ import annotations

from django import template
from django.template.base import Parser, Token

from crewcommand.lib.pagecache import hole_marker
from portal import slots

# Context flag: render each slot as a hole of the page cache (crewcommand.lib.pagecache).
HOLES = "portal_slot_holes"

register = template.Library()


class SlotNode(template.Node):
    def __init__(self, name: str) -> None:
        self.name = name

    def render(self, context: template.Context) -> str:
        if context.get(HOLES) and not slots.keyed(self.name):
            # A page rendered for the page cache: a slot whose state is not in the page's key
            # (``slots.fill(keyed=False)``) is filled live at every answer (views_portal).
            return hole_marker(f"slot:{self.name}")
        engine = context.template.engine
        parts = []
        for template_name in slots.templates(self.name):
            with context.push():
                parts.append(engine.get_template(template_name).render(context))
        return "".join(parts)


@register.tag
def portal_slot(parser: Parser, token: Token) -> SlotNode:
    bits = token.split_contents()
    name = bits[1][1:-1] if len(bits) == 2 and bits[1][:1] in "\"'" else ""
    if name not in slots.SLOTS:
        raise template.TemplateSyntaxError(f"{bits[0]} takes one known slot name, in quotes.")
    return SlotNode(name)
