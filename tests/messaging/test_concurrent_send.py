"""Ten people (or one impatient thumb) press Send on the same invoice preview at once: one link
email goes into the outbox, once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from crewcommand.models import Message
from tests.factories import InvoiceFactory
from tests.portal.helpers import send_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_concurrent_send_presses_on_one_invoice_queue_one_set_of_messages(owner, customer):
    invoice = InvoiceFactory(customer=customer, sent=False)
    url = reverse("documents:invoice_action", args=[invoice.public_id, "send"])
    data = send_data(invoice, "See you Tuesday")
    barrier = threading.Barrier(10)
    codes: list[int] = []

    def press() -> None:
        try:
            client = Client()
            client.force_login(owner.user)
            barrier.wait()
            codes.append(client.post(url, data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(codes) == 10 and all(code < 500 for code in codes)
    rows = Message.objects.filter(template="portal_link", concerning_id=invoice.pk)
    assert rows.count() == 1
    assert rows.get().to == customer.email
