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
}


class CrewcommandConfig(AppConfig):
    name = "crewcommand"
    verbose_name = _("CrewCommand")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crewcommand import checks  # noqa: F401 - registers the system checks
        from crewcommand.lib import activity, nav

        activity.register(ACTIVITY_SENTENCES)
        # The dashboard's sidebar: every email and text sent (the outbox).
        nav.register(
            nav.NavEntry(
                label=_("Messages"), url_name="messages:message_list", namespace="messages"
            )
        )
