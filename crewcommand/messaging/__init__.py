"""Messaging: the outbox every outgoing email and SMS goes through (core layer, so documents,
portal, billing, booking, reviews and automations can all queue messages).

The interface for other apps is one function::

    from crewcommand.messaging import queue

    message = queue(
        company=company,
        channel="email",            # or "sms" (crewcommand.models.Channel)
        to="ana@example.com",       # email address, or phone (normalised to E.164)
        subject="Invoice INV-0001",  # email only
        body="Plain text …",        # the SMS text, or the email's text part
        html="<p>…</p>",            # email only, optional
        customer=customer,          # optional: shows in the customer's message history
        concerning=invoice,         # optional: any model row (generic reference)
        kind="transactional",       # or "commercial" (CASL: needs consent, gets unsubscribe)
        template="invoice_sent",    # optional label shown in the log
        send_after=None,            # optional: not before this time (reminders)
        key="",                     # optional idempotency key, unique per company
    )

``queue`` must be called inside the transaction that makes the change the message is about
(it opens an atomic block itself otherwise): the ``Message`` row commits or rolls back with
that change, and the Celery task that sends it is scheduled with ``transaction.on_commit``. If
the broker is down at commit, the beat task ``crewcommand.tasks.requeue_messages`` picks the row
up later. With a non-empty ``key``, a second call for the same company returns the first row.

Consent, opt-outs and quiet hours are checked when the worker sends, not here, so a message
queued before a STOP is still blocked; a blocked message is kept with ``blocked_reason``.

Secret links (portal, review, booking tokens) may be in ``body``/``html``: the readable copies
stored on the row are redacted (``crewcommand.lib.logging.redact``) and the full text is stored
sealed (``crewcommand.lib.sealed``, Fernet under a key derived from SECRET_KEY), opened only by
the worker at send time. So raw tokens never sit in the database or the broker in plain text.
"""

from __future__ import annotations

from crewcommand.messaging.outbox import queue
from crewcommand.messaging.segments import sms_segments

__all__ = ["queue", "sms_segments"]
