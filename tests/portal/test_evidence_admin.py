"""A signed estimate, its revision's lines and its signature are read-only in the admin: the
change forms and inlines show them, and a POST changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from documents.models import EstimateRevision, EstimateStatus, LineItem
from portal import services
from portal.models import Signature
from tests.portal.helpers import sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(estimate, estimate_link):
    return sign(estimate, estimate_link)


def _change(model: str, pk: int) -> str:
    return reverse(f"admin:{model}_change", args=[pk])


def test_a_signed_estimate_cannot_be_changed_or_deleted(admin_client, estimate, signed):
    url = _change("documents_estimate", estimate.pk)
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="status"' not in page
    response = admin_client.post(url, {"status": EstimateStatus.DRAFT, "number": 1})
    assert response.status_code == 403
    delete = reverse("admin:documents_estimate_delete", args=[estimate.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.ACCEPTED
    assert services.signature_verify(signature=Signature.objects.get(pk=signed.pk)).ok


def test_lines_of_a_signed_revision_cannot_be_changed_added_or_deleted(admin_client, signed):
    line = LineItem.objects.filter(revision=signed.revision).first()
    url = _change("documents_lineitem", line.pk)
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="unit_price"' not in page
    data = {
        "revision": signed.revision_id,
        "position": 0,
        "description": "Free",
        "quantity": "1",
        "unit_price": "0.01",
        "taxable": "on",
        "kind": "standard",
        "selected_by_default": "on",
    }
    assert admin_client.post(url, data).status_code == 403
    delete = reverse("admin:documents_lineitem_delete", args=[line.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    count = LineItem.objects.filter(revision=signed.revision).count()
    response = admin_client.post(reverse("admin:documents_lineitem_add"), data)
    assert response.status_code == 200 and "can no longer change" in response.content.decode()
    assert LineItem.objects.filter(revision=signed.revision).count() == count
    line.refresh_from_db()
    assert line.description != "Free"
    assert services.signature_verify(signature=Signature.objects.get(pk=signed.pk)).ok


def test_the_signed_revision_and_its_inline_lines_are_read_only(admin_client, signed):
    url = _change("documents_estimaterevision", signed.revision_id)
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and "-DELETE" not in page
    assert admin_client.post(url, {}).status_code == 403
    delete = reverse("admin:documents_estimaterevision_delete", args=[signed.revision_id])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert EstimateRevision.objects.filter(pk=signed.revision_id).exists()


def test_a_signature_cannot_be_changed_or_deleted(admin_client, signed):
    url = _change("portal_signature", signed.pk)
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="signer_name"' not in page
    assert admin_client.post(url, {"signer_name": "Mallory"}).status_code == 403
    delete = reverse("admin:portal_signature_delete", args=[signed.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    signed.refresh_from_db()
    assert signed.signer_name == "Alice Tremblay"
