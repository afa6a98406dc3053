"""Contractor review pages under /app/reviews/ (namespace ``reviews_dashboard``)."""

from __future__ import annotations

from django.urls import path

from reviews import views

app_name = "reviews_dashboard"

urlpatterns = [
    path("", views.review_list, name="review_list"),
    path("settings/", views.review_settings, name="review_settings"),
    path("customers/<pid:customer_id>/", views.customer_panel, name="customer_panel"),
    path("customers/<pid:customer_id>/send/", views.customer_send, name="customer_send"),
    path("customers/<pid:customer_id>/opt-out/", views.customer_opt_out, name="customer_opt_out"),
    path("jobs/<pid:job_id>/", views.job_panel, name="job_panel"),
    path("jobs/<pid:job_id>/send/", views.job_send, name="job_send"),
]
