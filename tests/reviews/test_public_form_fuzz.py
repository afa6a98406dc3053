"""The review pages' public form (private feedback) under the same hostile input as every
dashboard and portal form (``tests/test_form_fuzz.py``, whose walk covers /app/ and /p/ only):
never a 5xx, and an answer that reports an error has changed nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from reviews import services
from tests.test_form_fuzz import FormParser, fuzz

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_review_pages_forms_survive_hostile_input(customer, settings):
    settings.PORTAL_INVALID_LINK_LIMIT = 10_000
    customer.company.google_review_url = "https://g.page/r/example/review"
    customer.company.save(update_fields=["google_review_url"])
    path = "/" + services.review_link_for(customer=customer).split("://", 1)[1].split("/", 1)[1]
    client = Client()
    targets = {}
    for page in (path, f"{path}feedback/", "/r/" + "x" * 43 + "/"):
        parser = FormParser(page)  # the shared walk keeps to /app/ and /p/: read /r/ here
        parser.feed(client.get(page).content.decode())
        for target in parser.targets:
            targets.setdefault(target.key, target)
    posts = [t for t in targets.values() if t.method == "post"]
    assert [t.url for t in posts] == [f"{path}feedback/"]
    assert sum(fuzz(client, target) for target in posts) >= 10
