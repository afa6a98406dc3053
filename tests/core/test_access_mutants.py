"""The permission helpers' own contract, beyond the URL walk of ``test_permissions.py``:
written for the mutants that walk left alive (``scripts/mutation access``)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from crewcommand.access import member_required
from crewcommand.permissions import require


def test_a_typo_in_a_views_action_fails_at_import_naming_the_action():
    """A misspelt action must fail loudly where the view is declared, and say which action:
    otherwise the developer hunts through every view for the one that breaks the import."""
    with pytest.raises(KeyError, match=r"invoice\.viod.*PERMISSIONS"):
        member_required(action="invoice.viod")


def test_a_request_without_a_member_is_refused_not_crashed():
    """``require`` called on a request nobody set a member on (a view that forgot
    ``member_required``) refuses with a 403, never an AttributeError (a 500)."""
    request = RequestFactory().post("/app/invoices/")
    with pytest.raises(PermissionDenied):
        require(request, "dashboard.view")
