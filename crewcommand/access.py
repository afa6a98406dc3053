"""Access helpers for contractor views: who is signed in, for which company, with which role."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from crewcommand.models import Member


def member_required(
    view: Callable | None = None, *, roles: Iterable[str] | None = None
) -> Callable:
    """Require a signed-in user with a company. Sets ``request.member`` and ``request.company``
    and activates the company's time zone for the request."""
    allowed = set(roles) if roles else None

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            member = (
                Member.objects.select_related("company", "user").filter(user=request.user).first()
            )
            if member is None:
                return redirect("signup")
            if allowed is not None and member.role not in allowed:
                raise PermissionDenied
            request.member = member
            request.company = member.company
            timezone.activate(member.company.timezone)
            return func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
