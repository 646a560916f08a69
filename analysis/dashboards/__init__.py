"""Dashboards: selectors -> analysis.metrics -> analysis.figures, cached per project.

This package builds the pages of the analysis dashboard and writes nothing.

``get_dashboard(project=..., page=..., filters=...)`` is the one entry point:
the HTML views, the CSV download, the JSON API and bench/agreement.py all
call it. It returns a JSON-ready payload

    {"page", "empty": message | None, "notes": [str], "data": {...numbers for the API...},
     "charts": [{"id", "title", "caption", "figure": Plotly JSON | None, "message", "table": {"columns", "rows"}}]}

and caches it (django.core.cache) under the project's votes version
(analysis.selectors.get_votes_version) plus the filters, so a new or edited
vote makes the next request recompute. Figures are cached as JSON too: the
cached path is two small queries and a template render.

Every metric that is undefined for the data (analysis.metrics.UndefinedMetric)
becomes a reason shown in place of the number, never an exception.

One module per group of pages: agreement.py (agreement, confusion),
labels.py (distribution, keywords), annotators.py, modalities.py,
anchoring.py (the suggestions' anchoring experiment); the
helpers they share are in common.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from annotator.models import Annotation, Item, Project

from .. import selectors as sel
from ..selectors import DashboardFilters
from .agreement import build_agreement, build_confusion
from .anchoring import build_anchoring
from .annotators import build_annotators
from .labels import build_distribution, build_keywords
from .modalities import build_modalities

# Bump when the payload's shape changes, so old cache entries are not read.
# 2: names in figures are escaped (entries cached before carry them raw).
PAYLOAD_VERSION = 2
# Entries also expire, so a change the votes version cannot see heals itself.
CACHE_SECONDS = 60 * 60

PAGES: dict[str, str] = {
    "agreement": "Agreement",
    "confusion": "Confusion",
    "distribution": "Distribution",
    "keywords": "Keywords",
    "annotators": "Annotators",
    "modalities": "Modalities",
    "anchoring": "Anchoring",
}


# ---------------------------------------------------------------------------
# Entry point and cache


def get_dashboard(*, project: Project, page: str, filters: DashboardFilters) -> dict[str, Any]:
    """The payload of one dashboard page for the given filters, from the cache when the votes are unchanged."""
    if page not in PAGES:
        raise ValueError(f"unknown dashboard page {page!r}; pages are {', '.join(PAGES)}")
    key = dashboard_cache_key(project=project, page=page, filters=filters)
    payload = cache.get(key)
    if payload is None:
        payload = BUILDERS[page](project, filters)
        payload["filters"] = filters.as_dict()
        cache.set(key, payload, CACHE_SECONDS)
    return payload


def dashboard_cache_key(*, project: Project, page: str, filters: DashboardFilters) -> str:
    """Cache key: project, page, votes version (gold version too where stored gold is read; the
    experiment's settings on the anchoring page) and filters."""
    version = sel.get_votes_version(project)
    if page in ("distribution", "keywords", "annotators"):
        version += "|" + sel.get_gold_version(project)
    if page == "anchoring":  # its notes say whether the experiment runs now
        version += f"|{project.show_suggestions}:{project.suggestion_share}"
    if page == "annotators":  # its flags follow the lead's threshold; control answers move control accuracy
        version += f"|{project.reliability_threshold}|{sel.get_control_version(project)}"
    digest = hashlib.sha1(f"{version}|{filters.as_query()}".encode()).hexdigest()
    return f"analysis:{PAYLOAD_VERSION}:{project.pk}:{page}:{digest}"


def get_filter_choices(project: Project) -> dict[str, Any]:
    """Options of the filter form: splits, rounds and the project's members."""
    return {
        "splits": list(Item.Split.choices),
        "rounds": list(Annotation.Round.choices),
        "annotators": sel.list_annotator_choices(project),
    }


BUILDERS: dict[str, Callable[[Project, DashboardFilters], dict[str, Any]]] = {
    "agreement": build_agreement,
    "confusion": build_confusion,
    "distribution": build_distribution,
    "keywords": build_keywords,
    "annotators": build_annotators,
    "modalities": build_modalities,
    "anchoring": build_anchoring,
}
