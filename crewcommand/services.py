"""State changes for the core: companies, members, invitations, customers and jobs.

Each function is keyword-only, runs in one transaction and writes an activity row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crewcommand.backends import users_for_login
from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import (
    Company,
    Contact,
    Customer,
    Invitation,
    Job,
    JobStatus,
    Member,
    Role,
)

INVITATION_SALT = "crewcommand.invitation"
SIGNUP_SALT = "crewcommand.signup"
SIGNUP_FIELDS = ("email", "company_name", "province", "full_name")


def unique_company_slug(name: str) -> str:
    base = slugify(name)[:50] or "company"
    slug, n = base, 2
    while Company.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


@transaction.atomic
def company_signup(
    *, company_name: str, province: str, full_name: str, email: str, password: str
) -> Member:
    """Create a user, their company and their owner membership in one step.

    Safe under double submission (a double-click on the emailed link's form): both requests
    pass the check below, the database's unique username lets one in, and the other gets the
    same ServiceError as an address registered before, not a 500."""
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    taken = ServiceError(_("An account with this email already exists. Try logging in."))
    if email_registered(email):
        raise taken
    first, _sep, last = full_name.strip().partition(" ")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=email, email=email, password=password, first_name=first, last_name=last
            )
    except IntegrityError:
        raise taken from None
    company = Company.objects.create(
        name=company_name.strip(), slug=unique_company_slug(company_name), province=province
    )
    member = Member.objects.create(user=user, company=company, role=Role.OWNER)
    activity.record(
        company=company, verb="company.created", actor=Actor.member(user), target=company
    )
    return member


def signup_token(*, email: str, company_name: str, province: str, full_name: str) -> str:
    """The signed, timestamped signup details an emailed link carries. Nothing is stored until
    the link is opened: whoever can read the mailbox is the one who creates the account."""
    data = {"email": email, "company_name": company_name, "province": province}
    return signing.dumps({**data, "full_name": full_name}, salt=SIGNUP_SALT, compress=True)


def signup_from_token(token: str, *, max_age_hours: int) -> dict[str, str] | None:
    """The signup details a link carries, or None when it is forged or expired."""
    try:
        data = signing.loads(token, salt=SIGNUP_SALT, max_age=max_age_hours * 3600)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or set(data) != set(SIGNUP_FIELDS):
        return None
    return data


def email_registered(email: str) -> bool:
    """Whether an account already has this address (as its email or username), in any case."""
    return bool(users_for_login(email))


@transaction.atomic
def company_update(*, company: Company, by: User, fields: dict[str, Any]) -> Company:
    for name, value in fields.items():
        setattr(company, name, value)
    company.full_clean()
    company.save()
    activity.record(company=company, verb="company.updated", actor=Actor.member(by), target=company)
    return company


def invitation_token(invitation: Invitation) -> str:
    """A signed, timestamped reference to the invitation; it expires with the signature."""
    return signing.dumps(invitation.public_id, salt=INVITATION_SALT)


@transaction.atomic
def invitation_create(*, company: Company, by: User, email: str, role: str) -> Invitation:
    """Create an invitation; ``crewcommand.notifications.send_invitation`` emails its link."""
    email = email.strip().lower()
    if Member.objects.filter(company=company, user__email__iexact=email).exists():
        raise ServiceError(_("%(email)s is already on your team.") % {"email": email})
    invitation = Invitation.objects.create(company=company, email=email, role=role, invited_by=by)
    activity.record(
        company=company,
        verb="member.invited",
        actor=Actor.member(by),
        target=invitation,
        data={"email": email, "role": invitation.get_role_display()},
    )
    return invitation


def invitation_from_token(token: str, *, max_age_days: int) -> Invitation | None:
    """The pending invitation a token names, or None when it is forged, expired or used."""
    try:
        public_id = signing.loads(token, salt=INVITATION_SALT, max_age=max_age_days * 86400)
    except signing.BadSignature:
        return None
    return (
        Invitation.objects.select_related("company")
        .filter(public_id=public_id, accepted_at=None, revoked_at=None)
        .first()
    )


def invitation_is_for(invitation: Invitation, user: User) -> bool:
    """Whether ``user`` is the person the invitation was sent to (same email, any case)."""
    email = (getattr(user, "email", "") or "").strip()
    return bool(email) and email.casefold() == invitation.email.strip().casefold()


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, full_name: str, password: str | None, user: User | None
) -> Member:
    """Join the company: with the signed-in user, or with a new account for the invited email.

    The invitation is for one address, not for whoever holds the link: a signed-in user joins
    only if their email is the invited one (case-insensitive). Idempotent under double
    submission: the invitation row is locked and checked again."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise ServiceError(_("This invitation has already been used."))
    if user is not None and not invitation_is_for(invitation, user):
        raise ServiceError(
            _("This invitation is for %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email}
        )
    User = get_user_model()
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ServiceError(_("An account with this email exists. Log in, then open the link."))
        first, _sep, last = full_name.strip().partition(" ")
        user = User.objects.create_user(
            username=invitation.email,
            email=invitation.email,
            password=password,
            first_name=first,
            last_name=last,
        )
    if Member.objects.filter(user=user).exists():
        raise ServiceError(_("Your account already belongs to a company."))
    try:
        member = Member.objects.create(user=user, company=invitation.company, role=invitation.role)
    except IntegrityError:
        raise ServiceError(_("Your account already belongs to a company.")) from None
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    activity.record(
        company=invitation.company, verb="member.joined", actor=Actor.member(user), target=member
    )
    return member


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: User) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    activity.record(
        company=invitation.company,
        verb="invitation.revoked",
        actor=Actor.member(by),
        target=invitation,
        data={"email": invitation.email},
    )


@transaction.atomic
def customer_create(*, company: Company, actor: Actor, **fields: Any) -> Customer:
    customer = Customer(company=company, **fields)
    customer.full_clean()
    customer.save()
    activity.record_about(customer, "customer.created", actor, data={"name": customer.name})
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: Actor, fields: dict[str, Any]) -> Customer:
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.full_clean()
    customer.save()
    activity.record_about(customer, "customer.updated", actor, data={"name": customer.name})
    return customer


