"""REST endpoints that choose control items (leads): mark items as control
items from their adjudicated gold, and unmark them. (Known answers can also
come with an import's `control` column; the report of control accuracy is
analysis's, at /api/projects/<slug>/controls/.)"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..services import controls
from .permissions import IsProjectLead, ProjectMixin
from .strict import StrictInput

TAGS = ["Items and adjudication (leads)"]
REFUSED = {400: OpenApiResponse(description="A domain rule refused the request; `detail` says what to do.")}


class ControlItemsIn(StrictInput):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=controls.MAX_ITEMS,
        help_text="Item ids (Affect Studio's, not the file's).",
    )


class MarkOut(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Items that are control items now.")
    without_gold = serializers.ListField(
        child=serializers.CharField(), help_text="External ids of items left alone: they have no adjudicated gold."
    )


class UnmarkOut(serializers.Serializer):
    unmarked = serializers.IntegerField()


# What marking and unmarking share: the project's leads only, and a body of item
# ids (ControlItemsIn). Each subclass documents and answers its own POST. (A comment,
# not a docstring: drf-spectacular would show a docstring as both operations' description.)
class LeadControlsView(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    def item_ids(self, request) -> list[int]:
        data = ControlItemsIn(data=request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data["items"]


class ControlsMark(LeadControlsView):
    @extend_schema(
        tags=TAGS,
        request=ControlItemsIn,
        responses={200: MarkOut, **REFUSED},
        summary="Use items as control items, their adjudicated gold as the known answers",
    )
    def post(self, request, slug):
        item_ids = self.item_ids(request)
        result = controls.mark_from_gold(project=self.get_project(), item_ids=item_ids, lead=request.user)
        return Response(MarkOut({"marked": result.marked, "without_gold": result.without_gold}).data)


class ControlsUnmark(LeadControlsView):
    @extend_schema(
        tags=TAGS,
        request=ControlItemsIn,
        responses={200: UnmarkOut, **REFUSED},
        summary="Stop using items as control items (their control answers become ordinary votes)",
    )
    def post(self, request, slug):
        item_ids = self.item_ids(request)
        n = controls.unmark(project=self.get_project(), item_ids=item_ids, lead=request.user)
        return Response(UnmarkOut({"unmarked": n}).data)
