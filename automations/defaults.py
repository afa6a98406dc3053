"""The automations every company starts with (``services.defaults_create`` for a new company;
the migration ``0002`` for the companies that existed before). Plain data, so the migration can
use it as it is.

"Send" on an estimate or invoice already emails the customer their link
(``portal.services.estimate_deliver`` / ``invoice_deliver``) and billing already emails a
receipt for every payment, so the defaults for those three events are their SMS companions:
SMS only, and an email never goes out twice.
"""

from __future__ import annotations

DEFAULTS: list[dict[str, object]] = [
    {
        "key": "estimate_sent_sms",
        "name": "Estimate sent (SMS)",
        "trigger": "estimate_sent",
        "channel": "sms",
        "body": "Hi {customer_name}, {company_name} sent you estimate {document_number}: "
        "{portal_link}",
    },
    {
        "key": "estimate_followup_3",
        "name": "Estimate follow-up after 3 days",
        "trigger": "estimate_unanswered",
        "wait": 3,
        "wait_unit": "days",
        "channel": "preferred",
        "subject": "Any questions about estimate {document_number}?",
        "body": "Hi {customer_name}, just checking in on estimate {document_number} from "
        "{company_name}. You can accept it or ask for changes here: {portal_link}",
    },
    {
        "key": "invoice_sent_sms",
        "name": "Invoice sent (SMS)",
        "trigger": "invoice_sent",
        "channel": "sms",
        "body": "{company_name}: invoice {document_number}, {amount_due} due {due_date}. "
        "Pay: {payment_link}",
    },
    {
        "key": "invoice_overdue_3",
        "name": "Invoice overdue by 3 days",
        "trigger": "invoice_overdue",
        "wait": 3,
        "wait_unit": "days",
        "channel": "preferred",
        "subject": "Invoice {document_number} is past due",
        "body": "Hi {customer_name}, a friendly reminder that invoice {document_number} "
        "({amount_due}) was due {due_date}. Pay online: {payment_link}",
    },
    {
        "key": "invoice_overdue_10",
        "name": "Invoice overdue by 10 days",
        "trigger": "invoice_overdue",
        "wait": 10,
        "wait_unit": "days",
        "channel": "both",
        "subject": "Invoice {document_number} is 10 days past due",
        "body": "Hi {customer_name}, invoice {document_number} from {company_name} "
        "({amount_due}) is now 10 days past due. Please pay here: {payment_link}",
    },
    {
        "key": "payment_receipt_sms",
        "name": "Payment received (SMS)",
        "trigger": "payment_received",
        "channel": "sms",
        "body": "Thank you {customer_name}! {company_name} received your payment on "
        "{document_number}. Your receipt is on its way by email.",
    },
    {
        "key": "job_reminder_24h",
        "name": "Job reminder the day before",
        "trigger": "job_reminder",
        "wait": 24,
        "wait_unit": "hours",
        "channel": "preferred",
        "subject": "Reminder: {company_name} is coming {job_date}",
        "body": "Hi {customer_name}, a reminder that {company_name} is scheduled for "
        "{job_date}. Details: {portal_link}",
    },
    {
        "key": "review_request",
        "name": "Review request after the job",
        "trigger": "job_completed",
        "wait": 2,
        "wait_unit": "hours",
        "channel": "preferred",
        "kind": "commercial",
        "subject": "How did {company_name} do?",
        "body": "Thanks for choosing {company_name}, {customer_name}! Would you leave us a "
        "quick Google review? {review_link}",
    },
    {
        "key": "rebooking_reminder",
        "name": "Rebooking reminder after 6 months",
        "trigger": "job_completed",
        "wait": 180,
        "wait_unit": "days",
        "channel": "preferred",
        "kind": "commercial",
        "subject": "Time for your next visit from {company_name}?",
        "body": "Hi {customer_name}, it's been 6 months since {company_name}'s last visit. "
        "Book your next one here: {booking_link}",
    },
]


def rows_for(company_id: int) -> list[dict[str, object]]:
    """The default automations' field values for one company (offset left to the caller)."""
    return [
        {
            "company_id": company_id,
            "wait": 0,
            "wait_unit": "hours",
            "recipient": "customer",
            "kind": "transactional",
            "enabled": True,
            "subject": "",
            **default,
        }
        for default in DEFAULTS
    ]
