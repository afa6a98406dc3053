from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from crewcommand import services
from crewcommand.errors import ServiceError
from crewcommand.forms import EmailAdminAuthenticationForm, LogoField
from crewcommand.lib.activity import Actor
from crewcommand.models import (
    Activity,
    Company,
    Consent,
    Contact,
    Customer,
    Invitation,
    Job,
    Member,
    Message,
    SmsOptOut,
)

# The admin's login names accounts by email, in any case, like the app's (crewcommand.backends).
admin.site.login_form = EmailAdminAuthenticationForm


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are evidence: staff may read them, never change them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    raw_id_fields = ["user"]


class CompanyAdminForm(forms.ModelForm):
    """A logo uploaded by staff gets the same checks as on the owner's settings page: refused
    before decoding when too large, otherwise stored small. No Meta: the admin supplies the
    model and every field."""

    logo = LogoField(required=False)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyAdminForm
    list_display = ["name", "slug", "province", "timezone", "created_at"]
    list_filter = ["province"]
    search_fields = ["name", "slug", "email"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [MemberInline]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "company__name"]
    list_select_related = ["user", "company"]
    raw_id_fields = ["user", "company"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "company", "role", "created_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "company__name"]
    list_select_related = ["company"]
    readonly_fields = ["public_id", "created_at", "accepted_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "email", "phone", "city", "created_at"]
    list_filter = ["province"]
    search_fields = ["name", "email", "phone", "company__name"]
    list_select_related = ["company"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    raw_id_fields = ["company"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    """Whose a contact is, which is primary and whether it was taken off change only through the
    services: the primary contact mirrors the customer (edit the customer), and taking a contact
    off revokes its portal links (``contact_remove``: the action below)."""

    list_display = ["name", "customer", "company", "email", "phone", "role", "is_primary"]
    list_filter = ["role", "is_primary"]
    search_fields = ["name", "email", "phone", "customer__name"]
    list_select_related = ["customer", "company"]
    raw_id_fields = ["customer"]
    actions = ["take_off"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        fields = ["company", "is_primary", "removed_at"]
        if obj is not None:
            fields.append("customer")
            if obj.is_primary:
                fields += ["name", "email", "phone"]
        return fields

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.company_id = obj.customer.company_id  # a contact is its customer's company's
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Take the selected contacts off their customer (revokes links)"))
    def take_off(self, request, queryset) -> None:
        actor = Actor.member(request.user)
        for contact in queryset:
            try:
                services.contact_remove(contact=contact, actor=actor)
            except ServiceError as error:
                self.message_user(request, f"{contact}: {error}", messages.ERROR)
            else:
                self.message_user(
                    request, _("%(name)s was taken off.") % {"name": contact}, messages.SUCCESS
                )


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["title", "company", "customer", "status", "scheduled_start"]
    list_filter = ["status"]
    search_fields = ["title", "customer__name", "company__name"]
    list_select_related = ["company", "customer"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    raw_id_fields = ["company", "customer"]
    filter_horizontal = ["assigned"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "company", "verb", "actor_kind", "actor_label", "customer"]
    list_filter = ["actor_kind", "verb"]
    search_fields = ["verb", "actor_label", "company__name"]
    list_select_related = ["company", "customer"]
    date_hierarchy = "created_at"


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """The outbox: read-only (the worker owns its status). The sealed text and the
    unsubscribe hash stay out of the admin; the readable copy has its secret links redacted."""

    list_display = ["public_id", "company", "channel", "to", "kind", "status", "created_at"]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["public_id", "to", "company__name", "customer__name"]
    exclude = ["sealed", "unsubscribe_hash"]


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["customer", "company", "channel", "kind", "source", "given_at", "withdrawn_at"]
    list_filter = ["channel", "kind"]
    search_fields = ["customer__name", "company__name"]


@admin.register(SmsOptOut)
class SmsOptOutAdmin(ReadOnlyAdmin):
    list_display = ["phone", "company", "created_at"]
    search_fields = ["phone"]
