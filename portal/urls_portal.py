"""Customer portal URLs, all under ``/p/<token>/``. ``PortalMiddleware`` answers for invalid
tokens before any of these is reached."""

from __future__ import annotations

from django.urls import path

from portal import views_portal

app_name = "portal"

estimate = "<str:token>/estimates/<pid:estimate_id>/"
invoice = "<str:token>/invoices/<pid:invoice_id>/"

urlpatterns = [
    path("<str:token>/", views_portal.home, name="home"),
    path("<str:token>/language/", views_portal.choose_language, name="language"),
    path("<str:token>/code/", views_portal.code_request, name="code"),
    path(estimate, views_portal.estimate, name="estimate"),
    path(f"{estimate}totals/", views_portal.estimate_totals, name="estimate_totals"),
    path(f"{estimate}choose/", views_portal.estimate_choose, name="estimate_choose"),
    path(f"{estimate}accept/", views_portal.estimate_accept, name="estimate_accept"),
    path(f"{estimate}decline/", views_portal.estimate_decline, name="estimate_decline"),
    path(f"{estimate}changes/", views_portal.estimate_changes, name="estimate_changes"),
    path(f"{estimate}pdf/", views_portal.estimate_pdf, name="estimate_pdf"),
    path(invoice, views_portal.invoice, name="invoice"),
    path(f"{invoice}pdf/", views_portal.invoice_pdf, name="invoice_pdf"),
]
