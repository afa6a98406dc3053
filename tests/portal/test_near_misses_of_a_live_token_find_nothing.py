"""Near-misses of a live token open nothing and answer exactly like an unknown token.

Random tokens cannot catch a lookup that reads only part of the token (a prefix, a
case-folded form): a near-miss of a live token can. Every position is changed, the tail is
swapped behind the same prefix, and the token is cut or extended by one character."""

from __future__ import annotations

import string

import pytest
from django.test import Client

from portal.middleware import resolve
from portal.tokens import new_token
from tests.portal.test_invalid_links import _normalized

pytestmark = pytest.mark.django_db

URLSAFE = string.ascii_letters + string.digits + "-_"


def near_misses(token: str) -> dict[str, str]:
    misses = {}
    for i, char in enumerate(token):
        other = URLSAFE[(URLSAFE.index(char) + 1) % len(URLSAFE)]
        misses[f"position {i}"] = token[:i] + other + token[i + 1 :]
        if char.swapcase() != char:
            misses[f"case at {i}"] = token[:i] + char.swapcase() + token[i + 1 :]
    for keep in (8, 10, 16, 32, len(token) - 1):
        misses[f"same first {keep}, other tail"] = token[:keep] + new_token()[keep:]
    misses["one short"] = token[:-1]
    misses["one long"] = token + "A"
    misses["doubled"] = token + token
    return {name: miss for name, miss in misses.items() if miss != token}


def test_near_misses_of_a_live_token_resolve_to_nothing(estimate_link):
    token = estimate_link.token
    assert resolve(token) == (estimate_link.link.pk, True)
    misses = near_misses(token)
    assert len(misses) > len(token)
    for name, miss in misses.items():
        assert resolve(miss) == (None, False), name


@pytest.mark.parametrize("suffix", ["", "estimates/{estimate}/", "estimates/{estimate}/pdf/"])
def test_near_misses_get_the_same_not_found_answer_as_an_unknown_token(
    estimate_link, estimate, settings, suffix
):
    settings.PORTAL_INVALID_LINK_LIMIT = 10_000
    path = suffix.format(estimate=estimate.public_id)
    live = Client().get(f"/p/{estimate_link.token}/{path}")
    assert live.status_code in {200, 302}  # home of a one-document link redirects to it
    reference = _normalized(Client().get(f"/p/{new_token()}/{path}"))
    assert reference[0] == 404
    for name, miss in near_misses(estimate_link.token).items():
        assert _normalized(Client().get(f"/p/{miss}/{path}")) == reference, name
