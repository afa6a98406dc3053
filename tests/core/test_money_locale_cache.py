"""``format_cad`` caches its formatting: the cache must not remember one caller's language
for the next (a French amount in an English message, found by the automations' tests)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import translation

from crewcommand.lib.money import format_cad


def test_the_cached_format_follows_the_active_language():
    amount = Decimal("98765.43")
    with translation.override("fr-ca"):
        assert format_cad(amount) == "98\xa0765,43\xa0$"
    with translation.override("en-ca"):
        assert format_cad(amount) == "$98,765.43"
    with translation.override("fr-ca"):
        assert format_cad(amount) == "98\xa0765,43\xa0$"
