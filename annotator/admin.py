"""Admin for every model, read-mostly: votes, annotations and gold change
only through services, so their invariants (counts, gold, history) hold."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django import forms
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm

from .models import Annotation, AnnotationEdit, Gold, ImageAsset, ImportJob, Item, Label, Membership, Project, Task, Vote


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


User = get_user_model()


def project_creation_permission():
    from django.contrib.auth.models import Permission

    return Permission.objects.get(codename="add_project", content_type__app_label="annotator")


class LeadKeepingUserChangeForm(UserChangeForm):
    def clean_is_active(self):
        """A project never loses its last active lead: deactivating that user is refused."""
        active = self.cleaned_data["is_active"]
        if not active and self.instance.pk and self.instance.is_active:
            from .selectors import list_projects_led_only_by

            names = [project.name for project in list_projects_led_only_by(self.instance)]
            if names:
                raise forms.ValidationError(
                    f"{self.instance.username} is the only active lead of {', '.join(names)}; make someone else lead first."
                )
        return active


class ProjectCreatorUserAdmin(UserAdmin):
    """Django's user admin plus a one-click grant: staff choose who may create
    projects (the annotator.add_project permission, also editable under
    "User permissions"); deactivating a project's last active lead is refused."""

    form = LeadKeepingUserChangeForm
    actions = ["allow_project_creation", "disallow_project_creation"]
    list_display = [*UserAdmin.list_display, "may_create_projects"]

    @admin.display(boolean=True, description="May create projects")
    def may_create_projects(self, user) -> bool:
        return user.is_staff or user.has_perm("annotator.add_project")

    @admin.action(description="Allow the selected users to create projects")
    def allow_project_creation(self, request, queryset):
        permission = project_creation_permission()
        for user in queryset:
            user.user_permissions.add(permission)
        self.message_user(request, f"{queryset.count()} user(s) may now create projects.")

    @admin.action(description="Stop the selected users from creating projects")
    def disallow_project_creation(self, request, queryset):
        permission = project_creation_permission()
        for user in queryset:
            user.user_permissions.remove(permission)
        self.message_user(request, f"{queryset.count()} user(s) may no longer create projects (staff always may).")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ProjectCreatorUserAdmin)
