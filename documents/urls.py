from __future__ import annotations

from django.urls import path

from documents import views

app_name = "documents"


def _document_routes(prefix: str, kind: str, id_name: str) -> list:
    doc = f"{prefix}/<pid:{id_name}>"
    kw = {"kind": kind}
    return [
        path(f"{doc}/pdf/", views.document_pdf, kw, name=f"{kind}_pdf"),
        path(f"{doc}/lines/", views.line_add, kw, name=f"{kind}_line_add"),
        path(f"{doc}/lines/<pid:line_id>/", views.line_edit, kw, name=f"{kind}_line_edit"),
        path(
            f"{doc}/lines/<pid:line_id>/delete/", views.line_delete, kw, name=f"{kind}_line_delete"
        ),
        path(f"{doc}/lines/<pid:line_id>/move/", views.line_move, kw, name=f"{kind}_line_move"),
        path(
            f"{doc}/<slug:action>/",
            views.document_action,
            kw,
            name=f"{kind}_action",
        ),
    ]


urlpatterns = [
    path("estimates/", views.estimate_list, name="estimate_list"),
    path("estimates/new/", views.estimate_create, name="estimate_create"),
    path("estimates/<pid:estimate_id>/", views.estimate_detail, name="estimate_detail"),
    path(
        "estimates/<pid:estimate_id>/details/",
        views.document_settings,
        {"kind": "estimate"},
        name="estimate_settings",
    ),
    path(
        "estimates/<pid:estimate_id>/revisions/<int:revision>/",
        views.estimate_revision,
        name="estimate_revision",
    ),
    *_document_routes("estimates", "estimate", "estimate_id"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/new/", views.invoice_create, name="invoice_create"),
    path("invoices/<pid:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path(
        "invoices/<pid:invoice_id>/details/",
        views.document_settings,
        {"kind": "invoice"},
        name="invoice_settings",
    ),
    *_document_routes("invoices", "invoice", "invoice_id"),
]
