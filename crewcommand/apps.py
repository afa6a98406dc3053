from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrewcommandConfig(AppConfig):
    name = "crewcommand"
    verbose_name = _("CrewCommand")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crewcommand import checks  # noqa: F401 - registers the system checks
