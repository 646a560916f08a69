"""Admin for every model, read-mostly: votes, annotations and gold change
only through services, so their invariants (counts, gold, history) hold."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm

from . import selectors
from .errors import DomainError
from .models import (
    Annotation,
    AnnotationEdit,
    ApiToken,
    Gold,
    ImageAsset,
    ImportJob,
    Item,
    Label,
    Membership,
    PrelabelPolicy,
    Project,
    SecurityEvent,
    Task,
    Vote,
)
from .services import security


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    fields = ["key", "name", "required", "position"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "votes_per_item", "queue_order", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "created_by"]
    inlines = [TaskInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "pseudonym"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]
    raw_id_fields = ["user", "project"]


@admin.register(PrelabelPolicy)
class PrelabelPolicyAdmin(admin.ModelAdmin):
    list_display = ["project", "retrain_every_n_gold", "suggest_new_items", "gold_at_last_training"]


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["project", "key", "name", "required", "position"]
    list_filter = ["project"]


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    list_display = ["task", "key", "name", "hotkey", "position"]
    list_filter = ["project"]


@admin.register(ImageAsset)
class ImageAssetAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "format", "width", "height", "size_bytes", "created_at"]
    search_fields = ["sha256"]


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "project", "split", "vote_count", "created_at"]
    list_filter = ["project", "split"]
    search_fields = ["external_id"]
    show_full_result_count = False  # no COUNT(*) over a million items per page


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["item", "annotator", "round", "duration_ms", "updated_at"]
    list_filter = ["round"]
    raw_id_fields = ["item"]
    show_full_result_count = False


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin):
    list_display = ["item", "annotator", "round", "task", "label"]
    show_full_result_count = False


@admin.register(AnnotationEdit)
class AnnotationEditAdmin(ReadOnlyAdmin):
    list_display = ["annotation", "editor", "at"]


@admin.register(Gold)
class GoldAdmin(ReadOnlyAdmin):
    list_display = ["item", "task", "label", "source", "votes_for", "votes_total", "is_tie"]
    list_filter = ["source", "is_tie"]
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["project", "original_name", "status", "rows_total", "error_count", "created_at"]
    list_filter = ["status"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Who holds which token; staff revoke by deleting. Keys are never stored, so none is shown."""

    list_display = ["token_key", "user", "name", "created", "expiry", "last_used"]
    list_filter = [("expiry", admin.DateFieldListFilter), ("last_used", admin.DateFieldListFilter)]
    search_fields = ["user__username", "token_key", "name"]
    fields = ["user", "name", "token_key", "created", "expiry", "last_used"]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False  # tokens are made by their owners, so only they ever see the key

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # revoke_tokens records each revocation
        return actions

    def delete_model(self, request, obj):
        security.revoke_api_token(user=request.user, token=obj, request=request)

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke_tokens(self, request, queryset):
        revoked = list(queryset.select_related("user"))
        for token in revoked:
            security.revoke_api_token(user=request.user, token=token, request=request)
        self.message_user(request, f"Revoked {len(revoked)} token(s).")


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "actor", "target", "project", "ip", "detail"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor__username", "target__username", "ip"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "target", "project"]


User = get_user_model()


class LeadKeepingUserChangeForm(UserChangeForm):
    def clean_is_active(self):
        """A project never loses its last active lead: deactivating that user is refused."""
        active = self.cleaned_data["is_active"]
        if not active and self.instance.pk and self.instance.is_active:
            try:
                security.require_not_the_last_lead(self.instance)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return active


class AccountAdmin(UserAdmin):
    """Django's user admin, plus: deactivation that also ends API tokens and is
    recorded; a one-click grant of who may create projects (staff choose: the
    annotator.add_project permission, also editable under "User permissions");
    deactivating a project's last active lead is refused."""

    form = LeadKeepingUserChangeForm
    actions = ["deactivate_accounts", "allow_project_creation", "disallow_project_creation"]
    list_display = [*UserAdmin.list_display, "may_create_projects"]

    @admin.action(description="Deactivate selected accounts (ends their API tokens)", permissions=["change"])
    def deactivate_accounts(self, request, queryset):
        done = 0
        for user in queryset:
            try:
                security.deactivate_account(actor=request.user, user=user, request=request)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Deactivated {done} account(s).")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)  # tokens end on save (annotator.signals)
        if change and "is_active" in form.changed_data and not obj.is_active:
            security.record_security_event(
                kind=SecurityEvent.Kind.ACCOUNT_DEACTIVATED, actor=request.user, target=obj, request=request
            )

    @admin.display(boolean=True, description="May create projects")
    def may_create_projects(self, user) -> bool:
        return selectors.can_create_projects(user)

    @admin.action(description="Allow the selected users to create projects")
    def allow_project_creation(self, request, queryset):
        permission = selectors.get_project_creation_permission()
        for user in queryset:
            user.user_permissions.add(permission)
        self.message_user(request, f"{queryset.count()} user(s) may now create projects.")

    @admin.action(description="Stop the selected users from creating projects")
    def disallow_project_creation(self, request, queryset):
        permission = selectors.get_project_creation_permission()
        for user in queryset:
            user.user_permissions.remove(permission)
        self.message_user(request, f"{queryset.count()} user(s) may no longer create projects (staff always may).")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
