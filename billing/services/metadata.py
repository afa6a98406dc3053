"""The keys CrewCommand writes into the metadata of the Checkout Sessions, PaymentIntents and
refunds it makes at Stripe, and reads back from webhooks to find and check its own rows."""

from __future__ import annotations

META_PAYMENT = "cc_payment"

META_COMPANY = "cc_company"

META_INVOICE = "cc_invoice"

META_ESTIMATE = "cc_estimate"

META_REFUND = "cc_refund"
