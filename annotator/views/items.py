"""Leads: an item's full record, adjudication from it, and the queue of
disputed items."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..access import project_view
from ..errors import DomainError
from ..models import Annotation, Item, Label, Membership, Task
from ..selectors import controls as control_selectors
from ..selectors import review
from ..services import controls as control_services
from ..services import gold as gold_services

# The adjudication queue of model-based gold in doubt (?queue=model).
MODEL_QUEUE = "model"


@project_view(role=Membership.Role.LEAD)
def item_detail(request, project, item_id: int):
    item = get_object_or_404(Item.objects.select_related("image"), pk=item_id, project=project)
    record = review.get_item_record(item, project=project)
    tasks = list(project.tasks.order_by("position", "id"))
    gold = {g.task_id: g for g in record["gold"]}
    rows = [(t, gold.get(t.pk), record["choices"].get(t.pk, [])) for t in tasks]
    return render(
        request,
        "annotator/item_detail.html",
        {
            "project": project,
            "record": record,
            "item": item,
            "tasks": tasks,
            "gold_rows": rows,
            # Round names ("Text only"), not keys.
            "round_counts": [(Annotation.Round(r).label, c) for r, c in record["counts"].items()],
            "control_answers": control_selectors.list_control_answers(item) if item.is_control else [],
            "has_adjudicated_gold": any(g.source == "adjudicated" and g.label_id for g in record["gold"]),
        },
    )


@project_view(role=Membership.Role.LEAD)
@require_POST
def item_adjudicate(request, project, item_id: int):
    """Settle one task's gold label, then go to the next disputed item (on
    the adjudication queue when the form came from there)."""
    item = get_object_or_404(Item, pk=item_id, project=project)
    task = Task.objects.filter(project=project, key=request.POST.get("task", "")).first()
    label = Label.objects.filter(task=task, key=request.POST.get("label", "")).first() if task else None
    from_queue = request.POST.get("next") == "adjudication"
    try:
        if task is None:
            raise DomainError("Choose a task and one of its labels.")
        if label is None:
            raise DomainError(f"Choose a {task.name} label before setting the gold: nothing was saved.")
        gold_services.adjudicate(item=item, task=task, label=label, lead=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back(project, item, from_queue, request.POST)
    messages.success(request, f"Gold {task.name} of {item.external_id} is now “{label.name}” (adjudicated).")
    complete_only = from_queue and request.POST.get("complete") == "1"
    if from_queue and request.POST.get("queue") == MODEL_QUEUE:
        doubt_task, below = review.parse_doubt_filters(
            project, task=request.POST.get("doubt_task"), below=request.POST.get("below")
        )
        following = review.get_next_model_doubt(project, from_id=item.pk, task=doubt_task, threshold=below)
    else:
        following = review.get_next_disputed_item(project, from_id=item.pk, complete_only=complete_only)
    if following is None:
        messages.info(request, "No disputed items are left.")
        if from_queue:
            return redirect("annotator:adjudication", slug=project.slug)
        return redirect("annotator:item-detail", slug=project.slug, item_id=item.pk)
    return _back(project, following, from_queue, request.POST)


def _back(project, item: Item, from_queue: bool, post) -> HttpResponseRedirect:
    """The queue page (same filter, scrolled to the item) or the item's page."""
    if not from_queue:
        return redirect(reverse("annotator:item-detail", args=[project.slug, item.pk]) + "#gold")
    # The page starts at the item (keyset: ids after pk - 1), so it is on it.
    query = {"complete": "1"} if post.get("complete") == "1" else {}
    if post.get("queue") == MODEL_QUEUE:
        query = {"queue": MODEL_QUEUE, "task": post.get("doubt_task", ""), "below": post.get("below", "")}
    query["after"] = str(item.pk - 1)
    url = reverse("annotator:adjudication", args=[project.slug])
    return redirect(f"{url}?{urlencode(query)}#item-{item.pk}")


@project_view(role=Membership.Role.LEAD)
def adjudication(request, project):
    """Disputed items (a tie, or support below the project's threshold), keyset-paginated;
    with ?queue=model, items whose model-based gold differs from the majority or
    has low confidence (?task=<key>, ?below=<share>)."""
    complete_only = request.GET.get("complete") == "1"
    tasks = list(project.tasks.order_by("position", "id"))
    context = {"project": project, "tasks": tasks, "complete_only": complete_only, "queue": ""}
    if request.GET.get("queue") == MODEL_QUEUE:
        task, below = review.parse_doubt_filters(project, task=request.GET.get("task"), below=request.GET.get("below"))
        page = review.list_model_doubts(project, task=task, threshold=below, after=request.GET.get("after"))
        query = {"queue": MODEL_QUEUE, "task": task.key if task else "", "below": below}
        context.update(queue=MODEL_QUEUE, doubt_task=task, below=below, complete_only=False, query=urlencode(query))
    else:
        context["query"] = "complete=1" if complete_only else ""
        page = review.list_disputed_items(project, after=request.GET.get("after"), complete_only=complete_only)
    return render(request, "annotator/adjudication.html", {**context, "page": page})


def _after_control_change(request, project):
    """Back to the item's page when the form was on it, else to the control-items page."""
    items = request.POST.getlist("item")
    if request.POST.get("next") == "item" and len(items) == 1 and items[0].isdigit():
        return redirect("annotator:item-detail", slug=project.slug, item_id=int(items[0]))
    return redirect("analysis:controls", slug=project.slug)


@project_view(role=Membership.Role.LEAD)
@require_POST
def controls_mark(request, project):
    """Use the chosen items as control items, their adjudicated gold as the known answers."""
    try:
        result = control_services.mark_from_gold(
            project=project, item_ids=request.POST.getlist("item"), lead=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{result.marked} item{pluralize(result.marked)} now used as control items.")
        if result.without_gold:
            messages.info(request, f"Left alone (no adjudicated gold): {', '.join(result.without_gold[:20])}.")
    return _after_control_change(request, project)


@project_view(role=Membership.Role.LEAD)
@require_POST
def controls_unmark(request, project):
    """Stop using the chosen items as control items."""
    try:
        n = control_services.unmark(project=project, item_ids=request.POST.getlist("item"), lead=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{n} item{pluralize(n)} no longer used as control items.")
    return _after_control_change(request, project)
