from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "payment.received": _("%(actor)s paid %(amount)s by card on %(number)s"),
    "payment.processing": _("%(actor)s started a %(amount)s bank payment on %(number)s"),
    "payment.failed": _("A %(amount)s payment on %(number)s failed"),
    "payment.recorded": _("%(actor)s recorded a %(amount)s %(method)s payment on %(number)s"),
    "payment.flagged": _("A %(amount)s card payment on %(number)s needs attention: %(problem)s"),
    "refund.created": _("%(actor)s refunded %(amount)s on %(number)s"),
    "refund.failed": _("A %(amount)s refund on %(number)s failed"),
    "deposit.credited": _("%(actor)s credited the %(amount)s deposit to invoice %(number)s"),
    "stripe.connected": _("%(actor)s connected Stripe account %(account)s"),
    "stripe.disconnected": _("%(actor)s disconnected Stripe"),
    "stripe.options_updated": _("%(actor)s changed online payment options"),
    "payment.moved_out": _("%(actor)s moved a %(amount)s payment from %(number)s to %(to)s"),
    "payment.moved_in": _("%(actor)s moved a %(amount)s payment from %(from)s to %(number)s"),
    "payment.saved_card_charge": _(
        "%(by)s charged %(amount)s to the saved card %(card)s for %(number)s"
    ),
    "card.saved": _("%(actor)s saved card %(card)s for future invoices (%(number)s)"),
    "card.removed": _("%(actor)s removed the saved card %(card)s"),
    "autopay.on": _("%(actor)s turned on autopay to card %(card)s"),
    "autopay.off": _("%(actor)s turned off autopay"),
    "payment_issue.resolved": _("%(actor)s resolved a payment issue on %(number)s: %(resolution)s"),
    "quickbooks.connected": _("%(actor)s connected QuickBooks company %(realm)s"),
    "quickbooks.disconnected": _("%(actor)s disconnected QuickBooks"),
    "quickbooks.tax_codes": _("%(actor)s changed the QuickBooks tax codes"),
}


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import selectors, services
        from crewcommand.lib import activity
        from documents import actions
        from portal import slots

        activity.register(ACTIVITY_SENTENCES)
        # Converting an estimate credits its paid deposit on the new invoice (billing's part).
        actions.register(
            "estimate",
            "convert",
            services.estimate_convert,
            _("Invoice created from the estimate."),
        )
        # What the portal's pages show about paying (server-side, in the page's context).
        # Keyed: everything they read is in the cached page's key (the link's query brings
        # the document's payments and invoiced state; selectors.portal_slot_state the rest),
        # so they are rendered into the cached page rather than on every answer.
        slots.fill("estimate_deposit", "billing/_portal_estimate_deposit.html", keyed=True)
        slots.fill("invoice_summary", "billing/_portal_invoice_summary.html", keyed=True)
        slots.fill("invoice_pay", "billing/_portal_invoice_pay.html", keyed=True)
        slots.fill("invoice_payments", "billing/_portal_invoice_payments.html", keyed=True)
        # The company's Stripe row, which every Pay slot reads (selectors.stripe_account_for).
        slots.load_with_link("company__stripe_account")
        slots.annotate_link("billing_payments", selectors.link_payments_state)
        slots.annotate_link("billing_invoiced", selectors.link_invoiced_state)
        slots.key_with(selectors.portal_slot_state)
