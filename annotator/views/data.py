"""Items, images, import, export and splits."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from .. import selectors
from ..access import project_view
from ..errors import DomainError
from ..forms import ConfirmImportForm, ExportForm, ImportForm
from ..io import samples
from ..models import ImportJob, Item, Membership
from ..selectors import imports as import_selectors
from ..selectors import labelling
from ..services import exports as export_services
from ..services import import_jobs as import_services
from ..services import splits as split_services
from ..services.security import record_security_event
from ..storage import open_image_file

PAGE_SIZE = 50


@project_view(role=Membership.Role.LEAD)
def item_list(request, project):
    """Filtered, searched and numbered pages of the project's items."""
    filters = selectors.ItemFilters.from_query(request.GET, project)
    page = selectors.list_items_page(project, filters, page=request.GET.get("page"), limit=PAGE_SIZE)
    return render(
        request,
        "annotator/item_list.html",
        {
            "project": project,
            "page": page,
            "filters": filters,
            "tasks": selectors.list_tasks_with_labels(project),
            "splits": Item.Split.choices,
            "statuses": selectors.ItemFilters.STATUSES,
            "suggestions": selectors.ItemFilters.SUGGESTIONS,
        },
    )


@project_view()
def item_image(request, project, item_id: int):
    """Images are served only to project members, from the content-addressed store."""
    item = get_object_or_404(Item.objects.select_related("image"), pk=item_id, project=project)
    if item.image is None:
        raise Http404("This item has no image.")
    if not labelling.can_see_image(request.user, item, project=project):
        # Unimodal rounds: the text round must be labelled from the text alone.
        raise PermissionDenied("Label this item's text first: its image is hidden until then.")
    handle, content_type = open_image_file(item.image)
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response


@project_view(role=Membership.Role.LEAD)
@require_http_methods(["GET", "POST"])
def import_upload(request, project):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_services.create_import_job(
                project=project,
                user=request.user,
                upload=upload,
                original_name=upload.name,
                on_duplicate=form.cleaned_data["on_duplicate"],
                dry_run=form.cleaned_data["dry_run"],
            )
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("annotator:import-detail", slug=project.slug, job_id=job.pk)
    jobs = project.imports.all()[:10]
    return render(request, "annotator/import_upload.html", {"project": project, "form": form, "jobs": jobs})


@project_view(role=Membership.Role.LEAD)
def import_sample(request, project, fmt: str):
    """A small file in `fmt` built from the project's own schema, which imports cleanly."""
    if fmt not in samples.FORMATS:
        raise Http404("No sample in that format.")
    filename, content_type, data = samples.build_sample(selectors.get_project_schema(project), fmt)
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@project_view(role=Membership.Role.LEAD)
@vary_on_headers("HX-Request")
def import_detail(request, project, job_id: int):
    """The import's page; for htmx (polling while the job is active) its
    progress partial, or a full reload once the job has settled."""
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    progress = import_selectors.get_import_progress(job)  # as JSON: GET /api/projects/<slug>/imports/<id>/
    active = progress["status"] in ImportJob.ACTIVE_STATUSES
    context = {
        "project": project,
        "job": job,
        "progress": progress,
        "active": active,
        "status_label": ImportJob.Status(progress["status"]).label,
    }
    if request.htmx:
        if not active:
            return HttpResponseClientRefresh()  # the page shows the result: errors, confirm or retry
        return render(request, "annotator/_import_progress.html", context)
    confirm = ConfirmImportForm(initial={"on_duplicate": job.on_duplicate})
    return render(
        request,
        "annotator/import_detail.html",
        {**context, "confirm": confirm, "retention_days": settings.IMPORT_UPLOAD_RETENTION_DAYS},
    )


@project_view(role=Membership.Role.LEAD)
@require_POST
def import_confirm(request, project, job_id: int):
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    form = ConfirmImportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose what to do with duplicate ids.")
    else:
        try:
            import_services.confirm_import(
                job=job,
                user=request.user,
                only_valid_rows=form.cleaned_data["only_valid_rows"],
                on_duplicate=form.cleaned_data["on_duplicate"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("annotator:import-detail", slug=project.slug, job_id=job.pk)


@project_view(role=Membership.Role.LEAD)
@require_POST
def import_retry(request, project, job_id: int):
    return _act_on_import(request, project, job_id, import_services.retry_import)


@project_view(role=Membership.Role.LEAD)
@require_POST
def import_discard(request, project, job_id: int):
    return _act_on_import(request, project, job_id, import_services.discard_import)


def _act_on_import(request, project, job_id: int, action):
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    try:
        action(job=job, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("annotator:import-detail", slug=project.slug, job_id=job.pk)


@project_view(role=Membership.Role.LEAD)
def export_page(request, project):
    form = ExportForm(request.GET or None)
    if request.GET and form.is_valid():
        fmt, pseudonymise = form.cleaned_data["format"], form.cleaned_data["pseudonymise"]
        record_security_event(
            kind="export", actor=request.user, project=project, request=request, format=fmt, pseudonymise=pseudonymise
        )
        filename, content_type, chunks = export_services.stream_export(
            project=project, fmt=fmt, pseudonymise=pseudonymise, raw=form.cleaned_data["values"] == "raw"
        )
        response = StreamingHttpResponse(chunks, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return render(request, "annotator/export.html", {"project": project, "form": form})


@project_view(role=Membership.Role.LEAD)
@require_POST
def assign_splits(request, project):
    only_unassigned = request.POST.get("scope", "unassigned") == "unassigned"
    try:
        counts = split_services.assign_splits(project=project, only_unassigned=only_unassigned)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
        messages.success(request, f"Splits assigned (70/10/20, stratified by desire) — {summary}.")
    return redirect("annotator:project-detail", slug=project.slug)
