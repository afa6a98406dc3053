from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "portal_link.created": _("%(actor)s created portal link %(reference)s"),
    "portal_link.emailed": _("%(actor)s emailed portal link %(reference)s to %(to)s"),
    "portal_link.texted": _("%(actor)s texted portal link %(reference)s to %(to)s"),
    "portal_link.emailed_with_note": _(
        "%(actor)s emailed portal link %(reference)s to %(to)s with a note: “%(excerpt)s”"
    ),
    "portal_link.revoked": _("%(actor)s revoked portal link %(reference)s"),
    "portal_link.regenerated": _("%(actor)s replaced portal link %(reference)s with %(new)s"),
    "portal_link.extended": _("%(actor)s extended portal link %(reference)s until %(until)s"),
    "portal_link.reissued": _(
        "%(actor)s asked for a fresh link; %(new)s was sent to the contact on file"
    ),
    "stepup.code_sent": _("%(actor)s asked for a one-time code (sent by %(channel)s)"),
    "estimate.viewed": _("%(actor)s viewed estimate %(number)s"),
    "invoice.viewed": _("%(actor)s viewed invoice %(number)s"),
    "estimate.accepted": _("%(actor)s accepted and signed estimate %(number)s"),
    "estimate.declined": _("%(actor)s declined estimate %(number)s"),
    "estimate.changes_requested": _("%(actor)s asked for changes to estimate %(number)s"),
}


class PortalConfig(AppConfig):
    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"
    # ``manage.py seed_demo`` calls this after the core data and the apps below this one.
    demo_seed = "portal.seed.seed_portal_links"

    def ready(self) -> None:
        from crewcommand.lib import activity
        from documents import actions
        from portal import services, views

        activity.register(ACTIVITY_SENTENCES)
        # A contact taken off a customer loses their links; the others keep theirs.
        activity.subscribe(["contact.removed"], services.contact_removed)
        # Sending a document is the portal's: mark it sent, make its link, email it. The
        # contractor first sees the email (and may add a note): the send preview.
        preview = actions.Confirm(template="portal/send_preview.html", prepare=views.send_prepare)
        actions.register(
            "estimate", "send", services.estimate_deliver, _("Estimate sent."), confirm=preview
        )
        actions.register(
            "invoice", "send", services.invoice_deliver, _("Invoice sent."), confirm=preview
        )
