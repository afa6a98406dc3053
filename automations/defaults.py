"""The automations every company starts with (``services.defaults_create`` for a new company;
the migration ``0002`` for the companies that existed before). Plain data, so the migration can
use it as it is.

"Send" on an estimate or invoice already emails the customer their link
(``portal.services.estimate_deliver`` / ``invoice_deliver``) and billing already emails a
receipt for every payment, so the defaults for those three events are their SMS companions:
SMS only, and an email never goes out twice.

Each default has a Quebec French version (``FRENCH``: *vous*, *soumission*, *courriel*; the
variables render amounts and dates the Canadian French way, ``1 234,56 $``, ``25 novembre``).
Apostrophes are straight and there is no non-breaking space before a colon, so a text costs no
more than it must (accented letters other than é è à ù already make most of them UCS-2).
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


# The French subject and body of each default, by key.
FRENCH: dict[str, dict[str, str]] = {
    "estimate_sent_sms": {
        "body_fr": "Bonjour {customer_name}, {company_name} vous a envoyé la soumission "
        "{document_number} : {portal_link}",
    },
    "estimate_followup_3": {
        "subject_fr": "Des questions sur la soumission {document_number}?",
        "body_fr": "Bonjour {customer_name}, nous faisons un suivi de la soumission "
        "{document_number} de {company_name}. Vous pouvez l'accepter ou demander des "
        "changements ici : {portal_link}",
    },
    "invoice_sent_sms": {
        "body_fr": "{company_name} : facture {document_number}, {amount_due} à payer d'ici le "
        "{due_date}. Pour payer : {payment_link}",
    },
    "invoice_overdue_3": {
        "subject_fr": "La facture {document_number} est en retard",
        "body_fr": "Bonjour {customer_name}, petit rappel : la facture {document_number} "
        "({amount_due}) était due le {due_date}. Vous pouvez la payer en ligne : {payment_link}",
    },
    "invoice_overdue_10": {
        "subject_fr": "La facture {document_number} est en retard de 10 jours",
        "body_fr": "Bonjour {customer_name}, la facture {document_number} de {company_name} "
        "({amount_due}) est maintenant en retard de 10 jours. Veuillez la payer ici : "
        "{payment_link}",
    },
    "payment_receipt_sms": {
        "body_fr": "Merci {customer_name}! {company_name} a bien reçu votre paiement pour "
        "{document_number}. Votre reçu vous sera envoyé par courriel.",
    },
    "job_reminder_24h": {
        "subject_fr": "Rappel : visite de {company_name} le {job_date}",
        "body_fr": "Bonjour {customer_name}, petit rappel : {company_name} doit passer chez "
        "vous le {job_date}. Détails : {portal_link}",
    },
    "review_request": {
        "subject_fr": "Comment s'est passée la visite de {company_name}?",
        "body_fr": "Merci d'avoir choisi {company_name}, {customer_name}! Auriez-vous un moment "
        "pour nous laisser un avis Google? {review_link}",
    },
    "rebooking_reminder": {
        "subject_fr": "Le temps d'une prochaine visite de {company_name}?",
        "body_fr": "Bonjour {customer_name}, la dernière visite de {company_name} remonte à "
        "6 mois. Vous pouvez réserver la prochaine ici : {booking_link}",
    },
}


def rows_for(company_id: int, *, french: bool = False) -> list[dict[str, object]]:
    """The default automations' field values for one company (offset left to the caller),
    with their French subject and body when ``french`` (migration ``0002`` ran before those
    fields existed, so it asks without)."""
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
            **(FRENCH[str(default["key"])] if french else {}),
        }
        for default in DEFAULTS
    ]
