from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "estimate.created": _("%(actor)s created estimate %(number)s"),
    "estimate.updated": _("%(actor)s edited estimate %(number)s"),
    "estimate.revised": _("%(actor)s started revision %(revision)s of %(number)s"),
    "estimate.sent": _("%(actor)s sent estimate %(number)s"),
    "estimate.duplicated": _("%(actor)s duplicated %(source)s as %(number)s"),
    "estimate.converted": _("%(actor)s turned %(number)s into invoice %(invoice)s"),
    "invoice.created": _("%(actor)s created invoice %(number)s"),
    "invoice.updated": _("%(actor)s edited invoice %(number)s"),
    "invoice.sent": _("%(actor)s sent invoice %(number)s"),
    "invoice.voided": _("%(actor)s voided invoice %(number)s"),
    "invoice.duplicated": _("%(actor)s duplicated %(source)s as %(number)s"),
}


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = _("Estimates and invoices")
    default_auto_field = "django.db.models.BigAutoField"
    # ``manage.py seed_demo`` calls this after the core data and the apps below this one.
    demo_seed = "documents.seed.seed_documents"

    def ready(self) -> None:
        from crewcommand.lib import activity
        from documents import actions, services

        activity.register(ACTIVITY_SENTENCES)
        # The page actions documents owns; "send" is the portal's, "convert" billing's.
        actions.register("estimate", "revise", services.estimate_revise, _("New revision started."))
        actions.register(
            "estimate", "duplicate", services.estimate_duplicate, _("Estimate duplicated.")
        )
        actions.register("invoice", "void", services.invoice_void, _("Invoice voided."))
        actions.register(
            "invoice", "duplicate", services.invoice_duplicate, _("Invoice duplicated.")
        )
        # A Celery worker loads WeasyPrint, its fonts and the stylesheet when it starts, not on
        # its first PDF (which then took about a second more).
        from celery.signals import worker_process_init

        worker_process_init.connect(_warm_pdf_renderer, weak=False)


def _warm_pdf_renderer(**_kwargs: object) -> None:
    from documents import pdf

    pdf.warm_renderer()
