from __future__ import annotations

import pytest
from django.template.loader import render_to_string


@pytest.mark.parametrize("name", ["400.html", "403.html", "404.html", "500.html", "503.html"])
def test_error_pages_render_without_request_context(name):
    # Django renders 500.html with an empty context; none of these may need a request.
    html = render_to_string(name)
    assert "<h1>" in html and "{%" not in html


def test_a_database_outage_is_a_503_page_without_a_traceback(rf):
    """``handler500`` answers while the exception is in flight: the database unreachable
    (restarting) is a clean 503 with Retry-After; any other crash is still the 500 page.
    ``bench/load.py --fault pg-restart`` shows it against a real PostgreSQL restart."""
    from django.db import OperationalError

    from crewcommand import urls, views

    assert urls.handler500 == "crewcommand.views.server_error"
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = views.server_error(rf.get("/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    body = response.content.decode()
    assert "Back in a moment" in body and "Traceback" not in body and "server closed" not in body
    try:
        raise ValueError("a bug")
    except ValueError:
        assert views.server_error(rf.get("/")).status_code == 500
