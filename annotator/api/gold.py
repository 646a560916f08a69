"""Model-based gold for leads: the recompute job's status and button, and the
items whose Dawid-Skene or MACE gold is in doubt (issue 14, section 2)."""

from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import gold_jobs
from ..models import Project
from ..selectors import get_project_schema, review
from .params import query_int
from .permissions import IsProjectLead, ProjectMixin
from .workspace_serializers import DisputedItemOut

TAG = ["Gold quality (leads)"]


class GoldStatusOut(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=Project.GoldStrategy.choices, help_text="The project's gold strategy.")
    task_strategies = serializers.DictField(
        child=serializers.CharField(), help_text="task key -> its effective gold strategy."
    )
    uses_model = serializers.BooleanField(help_text="Whether any task's gold comes from Dawid-Skene or MACE.")
    state = serializers.ChoiceField(choices=["idle", "scheduled", "running", "succeeded", "failed"])
    at = serializers.CharField(allow_null=True, help_text="When the job reached that state (ISO 8601).")
    error = serializers.CharField(allow_blank=True)
    computed_at = serializers.DateTimeField(allow_null=True, help_text="The last successful recompute.")


def _status(project: Project) -> dict:
    schema = get_project_schema(project)
    return {
        "strategy": project.gold_strategy,
        "task_strategies": {t.key: gold_jobs.task_strategy(project, t) for t in schema.tasks},
        "uses_model": gold_jobs.uses_model(project, schema),
        **gold_jobs.get_status(project),
    }


class GoldRecompute(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(tags=TAG, responses=GoldStatusOut, summary="The model-based gold job's status (leads)")
    def get(self, request, slug):
        return Response(GoldStatusOut(_status(self.get_project())).data)

    @extend_schema(
        tags=TAG, request=None, responses={202: GoldStatusOut}, summary="Recompute model-based gold now (leads)"
    )
    def post(self, request, slug):
        project = self.get_project()
        gold_jobs.request_recompute(project)
        return Response(GoldStatusOut(_status(project)).data, status=status.HTTP_202_ACCEPTED)


class GoldDoubtPageOut(serializers.Serializer):
    items = DisputedItemOut(many=True)
    next_after = serializers.IntegerField(allow_null=True, help_text="Pass as ?after= for the next page.")
    below = serializers.FloatField(help_text="The confidence threshold used.")


class GoldDoubts(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        tags=TAG,
        parameters=[
            OpenApiParameter("task", str, description="Only this task (its key)."),
            OpenApiParameter("below", float, description="Confidence threshold (0-1); default the dispute threshold."),
            OpenApiParameter("after", int, description="Item id of the previous page's last row (keyset)."),
        ],
        responses=GoldDoubtPageOut,
        summary="Items whose Dawid-Skene or MACE gold differs from the majority or has low confidence (leads)",
    )
    def get(self, request, slug):
        project = self.get_project()
        key, below = request.query_params.get("task"), request.query_params.get("below")
        if key is not None and key not in get_project_schema(project).keys:
            raise ValidationError({"task": [f"There is no task {key!r} in this project."]})
        if below is not None:
            try:
                value = float(below)
            except ValueError:
                value = math.nan
            if not 0 <= value <= 1:
                raise ValidationError({"below": ["Must be a number between 0 and 1."]})
        task, threshold = review.parse_doubt_filters(project, task=key, below=below)
        page = review.list_model_doubts(project, task=task, threshold=threshold, after=query_int(request, "after"))
        return Response(GoldDoubtPageOut({**page, "below": threshold}).data)