# --- Contacts ------------------------------------------------------------------------------------


def customer_saved(sender, instance: Customer, created: bool, raw: bool = False, **kwargs) -> None:
    """``post_save`` receiver (``CrewcommandConfig.ready``): a new customer gets its primary
    contact from its own name, email and phone, however it was made (the dashboard, booking, the
    demo, a test factory); an edited one keeps its primary contact's email and phone in step."""
    if raw:
        return
    if created:
        Contact.objects.create(
            company_id=instance.company_id,
            customer=instance,
            name=instance.name[:150],
            email=instance.email,
            phone=instance.phone,
            is_primary=True,
        )
        return
    fields = kwargs.get("update_fields")
    if fields is None or {"email", "phone"} & set(fields):
        Contact.objects.filter(customer=instance, is_primary=True).exclude(
            email=instance.email, phone=instance.phone
        ).update(email=instance.email, phone=instance.phone, updated_at=timezone.now())


CONTACT_FIELDS = (
    "name",
    "email",
    "phone",
    "role",
    "preferred_channel",
    "email_consent",
    "sms_consent",
    "language",
)


@transaction.atomic
def contact_save(
    *, customer: Customer, actor: Actor, fields: dict[str, Any], contact: Contact | None = None
) -> Contact:
    """Add a contact to the customer, or change one (``contact``). The primary contact's email
    and phone are the customer's own: changing them changes the customer's too."""
    if contact is not None and (
        contact.customer_id != customer.pk or contact.removed_at is not None
    ):
        raise ServiceError(_("That contact is not on file for this customer."))
    contact = contact or Contact(company_id=customer.company_id, customer=customer)
    for name in CONTACT_FIELDS:
        if name in fields:
            setattr(contact, name, fields[name])
    if not contact.email and not contact.phone:
        raise ServiceError(_("Give the contact an email address or a mobile number."))
    contact.full_clean()
    created = contact.pk is None
    contact.save()
    if contact.is_primary and (customer.email, customer.phone) != (contact.email, contact.phone):
        customer.email, customer.phone = contact.email, contact.phone
        customer.save(update_fields=["email", "phone", "updated_at"])
    activity.record_about(
        customer,
        "contact.added" if created else "contact.updated",
        actor,
        data={"name": contact.name, "contact": contact.public_id},
    )
    return contact


@transaction.atomic
def contact_remove(*, contact: Contact, actor: Actor) -> Contact:
    """Take a contact off the customer. Kept for the records (signatures and links name it);
    the portal revokes its links (it subscribes to ``contact.removed``). The primary contact
    stays: it is the customer's own email and phone."""
    contact = Contact.objects.select_for_update().select_related("customer").get(pk=contact.pk)
    if contact.is_primary:
        raise ServiceError(
            _("The primary contact can't be removed: edit it, or edit the customer, instead.")
        )
    if contact.removed_at is None:
        contact.removed_at = timezone.now()
        contact.save(update_fields=["removed_at", "updated_at"])
        activity.record_about(
            contact.customer,
            "contact.removed",
            actor,
            data={"name": contact.name, "contact": contact.public_id},
        )
    return contact


def _check_schedule(job: Job) -> None:
    """A scheduled or in-progress job has a date: the crew must know when to go."""
    if job.status in {JobStatus.SCHEDULED, JobStatus.IN_PROGRESS} and job.scheduled_start is None:
        raise ServiceError(_("Give the job a date and time before scheduling it."))


@transaction.atomic
def job_create(
    *, company: Company, customer: Customer, actor: Actor, assigned=(), **fields: Any
) -> Job:
    if customer.company_id != company.pk:
        raise ServiceError(_("That customer is not in your company."))
    job = Job(company=company, customer=customer, **fields)
    if not job.address:
        job.address = customer.address
    if job.scheduled_start and job.status == JobStatus.REQUESTED:
        job.status = JobStatus.SCHEDULED
    _check_schedule(job)
    job.full_clean()
    job.save()
    job.assigned.set([m for m in assigned if m.company_id == company.pk])
    activity.record_about(job, "job.created", actor, data={"title": job.title})
    return job


@transaction.atomic
def job_update(*, job: Job, actor: Actor, fields: dict[str, Any], assigned=None) -> Job:
    old_status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).get()
    for name, value in fields.items():
        setattr(job, name, value)
    if job.status == JobStatus.COMPLETED and old_status != JobStatus.COMPLETED:
        job.completed_at = timezone.now()
    _check_schedule(job)
    job.full_clean()
    job.save()
    if assigned is not None:
        job.assigned.set([m for m in assigned if m.company_id == job.company_id])
    verb = "job.status_changed" if job.status != old_status else "job.updated"
    activity.record_about(
        job, verb, actor, data={"title": job.title, "status": job.get_status_display()}
    )
    return job
