"""Leads: an item's full record, adjudication from it, and the queue of
disputed items."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ..access import project_view
from ..errors import DomainError
from ..models import Annotation, Item, Label, Membership, Task
from ..services import gold as gold_services
from ..services import votes


@project_view(role=Membership.Role.LEAD)
def item_detail(request, project, item_id: int):
    item = get_object_or_404(Item.objects.select_related("image"), pk=item_id, project=project)
    record = votes.get_item_record(item, project=project)
    tasks = list(project.tasks.order_by("position", "id").prefetch_related("labels"))
    gold = {g.task_id: g for g in record["gold"]}
    return render(
        request,
        "annotator/item_detail.html",
        {
            "project": project, "record": record, "item": item, "tasks": tasks, "gold_rows": [(t, gold.get(t.pk)) for t in tasks],
            # Round names ("Text only"), not keys.
            "round_counts": [(Annotation.Round(r).label, c) for r, c in record["counts"].items()],
        },
    )


@project_view(role=Membership.Role.LEAD)
@require_POST
def item_adjudicate(request, project, item_id: int):
    """Settle one task's gold label; back to the item, or to the adjudication queue."""
    item = get_object_or_404(Item, pk=item_id, project=project)
    task = Task.objects.filter(project=project, key=request.POST.get("task", "")).first()
    label = Label.objects.filter(task=task, key=request.POST.get("label", "")).first() if task else None
    try:
        if task is None or label is None:
            raise DomainError("Choose a task and one of its labels.")
        gold_services.adjudicate(item=item, task=task, label=label, lead=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Gold {task.name} of {item.external_id} is now “{label.name}” (adjudicated).")
    if request.POST.get("next") == "adjudication":
        return redirect("annotator:adjudication", slug=project.slug)
    return redirect("annotator:item-detail", slug=project.slug, item_id=item.pk)


@project_view(role=Membership.Role.LEAD)
def adjudication(request, project):
    """Disputed items (a tie, or support below the project's threshold), keyset-paginated."""
    complete_only = request.GET.get("complete") == "1"
    page = votes.list_disputed_items(project, after=request.GET.get("after"), complete_only=complete_only)
    tasks = list(project.tasks.order_by("position", "id").prefetch_related("labels"))
    return render(
        request,
        "annotator/adjudication.html",
        {"project": project, "page": page, "tasks": tasks, "complete_only": complete_only},
    )
