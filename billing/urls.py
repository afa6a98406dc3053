"""Contractor payment pages under /app/billing/ (namespace ``billing_dashboard``)."""

from __future__ import annotations

from django.urls import path

from billing import views

app_name = "billing_dashboard"

urlpatterns = [
    path("payments/", views.payment_list, name="payment_list"),
    path("payments/<pid:payment_id>/", views.payment_detail, name="payment_detail"),
    path("payments/<pid:payment_id>/refund/", views.refund, name="refund"),
    path("payments/<pid:payment_id>/move/", views.payment_move, name="payment_move"),
    path("issues/", views.issue_list, name="issue_list"),
    path("tips/", views.tips, name="tips"),
    path("customers/<pid:customer_id>/autopay/", views.customer_autopay, name="customer_autopay"),
    path("issues/<pid:issue_id>/resolve/", views.issue_resolve, name="issue_resolve"),
    path("invoices/<pid:invoice_id>/payments/", views.invoice_payments, name="invoice_payments"),
    path("invoices/<pid:invoice_id>/payments/new/", views.payment_record, name="payment_record"),
    path(
        "estimates/<pid:estimate_id>/payments/", views.estimate_payments, name="estimate_payments"
    ),
    path("estimates/<pid:estimate_id>/payments/new/", views.deposit_record, name="deposit_record"),
    path("jobs/<pid:job_id>/payments/", views.job_payments, name="job_payments"),
    path("stripe/", views.stripe_settings, name="stripe"),
    path("stripe/link/", views.stripe_link, name="stripe_link"),
    path("stripe/onboard/", views.stripe_onboard, name="stripe_onboard"),
    path("stripe/return/", views.stripe_return, name="stripe_return"),
    path("stripe/disconnect/", views.stripe_disconnect, name="stripe_disconnect"),
]
