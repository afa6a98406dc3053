"""Send shows the email first (issue 12, point 7): the preview is the email the customer gets,
rendered by the same code, with a personal note that goes into it; a bad note sends nothing; one
preview sends one email however often it is submitted; opening the preview writes nothing."""

from __future__ import annotations

import html
import re

import pytest
from django.core import mail
from django.urls import reverse

from crewcommand.models import Activity
from documents.models import EstimateStatus, InvoiceStatus
from portal import notifications
from portal.forms import MAX_NOTE, SendForm
from portal.models import PortalLink
from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import send_data

pytestmark = pytest.mark.django_db

NOTE = "Thanks for having us over on Tuesday.\nHere is the quote for the water heater & valve."


@pytest.fixture
def draft(customer):
    return EstimateFactory(customer=customer, sent=False)


def _send_url(document, kind="estimate"):
    return reverse(f"documents:{kind}_action", args=[document.public_id, "send"])


def _text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", response.content.decode()))


def _shown_subject(response) -> str:
    match = re.search(r"data-email-subject>([^<]*)<", response.content.decode())
    assert match, "the preview shows the subject"
    return html.unescape(match.group(1))


def _link_url(message) -> str:
    return re.search(r"https?://\S+/p/\S+/", message.body).group(0)


def test_the_preview_shows_the_email_and_writes_nothing(
    owner_client, draft, customer, django_assert_max_num_queries
):
    links, rows = PortalLink.objects.count(), Activity.objects.count()
    with django_assert_max_num_queries(20):
        response = owner_client.get(_send_url(draft))
    assert response.status_code == 200
    text = _text(response)
    assert customer.email in text and customer.company.name in text
    assert f"Your estimate {draft.display_number} from {customer.company.name}" in text
    assert f"Hello {customer.name}," in text
    assert "/p/…/" in text  # the link's shape; no link exists yet
    assert 'name="note"' in response.content.decode()
    assert PortalLink.objects.count() == links and Activity.objects.count() == rows
    draft.refresh_from_db()
    assert draft.status == EstimateStatus.DRAFT and draft.sent_at is None
    assert not mail.outbox


def test_htmx_gets_the_preview_as_a_dialog(owner_client, draft):
    response = owner_client.get(_send_url(draft), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith("<dialog") and "data-modal" in body
    assert "app-sidebar" not in body


def test_the_email_sent_is_the_preview_with_the_note(
    owner_client, draft, customer, django_capture_on_commit_callbacks
):
    preview = owner_client.get(_send_url(draft))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(_send_url(draft), send_data(draft, NOTE))
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert message.subject == _shown_subject(preview)
    # Word for word what the preview shows, with the note where its field was and the link made.
    shown = notifications.document_email_preview(document=draft)
    assert message.body == shown.body(note=NOTE, url=_link_url(message))
    assert NOTE in message.body
    for part, value in shown.parts:
        if part == "text":
            assert value.strip() in _text(preview)
    # The HTML part carries the note as text, its line break kept.
    [(html_part, _kind)] = message.alternatives
    assert (
        "Thanks for having us over on Tuesday.<br>Here is the quote for the water heater &amp; valve."
        in html_part
    )
    draft.refresh_from_db()
    assert draft.status == EstimateStatus.SENT


def test_without_a_note_the_email_has_no_empty_paragraph(
    owner_client, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_send_url(draft), send_data(draft))
    (message,) = mail.outbox
    shown = notifications.document_email_preview(document=draft)
    assert message.body == shown.body(note="", url=_link_url(message))
    assert "\n\n\n" not in message.body


def test_a_note_is_plain_text_never_html(owner_client, draft, django_capture_on_commit_callbacks):
    note = '<b>Hi</b> <img src=x onerror=alert(1)> <a href="https://evil.example">pay here</a>'
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_send_url(draft), send_data(draft, note))
    (message,) = mail.outbox
    [(html_part, _kind)] = message.alternatives
    assert note in message.body
    assert "<b>Hi</b>" not in html_part and "<img" not in html_part
    assert "&lt;b&gt;Hi&lt;/b&gt;" in html_part and 'href="https://evil.example"' not in html_part


