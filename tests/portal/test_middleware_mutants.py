"""``portal/middleware.py``: what a token resolves to at the edges of its life, which scope a
link opens, and the headers every portal answer carries (the brand colour's contrast rule is
``crewcommand.lib.colour``, tested in ``tests/core/test_colour.py``).

Written for ``scripts/mutation portal-middleware``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from crewcommand.lib.activity import Actor
from portal import services
from portal.middleware import PortalContext, resolve
from portal.models import PortalLink
from portal.tokens import new_token
from tests.portal.helpers import issue


@pytest.mark.django_db
class TestResolve:
    def test_unknown(self):
        assert resolve(new_token()) == (None, False)

    def test_live_expired_revoked_and_everlasting(self, estimate):
        live = issue(estimate.customer, estimate)
        assert resolve(live.token) == (live.link.pk, True)
        PortalLink.objects.filter(pk=live.link.pk).update(
            expires_at=timezone.now() + dt.timedelta(seconds=30)
        )
        assert resolve(live.token) == (live.link.pk, True)
        PortalLink.objects.filter(pk=live.link.pk).update(
            expires_at=timezone.now() - dt.timedelta(milliseconds=1)
        )
        assert resolve(live.token) == (live.link.pk, False)
        forever = issue(estimate.customer, estimate, expires_at=None)
        assert resolve(forever.token) == (forever.link.pk, True)
        services.link_revoke(link=forever.link, actor=Actor.system())
        assert resolve(forever.token) == (forever.link.pk, False)


@pytest.mark.django_db
def test_scope_of_each_kind_of_link(estimate, invoice, customer):
    for document, scope in [(estimate, "estimate"), (invoice, "invoice"), (None, "customer")]:
        issued = issue(document.customer if document else customer, document)
        context = PortalContext(link=issued.link, token=issued.token)
        assert context.scope == scope
        assert context.url("home") == f"/p/{issued.token}/"
        assert issued.token not in repr(context)


@pytest.mark.django_db
def test_every_portal_answer_is_private_and_unindexed(estimate):
    live = issue(estimate.customer, estimate)
    client = Client()
    for path in (f"/p/{live.token}/", f"/p/{new_token()}/", "/p/x/"):
        response = client.get(path)
        assert response["Referrer-Policy"] == "no-referrer"
        assert response["Cache-Control"] == "no-store"
        assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "X-Robots-Tag" not in client.get("/app/login/")
