"""``{% memo %}``: a fragment is kept under the values it is made of, the language and the time
zone; a changed value renders afresh; per-response parts and non-plain keys are refused; under
tests a key that misses a value the block reads fails loudly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone, translation

ENGINE = Engine(
    libraries={"memo": "crewcommand.templatetags.memo"}, builtins=["django.templatetags.i18n"]
)


def _template(body: str):
    return ENGINE.from_string("{% load memo %}" + body)


def test_a_fragment_is_kept_per_value_and_rendered_afresh_when_a_value_changes():
    page = _template("{% memo n amount %}<b>{{ n }}: {{ amount }}</b>{% endmemo %}")
    node = next(n for n in page.nodelist if n.__class__.__name__ == "MemoNode")
    assert page.render(Context({"n": 1, "amount": Decimal("1.0")})) == "<b>1: 1.0</b>"
    assert page.render(Context({"n": 1, "amount": Decimal("1.0")})) == "<b>1: 1.0</b>"
    assert len(node.fragments) == 1
    # Equal as numbers, different as text: a different fragment.
    assert page.render(Context({"n": 1, "amount": Decimal("1.00")})) == "<b>1: 1.00</b>"
    assert page.render(Context({"n": True, "amount": Decimal("1.00")})) == "<b>True: 1.00</b>"
    assert len(node.fragments) == 3


def test_the_language_and_time_zone_are_part_of_the_key():
    page = _template('{% memo at %}{% translate "Yes" %} {{ at|time:"H:i" }}{% endmemo %}')
    at = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
    with translation.override("en"), timezone.override("America/Toronto"):
        assert page.render(Context({"at": at})) == "Yes 10:00"
    with translation.override("fr-ca"), timezone.override("America/Vancouver"):
        assert page.render(Context({"at": at})) == "Oui 07:00"


def test_values_may_be_lists_and_dicts_of_plain_values_but_not_objects():
    page = _template("{% memo rows %}{% for r in rows %}{{ r.a }}{% endfor %}{% endmemo %}")
    assert page.render(Context({"rows": [{"a": 1}, {"a": "x"}], "n": 2})) == "1x"
    assert page.render(Context({"rows": [{"a": 1}, {"a": "y"}]})) == "1y"
    with pytest.raises(TypeError, match="plain values"):
        page.render(Context({"rows": object()}))


def test_a_csrf_token_or_nonce_cannot_be_kept():
    for body in ("{% csrf_token %}", "{{ csrf_token }}", "{{ csp_nonce }}"):
        with pytest.raises(TemplateSyntaxError, match="per response"):
            _template("{% memo n %}" + body + "{% endmemo %}")
    with pytest.raises(TemplateSyntaxError, match="needs the values"):
        _template("{% memo %}x{% endmemo %}")


def test_under_tests_a_value_missing_from_the_key_fails():
    page = _template("{% memo n %}{{ n }} {{ other }}{% endmemo %}")
    assert page.render(Context({"n": 1, "other": "a"})) == "1 a"
    with pytest.raises(AssertionError, match="missing from its key"):
        page.render(Context({"n": 1, "other": "b"}))


def test_old_fragments_go_first(monkeypatch):
    from crewcommand.templatetags import memo

    monkeypatch.setattr(memo, "ENTRIES", 2)
    page = _template("{% memo n %}{{ n }}{% endmemo %}")
    node = next(n for n in page.nodelist if isinstance(n, memo.MemoNode))
    for n in (1, 2, 1, 3):
        page.render(Context({"n": n}))
    assert [key[2][0][1] for key in node.fragments] == [1, 3]
