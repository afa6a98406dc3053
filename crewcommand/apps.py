from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "company.created": _("%(actor)s created the company"),
    "company.updated": _("%(actor)s updated company settings"),
    "member.invited": _("%(actor)s invited %(email)s as %(role)s"),
    "member.joined": _("%(actor)s joined the team"),
    "invitation.revoked": _("%(actor)s revoked the invitation for %(email)s"),
    "customer.created": _("%(actor)s added customer %(name)s"),
    "customer.updated": _("%(actor)s updated customer %(name)s"),
    "job.created": _("%(actor)s created job “%(title)s”"),
    "job.updated": _("%(actor)s updated job “%(title)s”"),
    "job.status_changed": _("%(actor)s moved job “%(title)s” to %(status)s"),
    "message.queued": _("%(actor)s sent a message"),
    "contact.added": _("%(actor)s added contact %(name)s"),
    "contact.updated": _("%(actor)s updated contact %(name)s"),
    "contact.removed": _("%(actor)s removed contact %(name)s"),
}


class CrewcommandConfig(AppConfig):
    name = "crewcommand"
    verbose_name = _("CrewCommand")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from crewcommand import (
            checks,  # noqa: F401 - registers the system checks
            services,
        )
        from crewcommand.lib import activity, nav
        from crewcommand.models import Customer

        activity.register(ACTIVITY_SENTENCES)
        # Every customer has a primary contact (its own email and phone), however it is made.
        post_save.connect(services.customer_saved, sender=Customer, dispatch_uid="customer_contact")
        # The dashboard's sidebar: every email and text sent (the outbox).
        nav.register(
            nav.NavEntry(
                label=_("Messages"), url_name="messages:message_list", namespace="messages"
            )
        )
