"""Access helpers for contractor views: who is signed in, for which company, with which role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import cast

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from crewcommand import permissions
from crewcommand.lib.prepared import prepared
from crewcommand.models import Company, Member

# Every dashboard request reads the signed-in user's member row with its company and user:
# compiled once (``crewcommand.lib.prepared``), not on each request.
_member_of = prepared(
    lambda user_id: Member.objects.select_related("company", "user").filter(user_id=user_id),
    -7_000_000_001,
)


class ContractorRequest(HttpRequest):
    """The request a contractor view gets, for its signature: what ``member_required`` sets
    (the signed-in ``user``, their ``member`` row and its ``company``) and django-htmx's
    ``htmx`` (truthy for an htmx request). Django's request object, only typed."""

    user: User
    member: Member
    company: Company
    htmx: HtmxDetails


# An action computed from the URL's kwargs, for one view that serves several actions
# (``documents:estimate_action`` → ``estimate.send``, ``estimate.void``…).
ActionFromKwargs = Callable[..., str]


def member_required(
    view: Callable | None = None, *, action: str | ActionFromKwargs | None = None
) -> Callable:
    """Require a signed-in user with a company whose role may take ``action`` (an entry of
    ``crewcommand.permissions.PERMISSIONS``; a 403 page otherwise). Without an action, any
    member may view; a view that changes anything must name its action.

    Sets ``request.member`` and ``request.company`` and activates the company's time zone for
    the request. The view keeps its action as ``view.permission`` so the permission walk in
    the tests can compare every URL with the table (and fail a POST URL that names none)."""
    if isinstance(action, str):
        permissions.allowed("owner", action)  # a typo fails at import, not at request time

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            member = _member_of.first(request.user.pk)
            if member is None:
                return redirect("signup")
            contractor = cast(ContractorRequest, request)  # the same object, typed
            contractor.member = member
            contractor.company = member.company
            timezone.activate(member.company.timezone)
            if action is None:
                needed = "dashboard.view"
            else:
                needed = action if isinstance(action, str) else action(**kwargs)
            permissions.require(request, needed)
            return func(request, *args, **kwargs)

        wrapper.permission = action  # type: ignore[attr-defined]
        return wrapper

    return decorator(view) if view is not None else decorator
