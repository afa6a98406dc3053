from __future__ import annotations

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from billing.quickbooks import views_public as quickbooks_public
from crewcommand import views
from crewcommand.dashboard import messages as dashboard_messages
from crewcommand.dashboard import views as dashboard
from crewcommand.forms import EmailAuthenticationForm, PasswordResetRequestForm
from crewcommand.lib.ids import PublicIdConverter
from crewcommand.ratelimits import login_guard, post_guard

register_converter(PublicIdConverter, "pid")

dashboard_patterns = [
    path("", dashboard.home, name="home"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<pid:customer_id>/", dashboard.customer_detail, name="customer_detail"),
    path("customers/<pid:customer_id>/edit/", views.customer_edit, name="customer_edit"),
    path(
        "customers/<pid:customer_id>/contacts/new/",
        views.contact_create,
        name="contact_create",
    ),
    path(
        "customers/<pid:customer_id>/contacts/<pid:contact_id>/edit/",
        views.contact_edit,
        name="contact_edit",
    ),
    path(
        "customers/<pid:customer_id>/contacts/<pid:contact_id>/remove/",
        views.contact_remove,
        name="contact_remove",
    ),
    path(
        "customers/<pid:customer_id>/message/",
        dashboard_messages.customer_message,
        name="customer_message",
    ),
    path("jobs/", dashboard.job_list, name="job_list"),
    path("jobs/new/", views.job_create, name="job_create"),
    path("jobs/week/", views.job_week, name="job_week"),
    path("jobs/<pid:job_id>/", dashboard.job_detail, name="job_detail"),
    path("jobs/<pid:job_id>/edit/", views.job_edit, name="job_edit"),
    path("jobs/<pid:job_id>/status/", views.job_status, name="job_status"),
    path("settings/", dashboard.company_settings, name="settings"),
    path("settings/team/", views.team, name="team"),
    path(
        "settings/team/invitations/<pid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
]

message_patterns = [
    path("", dashboard_messages.message_list, name="message_list"),
    path("<pid:message_id>/", dashboard_messages.message_detail, name="message_detail"),
]

auth_patterns = [
    path(
        "login/",
        login_guard(
            auth_views.LoginView.as_view(
                authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        post_guard("password_reset_ip", door="password_reset")(
            auth_views.PasswordResetView.as_view(form_class=PasswordResetRequestForm)
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("signup/confirm/<str:token>/", views.signup_confirm, name="signup_confirm"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("accounts/", include(auth_patterns)),
    path("app/", include((dashboard_patterns, "dashboard"))),
    path("app/messages/", include((message_patterns, "messages"))),
    path("app/", include("documents.urls")),
    path("app/portal/", include("portal.urls")),
    path("app/billing/quickbooks/", include("billing.quickbooks.urls")),
    path("app/billing/", include("billing.urls")),
    path("app/requests/", include("booking.urls")),
    path("app/reviews/", include("reviews.urls")),
    path("app/automations/", include("automations.urls")),
    path("p/", include("portal.urls_portal")),
    path("p/", include("billing.urls_portal")),  # /p/<token>/pay/…
    path("p/", include("booking.urls_portal")),  # /p/<token>/request/…
    path("webhooks/quickbooks/", quickbooks_public.webhook, name="quickbooks_webhook"),
    path("", include("billing.urls_public")),  # /pay/… and /webhooks/…
    path("", include("booking.urls_public")),  # /book/<company-slug>/
    path("r/", include("reviews.urls_public")),  # /r/<token>/: review links
    path("", include("crewcommand.messaging.urls")),  # /webhooks/twilio/…, /u/<token>/
    # The admin's login, behind the same brute-force limits as ours (same URL, matched first).
    path("admin/login/", login_guard(admin.site.login)),
    path("admin/", admin.site.urls),
]

if settings.BENCH_FLOOR_DIR:  # bench/pages.py only (see settings)
    urlpatterns.append(path("__floor__/<slug:name>/", views.bench_floor))

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler403 = "crewcommand.views.permission_denied"
handler500 = "crewcommand.views.server_error"
