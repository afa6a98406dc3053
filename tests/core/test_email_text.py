"""Every email the app sends, for a company and customer named "Côté & Fils <Plomberie>":
subjects and text bodies say ``&`` (never ``&amp;``), the HTML part stays escaped, and every
email about a company carries ``Reply-To`` the company's address, or else never says "reply to
this email"."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import notifications as billing_notifications
from billing import services as billing
from billing.models import Payment, PaymentMethod, PaymentStatus
from crewcommand import notifications
from crewcommand.lib.activity import Actor
from portal import services as portal
from reviews import services as reviews
from tests.booking.helpers import valid_post
from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import accept_data, issue

pytestmark = pytest.mark.django_db

NAME = "Côté & Fils <Plomberie>"
ESCAPED = "Côté &amp; Fils &lt;Plomberie&gt;"
COMPANY_EMAIL = "bureau@cote-fils.example"
NEW_OWNER_EMAIL = "nouveau@cote-fils.example"
ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);")
EMAIL_TEMPLATES = {
    path.stem for path in (Path(settings.BASE_DIR) / "templates/emails").glob("*.subject")
}


@pytest.fixture
def sent_templates(monkeypatch):
    """The names of the email templates rendered (a spy: the real renderer still runs)."""
    seen: set[str] = set()
    real = notifications.render_email

    def spy(*, template, context):
        seen.add(template)
        return real(template=template, context=context)

    monkeypatch.setattr(notifications, "render_email", spy)
    return seen


def _send_every_email(company, customer, owner_client, capture) -> None:
    """Each email the app sends, through the same path a user's action takes."""
    with capture(execute=True):
        owner_client.post(
            reverse("dashboard:team"), {"email": "tech@example.com", "role": "technician"}
        )
        shared = EstimateFactory(customer=customer)
        portal.share_document(document=shared, actor=Actor.system())
    phone = Client()
    changes, declined, accepted = (EstimateFactory(customer=customer) for _ in range(3))
    for estimate, name, data in [
        (changes, "estimate_changes", {"message": f"Moins cher svp & vite <merci> — {NAME}"}),
        (declined, "estimate_decline", {"reason": f"Trop cher & trop tard <non> — {NAME}"}),
        (accepted, "estimate_accept", accept_data(accepted, signer_name=NAME)),
    ]:
        issued = issue(customer, estimate)
        with capture(execute=True):
            response = phone.post(
                reverse(f"portal:{name}", args=[issued.token, estimate.public_id]), data
            )
        assert response.status_code in (200, 302), name
    invoice = InvoiceFactory(customer=customer)
    with capture(execute=True):
        payment = billing.payment_record(
            actor=Actor.system(),
            invoice=invoice,
            amount=Decimal("100.00"),
            method=PaymentMethod.ETRANSFER,
            received_on=timezone.localdate(),
            reference="Réf & co <1>",
        )
    with capture(execute=True):
        billing.refund_create(
            payment=payment, amount=Decimal("25.00"), actor=Actor.system(), reason="Geste & merci"
        )
    # A bank debit that bounced: the customer gets a fresh pay link, the company a notice.
    bounced = billing.payment_record(
        actor=Actor.system(),
        invoice=invoice,
        amount=Decimal("10.00"),
        method=PaymentMethod.ETRANSFER,
        received_on=timezone.localdate(),
    )
    Payment.objects.filter(pk=bounced.pk).update(
        status=PaymentStatus.FAILED, applied=False, failure_message="Compte & fermé <x>"
    )
    with capture(execute=True):
        billing_notifications.deliver_payment_failed(payment_id=bounced.pk)
    # A visitor's service request (their confirmation, the company's notice), and a review
    # request to the customer.
    with capture(execute=True):
        response = Client().post(
            reverse("booking_public:book", args=[company.slug]),
            valid_post(name=NAME, description=f"Fuite & dégât <eau> — {NAME}"),
        )
        assert response.status_code == 302
    with capture(execute=True):
        reviews.review_request_send(customer=customer, actor=Actor.system())
    # A one-time code before signing, by email to the link's contact.
    from portal import stepup

    coded = issue(customer, EstimateFactory(customer=customer))
    with capture(execute=True):
        stepup.code_request(link=coded.link, purpose="sign", ip_bucket="email-text-test")
    with capture(execute=True):
        Client().post(reverse("password_reset"), {"email": owner_client.owner_email})
    # Signup, for a new address and for one that has an account: no company yet, so no Reply-To.
    for email in (NEW_OWNER_EMAIL, owner_client.owner_email):
        with capture(execute=True):
            Client().post(
                reverse("signup"),
                {"company_name": NAME, "province": "QC", "full_name": NAME, "email": email},
            )


def _html(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


@pytest.fixture
def cote(company, customer, owner, owner_client):
    company.name = NAME
    company.email = COMPANY_EMAIL
    company.save()
    customer.name = NAME
    customer.save()
    owner_client.owner_email = owner.user.email
    return company


def test_every_email_has_plain_text_subject_and_body_escaped_html_and_reply_to(
    cote, customer, owner_client, sent_templates, django_capture_on_commit_callbacks
):
    _send_every_email(cote, customer, owner_client, django_capture_on_commit_callbacks)

    assert len(mail.outbox) >= len(EMAIL_TEMPLATES) + 1  # + Django's password reset
    for message in mail.outbox:
        label = message.subject
        assert not ENTITY.search(message.subject), label
        assert not ENTITY.search(message.body), label
        # Password reset and signup mails concern an account, not a company: no Reply-To.
        to_an_account = message.to in ([owner_client.owner_email], [NEW_OWNER_EMAIL])
        if to_an_account and not message.subject.startswith("Receipt"):
            assert message.reply_to == [], label
            assert "reply to this email" not in message.body.lower(), label
            if message.alternatives:
                assert "<Plomberie>" not in _html(message), label
            continue
        assert NAME in message.subject + message.body, label
        html = _html(message)
        assert ESCAPED in html and "<Plomberie>" not in html, label
        assert message.reply_to == [COMPANY_EMAIL], label
        # The Reply-To header really goes out on the wire.
        assert f"Reply-To: {COMPANY_EMAIL}" in message.message().as_string(), label
    subjects = " | ".join(m.subject for m in mail.outbox)
    assert f"from {NAME}" in subjects  # the portal link email
    assert f"to join {NAME} on CrewCommand" in subjects
    assert f"Receipt from {NAME}:" in subjects
    assert sent_templates == EMAIL_TEMPLATES, "every email template is exercised here"


def test_without_a_company_address_no_email_says_reply_to_this_email(
    cote, customer, owner_client, sent_templates, django_capture_on_commit_callbacks
):
    cote.email = ""
    cote.save()
    _send_every_email(cote, customer, owner_client, django_capture_on_commit_callbacks)

    for message in mail.outbox:
        assert message.reply_to == [], message.subject
        for text in (message.body, _html(message)):
            assert "reply to this email" not in text.lower(), message.subject
    receipt = next(m for m in mail.outbox if m.to == [customer.email] and "Receipt" in m.subject)
    assert f"Questions? Contact {NAME}" in receipt.body
    assert sent_templates == EMAIL_TEMPLATES
