"""The control-items page (issue 14 section 3): the project's control items
and each annotator's accuracy on them, with a Wilson interval and a weekly
timeline. Not cached: it is a lead's page of a few small queries
(annotator.selectors.controls), not a matrix over all votes."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Project
from annotator.selectors import controls

from .. import figures
from ..metrics import wilson_interval
from .common import chart, user_names


def build_controls(project: Project) -> dict[str, Any]:
    """{"data": {...} for the API, "charts": [the timeline], "items", "annotators"} of the page."""
    items = controls.list_control_items(project)
    scores = controls.get_control_scores(project)
    timeline = controls.get_control_timeline(project)
    ids = np.array(sorted(scores), dtype=np.int64)
    names = dict(zip(ids.tolist(), user_names(ids)))
    annotators = []
    for user_id in ids.tolist():
        score = scores[user_id]
        interval = wilson_interval(score.correct, score.total)
        annotators.append(
            {
                "id": user_id,
                "username": names[user_id],
                "correct": score.correct,
                "total": score.total,
                "accuracy": score.accuracy,
                "low": interval[0] if interval else None,
                "high": interval[1] if interval else None,
                "below_threshold": interval is not None and interval[1] < project.reliability_threshold,
                "weeks": [
                    {"week": week, "correct": s.correct, "total": s.total} for week, s in timeline.get(user_id, [])
                ],
            }
        )
    item_rows = [
        {
            "id": row.item_id,
            "external_id": row.external_id,
            "text": row.text,
            "answers": [{"task": task, "label": label, "source": source} for task, label, source in row.answers],
            "seen": row.seen,
            "correct": row.score.correct,
            "total": row.score.total,
            "accuracy": row.score.accuracy,
        }
        for row in items
    ]
    series = {a["username"]: [(w["week"], w["correct"], w["total"]) for w in a["weeks"]] for a in annotators}
    charts = []
    if series:
        charts.append(
            chart(
                "control-accuracy",
                "Control accuracy per week",
                figure=figures.control_accuracy_figure(series),
                columns=["annotator", "week", "correct", "total"],
                rows=[(a["username"], w["week"], w["correct"], w["total"]) for a in annotators for w in a["weeks"]],
                caption="Share of an annotator's answers on control items that matched the known answer, per ISO week.",
                wide=True,
            )
        )
    return {
        "data": {
            "control_every": project.control_every,
            "control_feedback": project.control_feedback,
            "threshold": project.reliability_threshold,
            "items": item_rows,
            "annotators": annotators,
        },
        "charts": charts,
    }
