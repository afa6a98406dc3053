"""Customer portal URLs, all under ``/p/<token>/``. ``PortalMiddleware`` answers for invalid
tokens before any of these is reached."""

from __future__ import annotations

from django.urls import include, path

from portal import views

app_name = "portal"

estimate = "<str:token>/estimates/<pid:estimate_id>/"
invoice = "<str:token>/invoices/<pid:invoice_id>/"

urlpatterns = [
    path("<str:token>/", views.home, name="home"),
    path(estimate, views.estimate, name="estimate"),
    path(f"{estimate}totals/", views.estimate_totals, name="estimate_totals"),
    path(f"{estimate}accept/", views.estimate_accept, name="estimate_accept"),
    path(f"{estimate}decline/", views.estimate_decline, name="estimate_decline"),
    path(f"{estimate}changes/", views.estimate_changes, name="estimate_changes"),
    path(f"{estimate}pdf/", views.estimate_pdf, name="estimate_pdf"),
    path(invoice, views.invoice, name="invoice"),
    path(f"{invoice}pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("", include("billing.urls_portal")),  # /p/<token>/pay/… (billing)
]
