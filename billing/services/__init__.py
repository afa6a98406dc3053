"""State changes of payments and refunds.

The rules every function keeps:

* A change to a document's money happens inside one transaction that first locks the document
  row (an invoice; for deposits the estimate, then the invoice made from it). Lock order is
  always estimate → invoice, so two changes never deadlock. That lock covers the document's
  payments and refunds: every change to their state or amounts takes it first, so they need no
  lock of their own. The only writes without it are single conditional UPDATEs (the receipt and
  refund-notice claims, an attempt's return mark and session id) whose condition a locked
  change either leaves alone or makes false. ``tests/billing/test_races.py`` holds two writers
  inside each lock at once.
* ``Invoice.amount_paid`` and ``deposit_credit`` are recomputed from the payment and refund rows
  under that lock, never incremented: applying the same fact twice cannot count it twice.
* Stripe is never called while a row lock is held. Card attempts are written first, Stripe is
  called after commit, and the answer is applied in a new locked transaction.
* Money is applied only if it fits: a payment that would overpay, or that differs from what
  was asked, is recorded as succeeded but not applied, and a ``PaymentIssue`` is opened.

The public API is re-exported here: ``from billing import services``.
"""

from __future__ import annotations

from billing.services.checkout import (
    CheckoutStart,
    attempt_abandon,
    checkout_start,
    unconfirmed_message,
)
from billing.services.connect import (
    stripe_account_link,
    stripe_account_refresh,
    stripe_account_update,
    stripe_disconnect,
    stripe_onboarding_start,
    stripe_options_update,
)
from billing.services.events import (
    Claim,
    EventIn,
    event_claim,
    event_finish,
    event_store,
    events_due,
    events_requeued,
)
from billing.services.manual import (
    deposit_credit_apply,
    estimate_convert,
    issue_resolve,
    payment_record,
)
from billing.services.metadata import (
    META_COMPANY,
    META_ESTIMATE,
    META_INVOICE,
    META_PAYMENT,
    META_REFUND,
)
from billing.services.refunds import (
    AUTO_REFUND_REASON,
    duplicate_refund,
    refund_create,
    refund_idempotency_key,
    refund_metadata,
    refund_retry,
)
from billing.services.returns import attempt_return
from billing.services.stripe_state import (
    Applied,
    payment_refresh,
    stripe_state_apply,
)
from billing.services.transfers import move_targets, payment_move

__all__ = [
    "AUTO_REFUND_REASON",
    "META_COMPANY",
    "META_ESTIMATE",
    "META_INVOICE",
    "META_PAYMENT",
    "META_REFUND",
    "Applied",
    "CheckoutStart",
    "Claim",
    "EventIn",
    "attempt_abandon",
    "attempt_return",
    "checkout_start",
    "deposit_credit_apply",
    "duplicate_refund",
    "estimate_convert",
    "event_claim",
    "event_finish",
    "event_store",
    "events_due",
    "events_requeued",
    "issue_resolve",
    "move_targets",
    "payment_move",
    "payment_record",
    "payment_refresh",
    "refund_create",
    "refund_idempotency_key",
    "refund_metadata",
    "refund_retry",
    "stripe_account_link",
    "stripe_account_refresh",
    "stripe_account_update",
    "stripe_disconnect",
    "stripe_onboarding_start",
    "stripe_options_update",
    "stripe_state_apply",
    "unconfirmed_message",
]
