"""Projects: list, create, overview, settings, schema and members."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from .. import gold_jobs, selectors
from ..access import project_view
from ..errors import DomainError
from ..forms import AddMemberForm, ProjectCreateForm, ProjectSettingsForm, SchemaForm
from ..models import Membership
from ..selectors import get_project_stats
from ..services import projects as project_services
from ..services.projects import SETTINGS_FIELDS

User = get_user_model()


@login_required
def project_list(request):
    projects = selectors.list_projects_for_member(request.user).annotate(n_items=Count("items", distinct=True))
    roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
    return render(
        request,
        "annotator/project_list.html",
        {"projects": projects, "roles": roles, "can_create": selectors.can_create_projects(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request):
    if not selectors.can_create_projects(request.user):
        return render(
            request, "annotator/project_create.html", {"refused": selectors.PROJECT_CREATION_REFUSED}, status=403
        )
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_services.create_project(created_by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Project “{project.name}” created. Import items to start.")
            return redirect("annotator:project-detail", slug=project.slug)
    return render(request, "annotator/project_create.html", {"form": form})


@project_view()
def project_detail(request, project):
    return render(
        request,
        "annotator/project_detail.html",
        {
            "project": project,
            "tasks": selectors.list_tasks_with_labels(project),
            "stats": get_project_stats(project, user=request.user),
            "is_lead": request.project_role == Membership.Role.LEAD,
        },
    )


@project_view(role=Membership.Role.LEAD)
@require_http_methods(["GET", "POST"])
def project_settings(request, project):
    form = ProjectSettingsForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in SETTINGS_FIELDS}
        try:
            project_services.update_project_settings(
                project=project, task_gold_strategies=form.task_gold_strategies(), **changes
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Settings saved.")
            return redirect("annotator:project-detail", slug=project.slug)
    schema = selectors.get_project_schema(project)
    context = {
        "project": project,
        "form": form,
        "gold_uses_model": gold_jobs.uses_model(project, schema),
        "gold_status": gold_jobs.get_status(project),
    }
    return render(request, "annotator/project_settings.html", context)


@project_view(role=Membership.Role.LEAD)
@require_POST
def project_gold_recompute(request, project):
    """The lead's "Recompute now": refit model-based gold without waiting for votes."""
    gold_jobs.request_recompute(project)
    messages.success(request, "Gold will be recomputed in a moment; this page shows the job's state.")
    return redirect(reverse("annotator:project-settings", args=[project.slug]) + "#gold")


@project_view(role=Membership.Role.LEAD)
@require_http_methods(["GET", "POST"])
def project_schema(request, project):
    initial = json.dumps(selectors.get_project_schema(project).as_dicts(), indent=2, ensure_ascii=False)
    form = SchemaForm(request.POST or None, initial={"schema": initial})
    if request.method == "POST" and form.is_valid():
        try:
            project_services.save_schema(project=project, tasks=form.cleaned_data["schema"])
        except DomainError as exc:
            form.add_error("schema", exc.message)
        else:
            messages.success(request, "Label schema saved.")
            return redirect("annotator:project-detail", slug=project.slug)
    return render(request, "annotator/project_schema.html", {"project": project, "form": form})


@project_view(role=Membership.Role.LEAD)
@require_http_methods(["GET", "POST"])
def project_members(request, project):
    form = AddMemberForm(request.POST or None)
    new_account = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["create"]:
                user, password = project_services.create_member_account(
                    project=project,
                    username=data["username"],
                    email=data["email"],
                    role=data["role"],
                    actor=request.user,
                    request=request,
                )
                new_account = {"username": user.username, "password": password}
            else:
                user = User.objects.filter(username__iexact=data["username"], is_active=True).first()
                if user is None:
                    raise DomainError(
                        f"There is no user {data['username']!r}. Tick “create a new account” to create one.",
                        field="username",
                    )
                project_services.add_member(
                    project=project, user=user, role=data["role"], actor=request.user, request=request
                )
                messages.success(request, f"{user.username} is now a {data['role']} of this project.")
                return redirect("annotator:project-members", slug=project.slug)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(
        request,
        "annotator/project_members.html",
        {"project": project, "form": form, "members": selectors.list_members(project), "new_account": new_account},
    )


@project_view(role=Membership.Role.LEAD)
@require_http_methods(["GET", "POST"])
def member_remove(request, project, user_id: int):
    """GET asks to confirm (a page of its own, so it works without script); POST removes."""
    user = User.objects.filter(pk=user_id).first()
    if request.method == "GET":
        membership = Membership.objects.filter(project=project, user_id=user_id).select_related("user").first()
        if membership is None:
            messages.error(request, "That person is not a member of this project.")
            return redirect("annotator:project-members", slug=project.slug)
        return render(request, "annotator/member_remove.html", {"project": project, "membership": membership})
    try:
        if user is None:
            raise DomainError("That user does not exist.")
        project_services.remove_member(project=project, user=user, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.username} was removed from the project; their votes are kept.")
    return redirect("annotator:project-members", slug=project.slug)


@project_view(role=Membership.Role.LEAD)
@require_http_methods(["GET", "POST"])
def member_reset_password(request, project, user_id: int):
    """GET asks to confirm; POST gives the annotator a new one-time password, shown once."""
    membership = Membership.objects.filter(project=project, user_id=user_id).select_related("user").first()
    if membership is None:
        messages.error(request, "That person is not a member of this project.")
        return redirect("annotator:project-members", slug=project.slug)
    if request.method == "GET":
        return render(request, "annotator/member_reset_password.html", {"project": project, "membership": membership})
    try:
        password = project_services.reset_member_password(
            project=project, user=membership.user, actor=request.user, request=request
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("annotator:project-members", slug=project.slug)
    return render(
        request,
        "annotator/project_members.html",
        {
            "project": project,
            "form": AddMemberForm(),
            "members": selectors.list_members(project),
            "new_account": {"username": membership.user.username, "password": password, "reset": True},
        },
    )
