from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's activity verbs and their sentences (rows store the verb; see crewcommand.lib.activity).
ACTIVITY_SENTENCES = {
    "review_request.created": _("%(actor)s made a review link"),
    "review_request.sent": _("%(actor)s asked for a Google review by email (%(to)s)"),
    "review_request.opened": _("%(actor)s opened the review link"),
    "review_request.clicked": _("%(actor)s went on to the Google review page"),
    "review_request.feedback": _("%(actor)s sent private feedback from the review page"),
    "review_request.opted_out": _("%(actor)s noted that the customer doesn't want review requests"),
    "review_request.opted_in": _(
        "%(actor)s noted that the customer may be asked for reviews again"
    ),
    "review_settings.updated": _(
        "%(actor)s set review requests to at most once every %(days)s days"
    ),
}


class ReviewsConfig(AppConfig):
    name = "reviews"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Reviews")
    demo_seed = "reviews.seed.seed_review_requests"

    def ready(self) -> None:
        from crewcommand.lib import activity, nav, variables
        from reviews.services import review_link_variable

        activity.register(ACTIVITY_SENTENCES)
        # Message templates' {review_link} (automations; the core's registry).
        variables.register("review_link", review_link_variable)
        # The dashboard's sidebar: requests sent, opened and clicked.
        nav.register(
            nav.NavEntry(
                label=_("Reviews"),
                url_name="reviews_dashboard:review_list",
                namespace="reviews_dashboard",
            )
        )
