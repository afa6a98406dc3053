"""Everything a customer reads exists in Canadian French, and stays so.

The checks themselves (which templates and modules are customer-facing, how marked strings are
found) are in ``tests/i18n_check.py``; see README, "Translations"."""

from __future__ import annotations

import gettext

import pytest
from babel.messages.pofile import read_po

from tests import i18n_check


def test_customer_templates_have_no_unmarked_text():
    problems = i18n_check.unmarked_text()
    assert not problems, "Unmarked text in customer-facing templates:\n" + "\n".join(problems)


def test_fr_catalogue_translates_every_customer_string():
    problems = i18n_check.catalogue_problems()
    assert not problems, (
        "fr-CA catalogue (run makemessages, translate, compilemessages):\n" + "\n".join(problems)
    )


def test_compiled_catalogue_matches_the_po_file():
    """The .mo is committed (no gettext tools needed to build or run): it must say what the
    .po says, so an edit of the .po without compilemessages fails here."""
    with i18n_check.CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    with i18n_check.COMPILED.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not message.id or message.fuzzy or not all(strings):
            continue
        if isinstance(message.id, tuple):
            got = compiled.ngettext(message.id[0], message.id[1], 1)
            want = message.string[0]
        else:
            key = f"{message.context}\x04{message.id}" if message.context else message.id
            got, want = compiled.gettext(key), message.string
        if got != want:
            stale.append(message.id)
    assert not stale, f"{len(stale)} entries differ: run python manage.py compilemessages"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ('{% translate "Pay" %} <b>{{ amount }}</b>', []),
        ("<p>Pay now</p>", ["Pay", "now"]),
        ('<img alt="Logo" src="{{ x }}">', ["Logo"]),
        ('<a class="btn" href="/x">{% blocktranslate %}Hi {{ n }}{% endblocktranslate %}</a>', []),
        ("<style>body{color:red}</style><script>var a;</script>", []),
        ("{% block body_class %}portal{% endblock %} {# note #}", []),
        ("<p>— · 2026 $</p>", []),
    ],
)
def test_unmarked_heuristic(source, words):
    assert i18n_check.unmarked_words(source) == words
