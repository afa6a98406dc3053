"""The public booking form and the portal's request form, found on their pages and posted with
the form fuzzer's hostile values (``tests/test_form_fuzz.py``, which walks dashboard and portal
forms but not public pages): never a 5xx, and an answer that reports an error writes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.portal.helpers import issue
from tests.test_form_fuzz import FormParser, fuzz

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_booking_forms_survive_hostile_input(company, customer, settings):
    settings.BOOKING_RATE_LIMITS = {"attempts": "1000/h", "ip": "1000/h", "company": "1000/h"}
    client = Client()
    pages = [
        reverse("booking_public:book", args=[company.slug]),
        issue(customer).path + "request/",
    ]
    targets = []
    for url in pages:
        parser = FormParser(url)
        parser.feed(client.get(url).content.decode())
        targets += [t for t in parser.targets if t.method == "post"]
    assert len(targets) == 2, [t.url for t in targets]
    assert all("photos" in t.files for t in targets)
    sent = sum(fuzz(client, target) for target in targets)
    assert sent >= 20
