"""REST endpoints of the labelling workspace (members) and of the item
record and adjudication (leads). One view per operation: an input
serializer validates, one service acts, an output serializer answers.

Annotators only ever receive their own annotations and the item as the
round shows it: never other people's votes, never gold.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..errors import DomainError
from ..models import Annotation, Item, Label, Task
from ..selectors import labelling, review
from ..services import gold as gold_services
from ..services import queue, votes
from . import workspace_serializers as s
from .params import query_bool, query_int
from .parsers import SafeJSONParser
from .permissions import IsProjectLead, IsProjectMember, ProjectMixin

TAG_WORK = ["Labelling"]
TAG_LEAD = ["Items and adjudication (leads)"]
REFUSED = {400: OpenApiResponse(description="A domain rule refused the request; `detail` says what to do.")}


class ItemMixin(ProjectMixin):
    def get_item(self) -> Item:
        item = selectors.get_item_in(self.get_project(), self.kwargs["item_id"])
        if item is None:
            raise Http404("No such item in this project.")
        return item


# The labelling loop (QueueNext, ItemSubmit) runs once per item per
# annotator, all day: those two views read their few input values with the
# checks below and answer with the dict their output serializer documents,
# instead of building DRF serializers on every request (that was a quarter
# of the loop's CPU). The services validate everything else (labels, order,
# key, duration). tests/annotator/test_workspace_api.py holds the dicts and
# the documented serializers together.


def _object(data) -> dict:
    if not isinstance(data, dict):
        raise DomainError("Send a JSON object.")
    return data


# JSON types exactly as the schema documents them (no "12" for 12, no 0 for
# false): tests/test_api_schema_fuzz.py holds the two to each other.
def _optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(f"{name} must be a whole number.", field=name)
    return value


def _flag(data: dict, name: str) -> bool:
    value = data.get(name, False)
    if isinstance(value, bool):
        return value
    raise DomainError(f"{name} must be true or false.", field=name)


class QueueNext(ItemMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectMember]
    throttle_classes = ()  # the labelling loop: no cache round trip per request (settings: REST_FRAMEWORK)
    parser_classes, renderer_classes = [SafeJSONParser], [JSONRenderer]  # JSON only: no negotiation per request

    @extend_schema(
        tags=TAG_WORK,
        request=s.NextIn,
        responses=s.NextOut,
        summary="Claim your next item (or get back the one you hold)",
        description=(
            "Returns the item you hold if any, else claims a new one for `claim_minutes` (renewed by any action "
            "and the heartbeat). Pass `current_item` to fetch ahead: you then get an item other than that one."
        ),
    )
    def post(self, request, slug):
        data = _object(request.data)
        current_item, include_progress = _optional_int(data, "current_item"), _flag(data, "include_progress")
        project = self.get_project()
        claim = queue.claim_next_item(annotator=request.user, project=project, current_item_id=current_item)
        body = {
            "work": labelling.get_claim_view(claim, project=project) if claim else None,
            "message": "" if claim else "Nothing is left for you to label in this project. Thank you!",
        }
        if include_progress:
            body["progress"] = labelling.get_progress(request.user, project)
        return Response(body)  # as NextOut documents it


class QueueHeartbeat(ItemMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectMember]
    throttle_classes = ()  # the labelling loop: no cache round trip per request (settings: REST_FRAMEWORK)

    @extend_schema(tags=TAG_WORK, request=None, responses=s.HeartbeatOut, summary="Renew your claims while you work")
    def post(self, request, slug):
        expires_at = queue.renew_claims(annotator=request.user, project=self.get_project())
        return Response(s.HeartbeatOut({"expires_at": expires_at}).data)


class ItemSubmit(ItemMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectMember]
    throttle_classes = ()  # the labelling loop: no cache round trip per request (settings: REST_FRAMEWORK)
    parser_classes, renderer_classes = [SafeJSONParser], [JSONRenderer]

    @extend_schema(
        tags=TAG_WORK,
        request=s.SubmitIn,
        responses={201: s.SubmitOut, 200: s.SubmitOut, **REFUSED},
        summary="Submit your labels for a claimed item (idempotent by client_key)",
    )
    def post(self, request, slug, item_id):
        d = _object(request.data)
        if not d.get("client_key"):
            raise DomainError(
                "Send a client_key: a new UUID for each annotation, the same one when retrying.", field="client_key"
            )
        result = votes.submit_annotation(
            annotator=request.user,
            item=self.get_item(),
            round_=d.get("round") or Annotation.Round.MULTIMODAL,
            labels=d.get("labels"),
            inference_order=d.get("inference_order"),
            duration_ms=d.get("duration_ms"),
            client_key=d["client_key"],
            suggestion_run_id=_optional_int(d, "suggestion_run"),
        )
        a = result.annotation
        body = {
            "annotation": a.pk,
            "item": a.item_id,
            "round": a.round,
            "created": result.created,
            "item_complete": result.item_complete,
        }
        if result.control_feedback is not None:  # only with Project.control_feedback, on a control item
            body["control_feedback"] = result.control_feedback
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )  # as SubmitOut documents it


class ItemSkip(ItemMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectMember]
    throttle_classes = ()  # the labelling loop: no cache round trip per request (settings: REST_FRAMEWORK)

    @extend_schema(
        tags=TAG_WORK,
        request=s.SkipIn,
        responses={200: s.SkipOut, **REFUSED},
        summary="Skip an item, with an optional reason",
    )
    def post(self, request, slug, item_id):
        data = s.SkipIn(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        skip = votes.skip_item(annotator=request.user, item=self.get_item(), round_=d["round"], reason=d["reason"])
        return Response(s.SkipOut({"item": skip.item_id, "round": skip.round, "skipped_at": skip.at}).data)


class OwnAnnotation(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectMember]

    def get_annotation(self):
        annotation = labelling.get_own_annotation(self.request.user, self.get_project(), self.kwargs["annotation_id"])
        if annotation is None:
            raise Http404("You have no such annotation in this project.")
        return annotation

    @extend_schema(
        tags=TAG_WORK,
        responses=s.OwnAnnotationViewOut,
        summary="One of your annotations, with the item as its round showed it",
    )
    def get(self, request, slug, annotation_id):
        return Response(
            s.OwnAnnotationViewOut(
                labelling.get_annotation_view(self.get_annotation(), project=self.get_project())
            ).data
        )

    @extend_schema(
        tags=TAG_WORK,
        request=s.EditIn,
        responses={200: s.OwnAnnotationViewOut, **REFUSED},
        summary="Change your annotation (kept in its edit history)",
    )
    def patch(self, request, slug, annotation_id):
        data = s.EditIn(data=request.data)
        data.is_valid(raise_exception=True)
        annotation = votes.edit_annotation(annotation=self.get_annotation(), editor=request.user, **data.validated_data)
        return Response(
            s.OwnAnnotationViewOut(labelling.get_annotation_view(annotation, project=self.get_project())).data
        )


class OwnAnnotationPrevious(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectMember]

    @extend_schema(
        tags=TAG_WORK,
        parameters=[
            OpenApiParameter(
                "before", int, description="An annotation id: return your annotation made just before it."
            ),
            OpenApiParameter("after", int, description="An annotation id: return your annotation made just after it."),
        ],
        responses={200: s.OwnAnnotationViewOut, 404: OpenApiResponse(description="No earlier (or later) annotation.")},
        summary="Step back (or forward) through your own annotations",
    )
    def get(self, request, slug):
        project = self.get_project()
        after, before = _int_param(request, "after"), _int_param(request, "before")  # both checked, as documented
        if after:
            annotation = labelling.get_next_annotation(request.user, project, after_id=after)
        else:
            annotation = labelling.get_previous_annotation(request.user, project, before_id=before)
        if annotation is None:
            raise Http404("There is no annotation of yours in that direction.")
        return Response(s.OwnAnnotationViewOut(labelling.get_annotation_view(annotation, project=project)).data)


def _int_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise DomainError(f"{name} must be an annotation id.", field=name) from exc


class ItemRecord(ItemMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        tags=TAG_LEAD, responses=s.ItemRecordOut, summary="An item's votes, gold, suggestions and history (leads)"
    )
    def get(self, request, slug, item_id):
        record = review.get_item_record(self.get_item(), project=self.get_project())
        return Response(s.ItemRecordOut(record).data)


class ItemAdjudicate(ItemMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        tags=TAG_LEAD,
        request=s.AdjudicateIn,
        responses={200: s.GoldRowOut, **REFUSED},
        summary="Settle an item's gold label for a task (kept when more votes arrive)",
    )
    def post(self, request, slug, item_id):
        data = s.AdjudicateIn(data=request.data)
        data.is_valid(raise_exception=True)
        project, item = self.get_project(), self.get_item()
        task = Task.objects.filter(project=project, key=data.validated_data["task"]).first()
        if task is None:
            raise DomainError(f"There is no task {data.validated_data['task']!r} in this project.", field="task")
        label = Label.objects.filter(task=task, key=data.validated_data["label"]).first()
        if label is None:
            raise DomainError(f"{data.validated_data['label']!r} is not a label of {task.name}.", field="label")
        gold = gold_services.adjudicate(item=item, task=task, label=label, lead=request.user)
        gold.disputed = gold.is_disputed(project.dispute_threshold)
        gold.distribution = review.get_vote_distribution([item.pk]).get((item.pk, task.pk), [])
        return Response(s.GoldRowOut(gold).data)


class DisputedList(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        tags=TAG_LEAD,
        parameters=[
            OpenApiParameter("after", int, description="Item id of the previous page's last row (keyset)."),
            OpenApiParameter("complete", bool, description="Only items that have all their votes."),
        ],
        responses=s.DisputedPageOut,
        summary="Disputed items: a tie or support below the threshold, not yet adjudicated (leads)",
    )
    def get(self, request, slug):
        page = review.list_disputed_items(
            self.get_project(),
            after=query_int(request, "after"),
            complete_only=query_bool(request, "complete", False),
        )
        return Response(s.DisputedPageOut(page).data)
