"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class HtmxMessagesMiddleware:
    """On htmx requests, deliver pending flash messages as out-of-band toasts, so feedback shows
    up the same way whether a page was reloaded or only a fragment was swapped."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not getattr(request, "htmx", False)
            or "HX-Redirect" in response
            or 300 <= response.status_code < 400
            or not response.get("Content-Type", "").startswith("text/html")
            or getattr(response, "streaming", False)
        ):
            return response
        pending = list(messages.get_messages(request))
        if pending:
            response.write(render_to_string("components/toasts_oob.html", {"toasts": pending}))
        return response