def test_the_note_is_in_the_activity(owner_client, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_send_url(draft), send_data(draft, NOTE))
    row = Activity.objects.get(verb="portal_link.emailed_with_note")
    assert row.data["note"] == NOTE
    page = owner_client.get(draft.get_absolute_url()).content.decode()
    assert "with a note: “Thanks for having us over on Tuesday. Here is the quote" in html.unescape(
        page
    )


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("x" * (MAX_NOTE + 1), f"Keep the note to {MAX_NOTE} characters or fewer (it has 1001)."),
        ("Call me\x07 back", "Remove the special or invisible characters from this text."),
        ("Pay to \u202eknab", "Remove the special or invisible characters from this text."),
        ("null\x00byte", "Null characters are not allowed."),
    ],
)
def test_a_bad_note_is_refused_next_to_the_field_and_nothing_is_sent(
    owner_client, draft, note, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(_send_url(draft), send_data(draft, note))
    assert response.status_code == 200
    body = response.content.decode()
    error = re.search(r'<p class="field-error">([^<]*)</p>', body)
    assert error and html.unescape(error.group(1)) == message
    assert 'aria-invalid="true"' in body and 'name="note"' in body
    assert not mail.outbox and not PortalLink.objects.exists()
    draft.refresh_from_db()
    assert draft.status == EstimateStatus.DRAFT


def test_a_send_without_the_preview_shows_the_preview(owner_client, draft):
    response = owner_client.post(_send_url(draft))
    assert response.status_code == 200
    assert "Check the email below, then press Send." in _text(response)
    assert not mail.outbox and not PortalLink.objects.exists()


def test_one_preview_sends_once_however_often_it_is_submitted(
    owner_client, draft, django_capture_on_commit_callbacks
):
    data = send_data(draft, NOTE)  # the preview's form, submitted twice (a double click)
    with django_capture_on_commit_callbacks(execute=True):
        first = owner_client.post(_send_url(draft), data)
    with django_capture_on_commit_callbacks(execute=True):
        second = owner_client.post(_send_url(draft), data, follow=True)
    assert first.status_code == 302
    assert len(mail.outbox) == 1 and PortalLink.objects.filter(channel="email").count() == 1
    assert "after you opened the preview, so it was not sent twice" in _text(second)


def test_send_again_shows_the_preview_and_sends_again(
    owner_client, customer, django_capture_on_commit_callbacks
):
    estimate = EstimateFactory(customer=customer)  # sent once already
    response = owner_client.get(_send_url(estimate))
    assert "Check the email, then send it" in _text(response)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_send_url(estimate), send_data(estimate, "Resending as asked."))
    (message,) = mail.outbox
    assert "Resending as asked." in message.body


def test_an_invoice_preview_gives_the_amount_due_and_sends_the_note(
    owner_client, customer, django_capture_on_commit_callbacks
):
    invoice = InvoiceFactory(customer=customer, sent=False)
    preview = owner_client.get(_send_url(invoice, "invoice"))
    assert "Amount due:" in _text(preview)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_send_url(invoice, "invoice"), send_data(invoice, NOTE))
    (message,) = mail.outbox
    assert message.subject == _shown_subject(preview) and NOTE in message.body
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT


def test_a_customer_without_email_is_told_before_sending(owner_client, draft, customer):
    customer.email = ""
    customer.save()
    text = _text(owner_client.get(_send_url(draft)))
    assert "has no email address, so nothing is emailed" in text
    response = owner_client.post(_send_url(draft), send_data(draft), follow=True)
    assert "has no email address" in _text(response)
    assert not mail.outbox


def test_a_technician_cannot_open_the_preview(client, draft, company):
    from crewcommand.models import Role
    from tests.factories import MemberFactory

    member = MemberFactory(company=company, role=Role.TECHNICIAN)
    client.force_login(member.user)
    assert client.get(_send_url(draft)).status_code == 403


def test_the_note_form_keeps_line_breaks_and_trims():
    form = SendForm({"note": "  Line one\r\nLine two  ", "last_sent": "0"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["note"] == "Line one\nLine two"
    assert SendForm({"note": "", "last_sent": "0"}).is_valid()
    assert not SendForm({"note": "ok", "last_sent": "yesterday"}).is_valid()


def test_the_note_travels_in_the_outbox_row_and_the_task_carries_only_its_id(
    draft, monkeypatch, django_capture_on_commit_callbacks
):
    from crewcommand import tasks
    from crewcommand.lib.activity import Actor
    from crewcommand.models import Message
    from portal import services

    sent = []
    monkeypatch.setattr(tasks.send_message, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_deliver(estimate=draft, actor=Actor.system(), note=NOTE)
    message = Message.objects.get(template="portal_link")
    assert NOTE in message.body
    # The company's default "estimate sent" SMS is queued too outside its quiet hours (by day
    # in Toronto): each task carries only its message's id.
    assert {"message_id": message.pk} in sent
    assert all(set(item) == {"message_id"} for item in sent)
    assert len({item["message_id"] for item in sent}) == len(sent)  # each queued once
