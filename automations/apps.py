from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "automation.saved": _("%(actor)s saved automation “%(name)s”"),
    "automation.enabled": _("%(actor)s turned on automation “%(name)s”"),
    "automation.disabled": _("%(actor)s turned off automation “%(name)s”"),
}


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = _("Automations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from automations import receivers, services
        from crewcommand.lib import activity, nav
        from crewcommand.models import Company

        activity.register(ACTIVITY_SENTENCES)
        # Event triggers: the activity log's verbs, inside the recording transaction.
        activity.subscribe(services.EVENT_VERBS, services.on_activity)
        # A new company starts with the default automations. The core can't name this app, so
        # the app listens for the company's creation (the one signal: it is not domain flow).
        post_save.connect(
            receivers.company_created, sender=Company, dispatch_uid="automations-defaults"
        )
        nav.register(
            nav.NavEntry(
                label=_("Automations"), url_name="automations:list", namespace="automations"
            )
        )
