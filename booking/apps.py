from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "service_request.received": _("%(actor)s requested %(service)s"),
    "service_request.converted": _("%(actor)s made job “%(title)s” from %(name)s's request"),
    "service_request.dismissed": _("%(actor)s dismissed %(name)s's request: %(reason)s"),
    "booking.settings_updated": _("%(actor)s updated the booking page"),
}


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = _("Booking")
    default_auto_field = "django.db.models.BigAutoField"
    # Called by ``manage.py seed_demo`` after the core's demo data.
    demo_seed = "booking.seed.demo_seed"

    def ready(self) -> None:
        from booking import selectors
        from crewcommand.lib import activity, nav, variables
        from portal import slots

        activity.register(ACTIVITY_SENTENCES)
        # Message templates' {booking_link} (automations; the core's registry).
        variables.register("booking_link", lambda subject: selectors.booking_url(subject.company))
        # The dashboard's sidebar: the inbox, with the count of requests nobody handled yet.
        nav.register(
            nav.NavEntry(
                label=_("Requests"),
                url_name="booking:inbox",
                namespace="booking",
                badge=selectors.new_count,
                badge_label=_("new"),
            )
        )
        # The portal's home: "Request service".
        slots.fill("home_actions", "booking/_portal_home_request.html")
