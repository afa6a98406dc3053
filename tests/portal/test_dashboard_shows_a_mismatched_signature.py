"""The contractor's "Verify signature" shows the Mismatch branch, with the reasons, when the
signed revision was changed behind the application's back: as the htmx fragment and as the full
page (no JavaScript)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from documents.models import LineItem
from tests.portal.helpers import sign

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MISMATCH = "Mismatch: this signature record no longer matches what was signed."
LINES_DIFFER = "lines, prices, options, terms or totals differ from what was signed"


def _verification(body: str) -> str:
    match = re.search(r'<div id="verification"[^>]*>(.*?)</div>', body, re.S)
    assert match, "no verification block"
    return match.group(0)


def test_a_tampered_signature_shows_mismatch_and_why(owner_client, estimate, estimate_link):
    signature = sign(estimate, estimate_link)
    verify = reverse("portal_dashboard:signature_verify", args=[signature.public_id])
    assert "Verified" in _verification(owner_client.get(verify, **HTMX).content.decode())

    first = signature.revision.lines.first()  # in position order
    LineItem.objects.filter(pk=first.pk).update(unit_price="1.00")

    for headers in (HTMX, {}):
        response = owner_client.get(verify, **headers)
        assert response.status_code == 200
        block = _verification(response.content.decode())
        assert "alert-error" in block and MISMATCH in block
        assert LINES_DIFFER in block and "Verified" not in block
        assert signature.content_sha256 in block
