"""The labelling page and the annotator's own history.

The page is rendered once; static/js/annotate.js then works through the
JSON API (annotator/api/workspace.py): it fetches the next item while the
current one is on screen, so moving on never waits for the server.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from .. import selectors
from ..access import project_view
from ..selectors import labelling
from ..services import queue

# A number no real id reaches, replaced by the item or annotation id in the script.
ID_PLACEHOLDER = 2147483647
HEARTBEAT_SECONDS = 60


def _page_config(project) -> dict:
    tasks = selectors.list_tasks_with_labels(project)
    slug = project.slug
    return {
        "project": slug,
        "ask_inference_order": project.ask_inference_order,
        "unimodal_rounds": project.unimodal_rounds,
        "claim_minutes": project.claim_minutes,
        "heartbeat_seconds": HEARTBEAT_SECONDS,
        "tasks": [
            {
                "key": t.key,
                "name": t.name,
                "required": t.required,
                "labels": [{"key": l.key, "name": l.name, "hotkey": l.hotkey} for l in t.labels.all()],
            }
            for t in tasks
        ],
        "urls": {
            "next": reverse("api:queue-next", args=[slug]),
            "heartbeat": reverse("api:queue-heartbeat", args=[slug]),
            "submit": reverse("api:item-submit", args=[slug, ID_PLACEHOLDER]),
            "skip": reverse("api:item-skip", args=[slug, ID_PLACEHOLDER]),
            "annotation": reverse("api:my-annotation", args=[slug, ID_PLACEHOLDER]),
            "step": reverse("api:my-annotation-step", args=[slug]),
            "mine": reverse("annotator:my-annotations", args=[slug]),
        },
        "placeholder": str(ID_PLACEHOLDER),
    }


@project_view()
def item_annotate(request, project):
    """Claims (or gives back) the annotator's current item so it paints with
    the page; `?edit=<annotation id>` opens one of their own annotations."""
    edit_id = request.GET.get("edit", "")
    if edit_id:
        annotation = labelling.get_own_annotation(request.user, project, int(edit_id)) if edit_id.isdigit() else None
        if annotation is None:
            raise Http404("You have no such annotation in this project.")
        start = {"mode": "edit", **labelling.get_annotation_view(annotation, project=project)}
    else:
        claim = queue.claim_next_item(annotator=request.user, project=project)
        start = {"mode": "work", **labelling.get_claim_view(claim, project=project)} if claim else {"mode": "done"}
    return render(
        request,
        "annotator/item_annotate.html",
        {
            "project": project,
            "tasks": selectors.list_tasks_with_labels(project),
            "config": _page_config(project),
            "start": start,
            "progress": labelling.get_progress(request.user, project),
        },
    )


@project_view()
def my_annotations(request, project):
    """The annotator's own annotations, newest first, each with a link to change it."""
    page = labelling.list_own_annotations_page(request.user, project, before=request.GET.get("before"))
    return render(
        request,
        "annotator/my_annotations.html",
        {"project": project, "page": page, "tasks": selectors.list_tasks_with_labels(project)},
    )
