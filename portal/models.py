"""Portal links (how a customer without an account reaches their documents) and signatures
(the audit record of a customer accepting an estimate).

A link's secret token is never stored: only its SHA-256 (``token_hash``) is, and the raw token
exists only in the URL handed to the customer. Links are named in the dashboard and the activity
log by a short, non-secret ``reference`` ("L-7F3K").
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.ids import new_public_id
from crewcommand.models import Company, Contact, Customer, TenantModel
from documents.models import Estimate, EstimateRevision, Invoice


class LinkChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    MANUAL = "manual", _("Copied from the dashboard")
    FRESH = "fresh", _("Fresh link requested by the customer")
    DEMO = "demo", _("Demo data")


class Device(models.TextChoices):
    PHONE = "phone", _("Phone")
    TABLET = "tablet", _("Tablet")
    DESKTOP = "desktop", _("Computer")
    OTHER = "other", _("Other")


class LinkStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


def closed_link_expiry(
    *, closed_at: dt.datetime, days: int | None, keep_until: dt.datetime | None
) -> dt.datetime | None:
    """The moment links to a document closed at ``closed_at`` stop opening it: ``days`` later
    (None or 0: never), or ``keep_until`` if the contractor extended the link past that."""
    if not days:
        return None
    planned = closed_at + dt.timedelta(days=days)
    return max(planned, keep_until) if keep_until is not None else planned


class PortalLink(TenantModel):
    """A secret link to a customer's documents: all of them, or one estimate or invoice."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="portal_links")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_links")
    # Who the link was given to (one contact of the customer); each is revoked on its own.
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="portal_links"
    )
    estimate = models.ForeignKey(
        Estimate, on_delete=models.CASCADE, null=True, blank=True, related_name="portal_links"
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, null=True, blank=True, related_name="portal_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    reference = models.CharField(_("reference"), max_length=12, editable=False)
    channel = models.CharField(
        _("channel"), max_length=10, choices=LinkChannel.choices, default=LinkChannel.MANUAL
    )
    sent_to = models.CharField(_("sent to"), max_length=254, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    # The contractor extended the link past its closed document's expiry (``closed_expiry``):
    # it keeps opening the document until then.
    keep_until = models.DateTimeField(_("kept open until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_viewed_at = models.DateTimeField(_("first viewed"), null=True, blank=True)
    last_viewed_at = models.DateTimeField(_("last viewed"), null=True, blank=True)
    view_count = models.PositiveIntegerField(_("views"), default=0)
    last_device = models.CharField(_("device"), max_length=10, choices=Device.choices, blank=True)

    class Meta:
        verbose_name = _("portal link")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(estimate__isnull=True) | models.Q(invoice__isnull=True),
                name="portal_link_one_document_at_most",
            ),
            models.UniqueConstraint(
                fields=["company", "reference"], name="portal_link_reference_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def document(self) -> Estimate | Invoice | None:
        return self.estimate or self.invoice

    @property
    def closed_expiry(self) -> dt.datetime | None:
        """When the link stops opening its document because the document closed (paid, void,
        declined: ``documents.models``): the company's ``portal_closed_link_days`` after it
        closed, or later if the contractor extended it (``keep_until``). None: the document is
        open, the link names no document, or the company keeps such links (empty setting).

        Derived, never stored, so a page's GET writes nothing and a change of the setting
        applies to every link at once. Reads the link's document and company: select them
        with the link."""
        document = self.document
        closed = document.closed_at if document is not None else None
        if closed is None:
            return None
        return closed_link_expiry(
            closed_at=closed, days=self.company.portal_closed_link_days, keep_until=self.keep_until
        )

    @property
    def planned_expiry(self) -> dt.datetime | None:
        """When the link stops working, whichever comes first: its own lifetime
        (``expires_at``) or its closed document's expiry (``closed_expiry``)."""
        dates = [d for d in (self.expires_at, self.closed_expiry) if d is not None]
        return min(dates) if dates else None

    def status_at(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return LinkStatus.REVOKED
        planned = self.planned_expiry
        if planned is not None and planned <= now:
            return LinkStatus.EXPIRED
        return LinkStatus.ACTIVE

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    @property
    def status_label(self) -> str:
        return str(LinkStatus(self.status).label)

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        return self.status_at(now or timezone.now()) == LinkStatus.ACTIVE


class SignatureMethod(models.TextChoices):
    DRAWN = "drawn", _("Drawn")
    TYPED = "typed", _("Typed")


class Signature(models.Model):
    """The audit record of one acceptance: who signed which revision, how, when and from where,
    a snapshot of everything the customer saw (``canonical_json``, see ``portal.canonical``) with
    its public SHA-256, and a keyed seal over all of it (``portal.seal``). Rows are never
    edited; the signed PDF is rendered from the snapshot."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=20, unique=True, default=new_public_id, editable=False)
    estimate = models.OneToOneField(Estimate, on_delete=models.PROTECT, related_name="signature")
    revision = models.ForeignKey(EstimateRevision, on_delete=models.PROTECT, related_name="+")
    link = models.ForeignKey(
        PortalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="signatures"
    )
    link_reference = models.CharField(_("link used"), max_length=12)
    # The contact the link used belonged to, and their name as it was when they signed.
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="signatures"
    )
    contact_name = models.CharField(_("contact"), max_length=150, blank=True)
    # Step-up: a one-time code sent to that contact was entered before signing (channel: how).
    step_up_channel = models.CharField(_("code verified by"), max_length=10, blank=True)
    step_up_verified_at = models.DateTimeField(_("code verified"), null=True, blank=True)
    signer_name = models.CharField(_("signer name"), max_length=150)
    method = models.CharField(_("method"), max_length=10, choices=SignatureMethod.choices)
    # Built on the server from the pen strokes or the typed name; never the client's markup.
    image_svg = models.TextField(_("signature image (SVG)"))
    signed_at = models.DateTimeField(_("signed"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=500, blank=True)
    consent_text = models.TextField(_("consent shown"))
    selection = models.JSONField(_("selected options"), default=dict)
    selection_summary = models.JSONField(_("selection summary"), default=list)
    canonical_version = models.PositiveSmallIntegerField(default=1)
    canonical_json = models.TextField(_("signed content"))
    content_sha256 = models.CharField(_("SHA-256 of the signed content"), max_length=64)
    # HMAC-SHA256 over every field above, keyed outside the database (portal.seal).
    seal_key_id = models.CharField(_("seal key"), max_length=16, blank=True)
    seal = models.CharField(_("seal"), max_length=64, blank=True)
    sealed_at = models.DateTimeField(_("sealed"), null=True, blank=True)
    # Rows signed before seals existed, sealed later by a migration: the seal proves nothing
    # about changes made before ``sealed_at``.
    sealed_retroactively = models.BooleanField(_("sealed retroactively"), default=False)

    class Meta:
        verbose_name = _("signature")
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"{self.signer_name} · {self.estimate}"


class CodePurpose(models.TextChoices):
    SIGN = "sign", _("Sign an estimate")
    PAY = "pay", _("Pay an invoice")


class CodeChallenge(models.Model):
    """A one-time code sent to a link's contact before signing or paying (step-up).

    The code itself is never stored: only an HMAC of it under a key derived from
    ``SECRET_KEY``, with this row's random salt (``portal.stepup``). A challenge allows
    ``MAX_TRIES`` tries, lives ``CODE_MINUTES``, and is spent by the signature or payment it
    allowed (``used_at``); a newer challenge for the same link and purpose replaces it."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey(PortalLink, on_delete=models.CASCADE, related_name="code_challenges")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    purpose = models.CharField(max_length=10, choices=CodePurpose.choices)
    channel = models.CharField(max_length=10)
    salt = models.CharField(max_length=32, editable=False)
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["link", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for link {self.link_id}"
