"""Sign-in by email, whatever its case.

Accounts are emails: signup and invitations store the address lower-cased as both username
and email, but accounts made before that (or by staff in the admin) may carry capitals, and
people type their address however their phone capitalises it. ``EmailBackend`` finds the
account by username or email, case-insensitively, for every login that goes through
``django.contrib.auth.authenticate``: the app's login page and the admin's.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

# At most this many accounts are tried for one address (legacy rows differing only in case).
MAX_CANDIDATES = 5


def users_for_login(identifier: str) -> list:
    """The accounts an address (or a staff username) may name, the exact match first."""
    identifier = (identifier or "").strip()
    if not identifier:
        return []
    User = get_user_model()
    username_field = User.USERNAME_FIELD
    email_field = User.get_email_field_name()
    matches = User._default_manager.filter(
        Q(**{f"{username_field}__iexact": identifier}) | Q(**{f"{email_field}__iexact": identifier})
    ).order_by("pk")[:MAX_CANDIDATES]
    return sorted(matches, key=lambda user: user.get_username() != identifier)


class EmailBackend(ModelBackend):
    """``ModelBackend``, with the account looked up case-insensitively by username or email.

    When old rows differ only in case, the password decides which one signs in (each is
    checked; an unknown address still costs one hash, like Django's own backend)."""

    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        candidates = users_for_login(str(username))
        if not candidates:
            get_user_model()().set_password(password)  # the same cost as a wrong password
            return None
        for user in candidates:
            if user.check_password(password) and self.user_can_authenticate(user):
                return user
        return None

    @sensitive_variables("password")
    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )
