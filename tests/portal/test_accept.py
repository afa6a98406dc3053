"""Accepting and signing, declining, asking for changes: POST only, one answer per estimate,
a verifiable audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import threading

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crewcommand.models import Activity
from documents.models import Estimate, EstimateRevision, EstimateStatus, LineItem
from documents.totals import Selection
from portal import canonical, services
from portal.forms import CONSENT_TEXT
from portal.models import PortalLink, Signature
from portal.signatures import typed_svg
from tests.factories import EstimateFactory
from tests.portal.conftest import PHONE_UA
from tests.portal.helpers import accept_data, issue, sign, sign_with_picks, strokes

pytestmark = pytest.mark.django_db


def _url(name, issued, estimate):
    return reverse(f"portal:{name}", args=[issued.token, estimate.public_id])


def _lines(estimate):
    return {line.description: line for line in estimate.current_revision.lines.all()}


def test_a_customer_signs_with_a_drawing_and_picked_options(
    phone, estimate, estimate_link, django_capture_on_commit_callbacks
):
    lines = _lines(estimate)
    data = accept_data(
        estimate,
        method="drawn",
        strokes=strokes(),
        **{
            "choice-1": lines["Tankless heater"].public_id,
            "optional": [lines["Water softener"].public_id],
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(
            _url("estimate_accept", estimate_link, estimate), data, REMOTE_ADDR="203.0.113.50"
        )
    assert response.status_code == 302
    estimate.refresh_from_db()
    signature = Signature.objects.get(estimate=estimate)
    assert estimate.status == EstimateStatus.ACCEPTED and estimate.decided_at
    assert estimate.accepted_revision == estimate.current_revision
    assert estimate.accepted_selection == {
        "optional": [lines["Water softener"].public_id],
        "choices": {"Water heater": lines["Tankless heater"].public_id},
    }
    assert signature.signer_name == "Alice Tremblay" and signature.method == "drawn"
    assert signature.image_svg.startswith("<svg") and "<path" in signature.image_svg
    assert signature.ip_address == "203.0.113.50" and "iPhone" in signature.user_agent
    assert signature.link_reference == estimate_link.link.reference
    assert "electronically" in signature.consent_text
    assert "Added: Water softener" in signature.selection_summary
    assert "Not added: Expansion tank" in signature.selection_summary
    assert "Water heater: Tankless heater" in signature.selection_summary
    content = json.loads(signature.canonical_json)
    assert content["totals"]["total"] == "5248.85" and content["deposit"]["amount"] == "1312.21"
    assert hashlib.sha256(signature.canonical_json.encode()).hexdigest() == signature.content_sha256
    assert Activity.objects.filter(verb="estimate.accepted").count() == 1
    assert [m.to for m in mail.outbox] == [[estimate.company.email]]
    page = phone.get(_url("estimate", estimate_link, estimate)).content.decode()
    assert "Signed by Alice Tremblay" in page and "data:image/svg+xml;base64," in page


def test_the_canonical_form_is_documented_json(estimate):
    revision = estimate.current_revision
    text = canonical.canonical_json(
        estimate=estimate,
        revision=revision,
        selection=Selection(),
        consent_text="I agree.",
        language="en-ca",
    )
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert data["format"] == "crewcommand.estimate.v3" and data["currency"] == "CAD"
    assert data["language"] == "en-ca"
    assert data["customer"]["name"] == estimate.customer.name
    assert data["company"]["name"] == estimate.company.name and data["consent_text"] == "I agree."
    assert data["lines"][1]["quantity"] == "4.000" and data["lines"][1]["unit_price"] == "95.00"
    assert data["revision"]["terms"].startswith("Work starts")
    assert set(data["totals"]) >= {"subtotal", "taxes", "tax_total", "total"}


def test_a_typed_signature_is_rendered_on_the_server_and_escaped(phone, estimate, estimate_link):
    name = 'Zoë <O\'Brien> & "Co"'
    response = phone.post(
        _url("estimate_accept", estimate_link, estimate), accept_data(estimate, signer_name=name)
    )
    assert response.status_code == 302
    svg = Signature.objects.get().image_svg
    assert "&lt;O&apos;Brien&gt; &amp; &quot;Co&quot;" in svg and "<O'" not in svg


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"consent": ""}, "consent"),
        ({"signer_name": ""}, "signer_name"),
        ({"signer_name": "A"}, "signer_name"),
        ({"method": "drawn", "strokes": ""}, "strokes"),
        ({"method": "drawn", "strokes": '{"w":300,"h":150,"strokes":[]}'}, "strokes"),
        ({"method": "drawn", "strokes": '{"w":300,"h":150,"strokes":[[1,1,2,2]]}'}, "strokes"),
        ({"method": "drawn", "strokes": "<svg onload=alert(1)>"}, "strokes"),
        ({"method": "drawn", "strokes": '{"w":1e309,"h":150,"strokes":[[1,1]]}'}, "strokes"),
        ({"method": "drawn", "strokes": '{"w":300,"h":150,"strokes":[["a","b"]]}'}, "strokes"),
        (
            {
                "method": "drawn",
                "strokes": json.dumps({"w": 300, "h": 150, "strokes": [[1, 1]] * 400}),
            },
            "strokes",
        ),
        ({"method": "svg"}, "method"),
        ({"revision": "x"}, "revision"),
    ],
)
def test_bad_submissions_change_nothing(phone, estimate, estimate_link, overrides, field):
    response = phone.post(
        _url("estimate_accept", estimate_link, estimate), accept_data(estimate, **overrides)
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.SENT and not Signature.objects.exists()


HOSTILE = [
    "<script>alert('x')</script>",
    "Robert'); DROP TABLE portal_portallink;--",
    "a" * (1024 * 1024),
    "Al\x00ice",
    "Al\u202eice",
    "Line\x07bell",
    "\x1b[31mred",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_rejected_or_escaped_never_a_500(phone, estimate, estimate_link, text):
    responses = [
        phone.post(
            _url("estimate_accept", estimate_link, estimate),
            accept_data(estimate, signer_name=text),
        ),
        phone.post(_url("estimate_changes", estimate_link, estimate), {"message": text}),
        phone.post(_url("estimate_decline", estimate_link, estimate), {"reason": text}),
        phone.post(f"/p/{'x' * 43}/", {"contact": text}),
        phone.get(_url("estimate_totals", estimate_link, estimate), {"optional": text[:5000]}),
    ]
    for response in responses:
        assert response.status_code < 500
        assert b"<script>alert" not in response.content
    for signature in Signature.objects.all():
        assert "<script" not in signature.image_svg
    for activity in Activity.objects.all():
        assert len(str(activity.data)) < 5000


def test_a_signature_for_a_revised_estimate_is_refused(phone, estimate, estimate_link):
    url = _url("estimate_accept", estimate_link, estimate)
    data = accept_data(estimate)
    revision = estimate.current_revision
    new = EstimateRevision.objects.create(
        estimate=estimate, number=2, province="ON", sent_at=revision.sent_at, terms="New terms"
    )
    LineItem.objects.create(revision=new, description="New line", unit_price="10.00")
    estimate.current_revision = new
    estimate.save()
    response = phone.post(url, data)
    assert response.status_code == 409
    assert "updated this estimate since you opened it" in response.content.decode()
    assert not Signature.objects.exists()


def test_an_estimate_being_revised_cannot_be_signed(phone, estimate, estimate_link):
    estimate.status = EstimateStatus.DRAFT
    estimate.save()
    page = phone.get(_url("estimate", estimate_link, estimate)).content.decode()
    assert "is updating this estimate" in page and 'name="signer_name"' not in page
    response = phone.post(_url("estimate_accept", estimate_link, estimate), accept_data(estimate))
    assert response.status_code == 409 and not Signature.objects.exists()


def test_an_expired_estimate_cannot_be_signed(phone, customer):
    estimate = EstimateFactory(
        customer=customer, revision__valid_until=timezone.localdate() - dt.timedelta(days=1)
    )
    issued = issue(customer, estimate)
    page = phone.get(_url("estimate", issued, estimate)).content.decode()
    assert "This estimate expired on" in page
    response = phone.post(_url("estimate_accept", issued, estimate), accept_data(estimate))
    assert response.status_code == 409 and not Signature.objects.exists()


def test_a_second_answer_is_refused(phone, estimate, estimate_link):
    sign(estimate, estimate_link)
    for name, data in (
        ("estimate_accept", accept_data(estimate, signer_name="Mallory")),
        ("estimate_decline", {"reason": "no"}),
        ("estimate_changes", {"message": "cheaper"}),
    ):
        response = phone.post(_url(name, estimate_link, estimate), data)
        assert response.status_code in {200, 409}
        assert "already been accepted" in response.content.decode()
    assert Signature.objects.count() == 1
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.ACCEPTED


def test_get_never_answers(phone, estimate, estimate_link):
    for name in ("estimate_accept", "estimate_decline", "estimate_changes"):
        phone.get(_url(name, estimate_link, estimate), accept_data(estimate))
    estimate.refresh_from_db()
    assert estimate.status in {EstimateStatus.SENT, EstimateStatus.VIEWED}
    assert not Signature.objects.exists()
    assert not Activity.objects.filter(verb__in=["estimate.declined", "estimate.changes_requested"])


def test_answers_need_csrf(estimate, estimate_link):
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=PHONE_UA)
    for name in ("estimate_accept", "estimate_decline", "estimate_changes"):
        response = client.post(_url(name, estimate_link, estimate), accept_data(estimate))
        assert response.status_code == 403


def test_decline_with_a_reason_notifies_the_contractor(
    phone, estimate, estimate_link, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(
            _url("estimate_decline", estimate_link, estimate),
            {"reason": "Went with another quote."},
        )
    assert response.status_code == 302
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.DECLINED
    assert estimate.decline_reason == "Went with another quote."
    assert Activity.objects.filter(verb="estimate.declined").count() == 1
    assert "Went with another quote." in mail.outbox[0].body
    assert (
        "You declined this estimate"
        in phone.get(_url("estimate", estimate_link, estimate)).content.decode()
    )


def test_asking_for_changes_notifies_the_contractor_and_keeps_the_estimate_open(
    phone, estimate, estimate_link, django_capture_on_commit_callbacks
):
    """Open: the customer may still answer it; its status says changes were asked for
    (issue 12: test_changes_requested.py)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(
            _url("estimate_changes", estimate_link, estimate),
            {"message": "Can you use copper pipe?"},
        )
    assert response.status_code == 302 and "done=changes" in response["Location"]
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.CHANGES_REQUESTED
    activity = Activity.objects.get(verb="estimate.changes_requested")
    assert activity.data["message"] == "Can you use copper pipe?"
    assert mail.outbox[0].to == [estimate.company.email]
    assert "Can you use copper pipe?" in mail.outbox[0].body


def test_change_requests_are_limited_per_link(phone, estimate, estimate_link):
    url = _url("estimate_changes", estimate_link, estimate)
    codes = [phone.post(url, {"message": f"msg {n}"}).status_code for n in range(12)]
    assert codes[:10] == [302] * 10 and codes[10:] == [200, 200]
    assert Activity.objects.filter(verb="estimate.changes_requested").count() == 10


def test_verify_confirms_an_untouched_signature_and_catches_a_change(
    estimate, estimate_link, capsys
):
    signature = sign(estimate, estimate_link)
    call_command("verify_signature", signature.public_id)
    assert f"OK {signature.public_id}" in capsys.readouterr().out
    call_command("verify_signature", "--estimate", estimate.public_id)
    call_command("verify_signature", "--all")
    # Tamper with the signed revision behind the application's back.
    LineItem.objects.filter(revision=signature.revision).update(unit_price="1.00")
    with pytest.raises(CommandError):
        call_command("verify_signature", signature.public_id)
    assert "MISMATCH" in capsys.readouterr().out
    assert not services.signature_verify(signature=signature).ok
    with pytest.raises(CommandError):
        call_command("verify_signature", "nosuchsignatur")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_acceptances_make_one_signature(customer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    url = _url("estimate_accept", issued, estimate)
    barrier = threading.Barrier(10)
    codes = []

    def submit(n: int) -> None:
        try:
            client = Client(HTTP_USER_AGENT=PHONE_UA)
            barrier.wait()
            codes.append(
                client.post(url, accept_data(estimate, signer_name=f"Signer {n}")).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [302] + [409] * 9
    assert Signature.objects.filter(estimate=estimate).count() == 1
    assert Activity.objects.filter(verb="estimate.accepted", target_id=estimate.pk).count() == 1


def _csrf_client(issued, estimate):
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=PHONE_UA)
    client.get(_url("estimate", issued, estimate))
    return client, client.cookies["csrftoken"].value


def test_portal_posts_with_a_null_origin_and_no_referer_pass_csrf(estimate, estimate_link):
    """Referrer-Policy: no-referrer makes browsers post with Origin: null and no Referer."""
    client, token = _csrf_client(estimate_link, estimate)
    data = {**accept_data(estimate), "csrfmiddlewaretoken": token}
    response = client.post(
        _url("estimate_accept", estimate_link, estimate), data, HTTP_ORIGIN="null", secure=True
    )
    assert response.status_code == 302
    assert Signature.objects.count() == 1


def test_portal_posts_from_another_origin_or_without_the_token_fail_csrf(estimate, estimate_link):
    client, token = _csrf_client(estimate_link, estimate)
    url = _url("estimate_changes", estimate_link, estimate)
    data = {"message": "hello", "csrfmiddlewaretoken": token}
    assert client.post(url, data, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert (
        client.post(url, data, HTTP_REFERER="https://evil.example/", secure=True).status_code == 403
    )
    assert client.post(url, data, secure=True).status_code == 403  # HTTPS: no Origin, no Referer
    assert client.post(url, {"message": "hello"}, HTTP_ORIGIN="null").status_code == 403
    assert not Activity.objects.filter(verb="estimate.changes_requested").exists()


# --- Evidence: every stored field is bound by a keyed seal ------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def _tamper_canonical(signature):
    return signature.canonical_json.replace('"2890.00"', '"289.00"')


TAMPERS = {
    "signer_name": lambda s: Signature.objects.filter(pk=s.pk).update(signer_name="Mallory"),
    "signed_at": lambda s: Signature.objects.filter(pk=s.pk).update(
        signed_at=F("signed_at") - dt.timedelta(days=3)
    ),
    "ip_address": lambda s: Signature.objects.filter(pk=s.pk).update(ip_address="198.51.100.7"),
    "user_agent": lambda s: Signature.objects.filter(pk=s.pk).update(user_agent="curl/8.0"),
    "image_svg": lambda s: Signature.objects.filter(pk=s.pk).update(image_svg=typed_svg("Mallory")),
    "method": lambda s: Signature.objects.filter(pk=s.pk).update(method="drawn"),
    "consent_text": lambda s: Signature.objects.filter(pk=s.pk).update(
        consent_text="I agree to nothing."
    ),
    "canonical_json": lambda s: Signature.objects.filter(pk=s.pk).update(
        canonical_json=_tamper_canonical(s)
    ),
    "content_sha256": lambda s: Signature.objects.filter(pk=s.pk).update(content_sha256="0" * 64),
    "selection": lambda s: Signature.objects.filter(pk=s.pk).update(selection={}),
    "selection_summary": lambda s: Signature.objects.filter(pk=s.pk).update(selection_summary=[]),
    "link_reference": lambda s: Signature.objects.filter(pk=s.pk).update(link_reference="L-XXXX"),
    "link": lambda s: PortalLink.objects.filter(pk=s.link_id).update(reference="L-ZZZZ"),
    "seal": lambda s: Signature.objects.filter(pk=s.pk).update(seal="0" * 64),
    "seal_key_id": lambda s: Signature.objects.filter(pk=s.pk).update(seal_key_id="0" * 16),
    "sealed_retroactively": lambda s: Signature.objects.filter(pk=s.pk).update(
        sealed_retroactively=True
    ),
    "estimate.accepted_selection": lambda s: Estimate.objects.filter(pk=s.estimate_id).update(
        accepted_selection={}
    ),
    "estimate.status": lambda s: Estimate.objects.filter(pk=s.estimate_id).update(status="sent"),
    "estimate.accepted_revision": lambda s: Estimate.objects.filter(pk=s.estimate_id).update(
        accepted_revision=None
    ),
    "line.unit_price": lambda s: LineItem.objects.filter(
        revision=s.revision_id, description="Tankless heater"
    ).update(unit_price="289.00"),
    "line.description": lambda s: (
        LineItem.objects.filter(revision=s.revision_id)
        .filter(description="Installation labour")
        .update(description="Labour (4 h, price on request)")
    ),
    "revision.terms": lambda s: EstimateRevision.objects.filter(pk=s.revision_id).update(
        terms="No guarantee."
    ),
}


@pytest.mark.parametrize("field", sorted(TAMPERS))
def test_tampering_with_any_stored_field_is_a_mismatch(
    owner_client, estimate, estimate_link, capsys, field
):
    signature = sign_with_picks(estimate, estimate_link, user_agent="Mozilla/5.0 (iPhone)")
    assert services.signature_verify(signature=signature).ok
    TAMPERS[field](signature)
    fresh = Signature.objects.select_related("estimate", "revision", "link").get(pk=signature.pk)
    result = services.signature_verify(signature=fresh)
    assert not result.ok and result.problems
    with pytest.raises(CommandError):
        call_command("verify_signature", signature.public_id)
    assert f"MISMATCH {signature.public_id}" in capsys.readouterr().out
    verify = reverse("portal_dashboard:signature_verify", args=[signature.public_id])
    page = owner_client.get(verify, **HTMX).content.decode()
    assert "Mismatch" in page and "Verified" not in page


def test_a_tamper_rehashed_with_the_public_sha256_is_still_a_mismatch(estimate, estimate_link):
    """Someone with database access rewrites the options everywhere and recomputes the
    unkeyed canonical SHA-256 with the project's own code: only the keyed seal catches it."""
    signature = sign_with_picks(estimate, estimate_link, user_agent="Mozilla/5.0 (iPhone)")
    cheaper = Selection()  # the defaults: $1,450 tank, no softener
    revision = estimate.current_revision
    forged = canonical.canonical_json(
        estimate=estimate,
        revision=revision,
        selection=cheaper,
        consent_text=str(CONSENT_TEXT),
        language="en-ca",
    )
    lines = list(revision.lines.all())
    Signature.objects.filter(pk=signature.pk).update(
        selection=cheaper.as_json(),
        selection_summary=services.selection_summary(lines, cheaper),
        canonical_json=forged,
        content_sha256=canonical.sha256_hex(forged),
    )
    Estimate.objects.filter(pk=estimate.pk).update(accepted_selection=cheaper.as_json())
    result = services.signature_verify(signature=Signature.objects.get(pk=signature.pk))
    assert result.problems == (str(services.SEAL_PROBLEMS["bad-seal"]),)
    with pytest.raises(CommandError):
        call_command("verify_signature", signature.public_id)


def test_a_seal_made_with_another_key_does_not_verify(estimate, estimate_link, settings):
    settings.SIGNATURE_SEAL_KEY = "attacker-key-" + "a" * 40
    signature = sign_with_picks(estimate, estimate_link, user_agent="Mozilla/5.0 (iPhone)")
    assert services.signature_verify(signature=signature).ok
    settings.SIGNATURE_SEAL_KEY = "the-real-key-" + "b" * 40
    result = services.signature_verify(signature=signature)
    assert result.problems == (str(services.SEAL_PROBLEMS["unknown-key"]),)


def test_rotated_keys_keep_verifying_old_signatures(estimate, estimate_link, settings):
    settings.SIGNATURE_SEAL_KEY = "old-key-" + "c" * 40
    signature = sign_with_picks(estimate, estimate_link, user_agent="Mozilla/5.0 (iPhone)")
    settings.SIGNATURE_SEAL_KEY = "new-key-" + "d" * 40
    settings.SIGNATURE_SEAL_KEY_FALLBACKS = ["old-key-" + "c" * 40]
    assert services.signature_verify(signature=signature).ok


def test_the_migration_seals_old_signatures_and_says_so(estimate, estimate_link, owner_client):
    signature = sign_with_picks(estimate, estimate_link, user_agent="Mozilla/5.0 (iPhone)")
    Signature.objects.filter(pk=signature.pk).update(seal="", seal_key_id="", sealed_at=None)
    assert not services.signature_verify(signature=Signature.objects.get(pk=signature.pk)).ok
    migration = importlib.import_module("portal.migrations.0003_seal_existing_signatures")
    migration.seal_existing(django_apps, None)
    sealed = Signature.objects.get(pk=signature.pk)
    assert sealed.sealed_retroactively and sealed.sealed_at is not None
    assert services.signature_verify(signature=sealed).ok
    verify = reverse("portal_dashboard:signature_verify", args=[signature.public_id])
    page = owner_client.get(verify, **HTMX).content.decode()
    assert "Verified" in page and "Signed before records were sealed" in page
