"""Email for the core (invitations). Messages are rendered from
``templates/emails/<name>.{subject,txt,html}`` and sent by a Celery task after the transaction
commits, so a rolled-back change never sends mail."""

from __future__ import annotations

import logging
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from crewcommand.lib.text import single_line
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


def mailbox(name: str, address: str) -> str:
    """``"Name" <address>`` for an email header, the name made one line and quoted.

    Names come from rows that may predate input normalisation; a line break left in one would
    make Django refuse the whole message (header injection), so it is flattened here, where the
    header is built."""
    name = single_line(name)
    return formataddr((name, address)) if name else address


def deliver_email(*, to: str, template: str, context: dict[str, str], from_name: str = "") -> None:
    """Render ``templates/emails/<template>.*`` and send it to the bare address ``to``.
    ``from_name`` replaces the display name of ``DEFAULT_FROM_EMAIL`` (the company a customer's
    email comes from). The subject is flattened to one line: it carries company and customer
    names, and Django refuses a header with a line break, which would drop the email."""
    subject = single_line(render_to_string(f"emails/{template}.subject", context))
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    sender = settings.DEFAULT_FROM_EMAIL
    if from_name:
        sender = mailbox(from_name, parseaddr(sender)[1])
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=sender, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()
    logger.info("email sent template=%s", template)
