from __future__ import annotations

import pytest
from django.template.loader import render_to_string


@pytest.mark.parametrize("name", ["400.html", "403.html", "404.html", "500.html"])
def test_error_pages_render_without_request_context(name):
    # Django renders 500.html with an empty context; none of these may need a request.
    html = render_to_string(name)
    assert "<h1>" in html and "{%" not in html
