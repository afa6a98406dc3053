"""A review token never reaches the logs or the database: every shape a review URL can arrive
in is redacted (``SECRET_URL_SHAPES``), and the rows, task arguments and SQL carry only its
hash."""

from __future__ import annotations

import pytest
from django.test import Client

from crewcommand.lib.logging import redact
from reviews import services
from tests.portal.test_privacy import captured_logs  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_review_urls_in_every_shape_are_redacted_and_the_token_is_never_logged(
    captured_logs,  # noqa: F811
    customer,
    django_capture_on_commit_callbacks,
):
    customer.company.google_review_url = "https://g.page/r/example/review"
    customer.company.save(update_fields=["google_review_url"])
    token = services.review_link_for(customer=customer).rstrip("/").rsplit("/", 1)[1]
    paths = [
        f"/r/{token}/",
        f"/r/{token}/go/",
        f"/r//{token}/",
        f"/R/{token}/",
        f"/%72/{token}/",
        f"/r/{token}",
        f"/r/./{token}/go/",
        f"/accounts/login/?next=%2Fr%2F{token}%2F",
        f"/r/{token[:-1]}/",  # a near miss is a secret-shaped path too
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for path in paths:
            response = Client().get(path, HTTP_REFERER=f"https://crew.example.ca{path}")
            assert response.status_code < 500, path
            location = response.get("Location", "")
            if location.startswith("http"):  # leaving for Google: never with the token
                assert token not in location, path
            assert token not in redact(location), path
    for path in paths:
        assert token not in redact(path), path
    logs = captured_logs.getvalue()
    assert token not in logs
    assert token[:-1] not in logs
