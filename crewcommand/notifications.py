"""Email for the core (invitations). Messages are rendered from
``templates/emails/<name>.{subject,txt,html}`` and sent by a Celery task after the transaction
commits, so a rolled-back change never sends mail."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from crewcommand.models import Invitation

logger = logging.getLogger(__name__)


def send_invitation(*, invitation: Invitation) -> None:
    """Queue the invitation email after commit. The task re-signs the link itself, so the token
    never travels through the broker or appears in task logs."""
    from crewcommand.tasks import send_invitation_email

    send_invitation_email.delay_on_commit(invitation_id=invitation.pk)


def deliver_invitation(*, invitation_id: int) -> None:
    from crewcommand.services import invitation_token

    invitation = Invitation.objects.select_related("company", "invited_by").get(pk=invitation_id)
    if invitation.accepted_at or invitation.revoked_at:
        return
    token = invitation_token(invitation)
    context = {
        "company": invitation.company.name,
        "role": str(invitation.get_role_display()),
        "inviter": invitation.invited_by.get_full_name() if invitation.invited_by else "",
        "url": settings.SITE_URL + reverse("invitation_accept", args=[token]),
        "days": str(settings.INVITATION_MAX_AGE_DAYS),
    }
    deliver_email(to=invitation.email, template="invitation", context=context)


def deliver_email(*, to: str, template: str, context: dict[str, str]) -> None:
    subject = render_to_string(f"emails/{template}.subject", context).strip()
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()
    logger.info("email sent template=%s", template)
