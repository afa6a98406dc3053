"""Contractor URLs of the portal (under ``/app/portal/``): the links panel for an estimate,
invoice or customer, link actions, the live status badge and signature checks."""

from __future__ import annotations

from django.urls import path, register_converter

from portal import views

app_name = "portal_dashboard"


class PanelKindConverter:
    """What a links panel is about: ``estimate``, ``invoice`` or ``customer``."""

    regex = "estimate|invoice|customer"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PanelKindConverter, "panelkind")


class DocumentKindConverter(PanelKindConverter):
    """An estimate or an invoice (what can be previewed as the customer)."""

    regex = "estimate|invoice"


register_converter(DocumentKindConverter, "dockind")

subject = "links/<panelkind:kind>/<pid:doc_id>/"

urlpatterns = [
    path(subject, views.links_panel, name="links_panel"),
    path(f"{subject}new/", views.link_create, name="link_create"),
    path(f"{subject}status/", views.status_badge, name="status_badge"),
    path("links/<pid:link_id>/revoke/", views.link_revoke, name="link_revoke"),
    path("links/<pid:link_id>/regenerate/", views.link_regenerate, name="link_regenerate"),
    path("links/<pid:link_id>/extend/", views.link_extend, name="link_extend"),
    path("preview/<dockind:kind>/<pid:doc_id>/", views.preview, name="preview"),
    path("signatures/<pid:signature_id>/verify/", views.signature_verify, name="signature_verify"),
    path("signatures/<pid:signature_id>/pdf/", views.signature_pdf, name="signature_pdf"),
]
