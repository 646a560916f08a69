"""Dashboard pages for leads: one view per page, all thin.

Each view parses the filters, asks analysis.dashboards for the page's payload
(cached) and renders it; with ?format=csv&chart=<id> the same view answers
that chart's numbers as CSV.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotator.access import project_view
from annotator.io.writers import csv_rows
from annotator.models import Membership
from annotator.selectors import controls as control_selectors

from . import dashboards
from .dashboards.common import N_BOOT
from .dashboards.controls import build_controls
from .selectors import DashboardFilters


def _csv_response(project, page: str, payload: dict, chart_id: str) -> HttpResponse:
    chart = next((c for c in payload["charts"] if c["id"] == chart_id), None)
    if chart is None:
        raise Http404(f"This page has no chart {chart_id!r}.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{page}-{chart_id}.csv"'
    # Label names, usernames and words come from users: cells are formula-escaped.
    for line in csv_rows([chart["table"]["columns"], *chart["table"]["rows"]]):
        response.write(line)
    return response


def _dashboard(request, project, page: str):
    filters = DashboardFilters.from_query(request.GET)
    payload = dashboards.get_dashboard(project=project, page=page, filters=filters)
    if request.GET.get("format") == "csv":
        return _csv_response(project, page, payload, request.GET.get("chart", ""))
    query = filters.as_query()
    tabs = [
        (key, title, reverse(f"analysis:{key}", args=[project.slug]) + (f"?{query}" if query else ""))
        for key, title in dashboards.PAGES.items()
    ]
    return render(
        request,
        f"analysis/{page}.html",
        {
            "project": project,
            "page": page,
            "page_title": dashboards.PAGES[page],
            "tabs": tabs,
            "payload": payload,
            "filters": filters,
            "choices": dashboards.get_filter_choices(project),
            "csv_prefix": f"?{query}&" if query else "?",
            "n_boot": N_BOOT,
        },
    )


@project_view(role=Membership.Role.LEAD)
def agreement(request, project):
    return _dashboard(request, project, "agreement")


@project_view(role=Membership.Role.LEAD)
def confusion(request, project):
    return _dashboard(request, project, "confusion")


@project_view(role=Membership.Role.LEAD)
def distribution(request, project):
    return _dashboard(request, project, "distribution")


@project_view(role=Membership.Role.LEAD)
def keywords(request, project):
    return _dashboard(request, project, "keywords")


@project_view(role=Membership.Role.LEAD)
def annotators(request, project):
    return _dashboard(request, project, "annotators")


@project_view(role=Membership.Role.LEAD)
def modalities(request, project):
    return _dashboard(request, project, "modalities")


@project_view(role=Membership.Role.LEAD)
def anchoring(request, project):
    return _dashboard(request, project, "anchoring")


@project_view(role=Membership.Role.LEAD)
def controls(request, project):
    """Control items: the list, candidates from adjudicated gold, and accuracy per annotator."""
    report = build_controls(project)
    if request.GET.get("format") == "csv":
        return _csv_response(project, "controls", report, request.GET.get("chart", ""))
    return render(
        request,
        "analysis/controls.html",
        {
            "project": project,
            "report": report["data"],
            "charts": report["charts"],
            "candidates": control_selectors.list_control_candidates(project),
            "page": "controls",
            "csv_prefix": "?",
        },
    )
