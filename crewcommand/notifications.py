"""Email for the core (invitations, signup, password reset). Messages are rendered from
``templates/emails/<name>.{subject,txt,html}``. Mail about a company (invitations, and every
app's customer and company mail through ``queue_email``) is an outbox row
(``crewcommand.messaging``) written in the caller's transaction; signup and password-reset mail
(no company yet, or an account secret) still go straight from a Celery task after commit."""

from __future__ import annotations

import logging
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse

from crewcommand.lib.text import single_line
from crewcommand.models import (
    Channel,
    Company,
    Customer,
    Invitation,
    Member,
    Message,
    MessageKind,
    Role,
)

logger = logging.getLogger(__name__)


def queue_email(
    *,
    company: Company,
    to: str,
    template: str,
    context: dict[str, str],
    customer: Customer | None = None,
    concerning: models.Model | None = None,
    kind: str = MessageKind.TRANSACTIONAL,
    key: str = "",
) -> Message:
    """Render ``templates/emails/<template>.*`` now and put it in the outbox (sent after the
    caller's transaction commits, from the company's name, reply-to the company). Links with
    secrets in ``context`` are sealed at rest by the outbox."""
    from crewcommand.messaging import queue

    subject, text, html = render_email(template=template, context=context)
    return queue(
        company=company,
        channel=Channel.EMAIL,
        to=to,
        subject=subject,
        body=text,
        html=html,
        customer=customer,
        concerning=concerning,
        kind=kind,
        template=template,
        key=key,
    )


def send_invitation(*, invitation: Invitation) -> None:
    """Put the invitation email in the outbox (its signed link sealed at rest)."""
    with transaction.atomic():
        deliver_invitation(invitation_id=invitation.pk)


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
    queue_email(
        company=invitation.company,
        to=invitation.email,
        template="invitation",
        context=context,
        concerning=invitation,
    )


def send_signup(*, email: str, company_name: str, province: str, full_name: str) -> None:
    """Queue the signup mail after commit. The task decides which mail (a link to finish, or
    "you already have an account"), so the request does the same work for any address."""
    from crewcommand.tasks import send_signup_email

    send_signup_email.delay_on_commit(
        email=email, company_name=company_name, province=province, full_name=full_name
    )


def deliver_signup(*, email: str, company_name: str, province: str, full_name: str) -> None:
    from crewcommand.services import email_registered, signup_token

    if email_registered(email):
        # Someone (perhaps the owner, who forgot) tried to sign up with an address that has an
        # account: tell its owner, and tell the person at the form nothing.
        context = {
            "login_url": settings.SITE_URL + reverse("login"),
            "reset_url": settings.SITE_URL + reverse("password_reset"),
        }
        deliver_email(to=email, template="signup_existing", context=context)
        return
    token = signup_token(
        email=email, company_name=company_name, province=province, full_name=full_name
    )
    context = {
        "company": company_name,
        "url": settings.SITE_URL + reverse("signup_confirm", args=[token]),
        "hours": str(settings.SIGNUP_LINK_MAX_AGE_HOURS),
    }
    deliver_email(to=email, template="signup_confirm", context=context)


def deliver_password_reset(*, email: str) -> None:
    """Django's password-reset mail, sent from the worker to each active account with that
    address (none, usually one). Links are built from SITE_URL, never the request's Host."""
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    form.save(
        domain_override=urlsplit(settings.SITE_URL).netloc,
        use_https=settings.SITE_URL.startswith("https://"),
        extra_email_context={"site_url": settings.SITE_URL},
        html_email_template_name="registration/password_reset_email_html.html",
    )


def render_plain_text(template_name: str, context: dict[str, str]) -> str:
    """Render a subject or text body. They are not HTML, so autoescaping would only corrupt
    them ("Côté & Fils" would read "Côté &amp; Fils"); the HTML part stays escaped."""
    template = get_template(template_name).template
    return template.render(Context(context, autoescape=False))


def render_email(*, template: str, context: dict[str, str]) -> tuple[str, str, str]:
    """``(subject, text, html)`` from ``templates/emails/<template>.{subject,txt,html}``."""
    subject = single_line(render_plain_text(f"emails/{template}.subject", context))
    text = render_plain_text(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return subject, text, html


def mailbox(name: str, address: str) -> str:
    """``"Name" <address>`` for an email header, the name made one line and quoted.

    Names come from rows that may predate input normalisation; a line break left in one would
    make Django refuse the whole message (header injection), so it is flattened here, where the
    header is built."""
    name = single_line(name)
    return formataddr((name, address)) if name else address


def company_recipients(company: Company) -> list[str]:
    """Where mail for the company itself goes (a payment came in, a customer signed): the
    company's own address when it has one, else every owner's address (sorted, each once).
    The one rule for every app's company notices."""
    if company.email:
        return [company.email]
    owners = Member.objects.filter(company=company, role=Role.OWNER).select_related("user")
    return sorted({m.user.email for m in owners if m.user.email})


def deliver_email(
    *,
    to: str,
    template: str,
    context: dict[str, str],
    company: Company | None = None,
    from_name: str = "",
) -> None:
    """Render ``templates/emails/<template>.*`` and send it to the bare address ``to``.

    Mail goes out from ``DEFAULT_FROM_EMAIL``, which nobody reads, so every email about a
    company carries ``Reply-To`` the company's own address when it has one (templates only say
    "reply to this email" when ``company_email`` is set). ``from_name`` replaces the display
    name of ``DEFAULT_FROM_EMAIL`` (the company a customer's email comes from). The subject is
    flattened to one line (``render_email``): it carries company and customer names, and Django
    refuses a header with a line break, which would drop the email."""
    subject, text, html = render_email(template=template, context=context)
    reply_to = [company.email] if company is not None and company.email else []
    sender = settings.DEFAULT_FROM_EMAIL
    if from_name:
        sender = mailbox(from_name, parseaddr(sender)[1])
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender, to=[to], reply_to=reply_to
    )
    message.attach_alternative(html, "text/html")
    message.send()
    logger.info("email sent template=%s", template)
