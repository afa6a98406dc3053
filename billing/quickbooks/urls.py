"""QuickBooks pages under /app/billing/quickbooks/ (namespace ``quickbooks``)."""

from __future__ import annotations

from django.urls import path

from billing.quickbooks import views

app_name = "quickbooks"

urlpatterns = [
    path("", views.home, name="overview"),
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("tax-codes/", views.tax_codes, name="tax_codes"),
    path("tax-codes/refresh/", views.tax_codes_refresh, name="tax_codes_refresh"),
    path("log/", views.sync_log, name="log"),
    path("records/<pid:record_id>/resync/", views.resync, name="resync"),
    path("records/<pid:record_id>/resolve/", views.resolve, name="resolve"),
]
