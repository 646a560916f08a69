"""REST endpoints: one view per operation. Input serializers validate, a
service acts, output serializers answer. Domain errors become 400s through
annotator.api.errors."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..errors import DomainError
from ..models import ImportJob, Item
from ..selectors import imports as import_selectors
from ..services import exports as export_services
from ..services import import_jobs as import_services
from ..services import projects as project_services
from ..services import splits as split_services
from ..services.security import record_security_event
from . import serializers as s
from .params import query_bool, query_choice, query_int
from .permissions import CanCreateProjects, IsProjectLead, IsProjectLeadOrReadOnlyMember, IsProjectMember, ProjectMixin

User = get_user_model()


class IdCursor(CursorPagination):
    """Keyset pagination on the primary key: constant cost per page."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        # A page_size that is no number is a 400, as the schema says (DRF would use the default).
        query_int(request, self.page_size_query_param)
        return super().get_page_size(request)


class ProjectListCreate(APIView):
    permission_classes = [IsAuthenticated, CanCreateProjects]

    @extend_schema(responses=s.ProjectOut(many=True), summary="Projects you are a member of")
    def get(self, request):
        return Response(s.ProjectOut(selectors.list_projects_for_member(request.user), many=True).data)

    @extend_schema(
        request=s.ProjectCreateIn,
        responses={201: s.ProjectOut},
        summary="Create a project from a template",
        description="Staff, and users a staff member allowed (permission annotator.add_project); others get a 403.",
    )
    def post(self, request):
        data = s.ProjectCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_services.create_project(created_by=request.user, **data.validated_data)
        return Response(s.ProjectOut(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLeadOrReadOnlyMember]

    @extend_schema(responses=s.ProjectOut, summary="A project's settings")
    def get(self, request, slug):
        return Response(s.ProjectOut(self.get_project()).data)

    @extend_schema(request=s.ProjectSettingsIn, responses=s.ProjectOut, summary="Change settings (leads)")
    def patch(self, request, slug):
        data = s.ProjectSettingsIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = project_services.update_project_settings(project=self.get_project(), **data.validated_data)
        return Response(s.ProjectOut(project).data)


class ProjectSchema(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLeadOrReadOnlyMember]

    @extend_schema(responses=s.SchemaIO, summary="The label schema: tasks and their labels, in order")
    def get(self, request, slug):
        return Response({"tasks": selectors.get_project_schema(self.get_project()).as_dicts()})

    @extend_schema(
        request=s.SchemaIO, responses=s.SchemaIO, summary="Replace the schema (leads; additive only once votes exist)"
    )
    def put(self, request, slug):
        data = s.SchemaIO(data=request.data)
        data.is_valid(raise_exception=True)
        project = self.get_project()
        project_services.save_schema(project=project, tasks=data.validated_data["tasks"])
        return Response({"tasks": selectors.get_project_schema(project).as_dicts()})


class ItemList(ProjectMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated, IsProjectLead]
    serializer_class = s.ItemOut
    pagination_class = IdCursor

    @extend_schema(
        parameters=[
            OpenApiParameter("split", str, enum=Item.Split.values),
            OpenApiParameter("status", str, enum=[k for k, _ in selectors.ItemFilters.STATUSES]),
            OpenApiParameter("q", str, description="Text contains, or exact external id"),
            OpenApiParameter("gold", str, description="task_key:label_key"),
        ],
        summary="Items of a project (leads), cursor-paginated",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        project = self.get_project()
        # The page drops an unknown filter value; the API says so instead.
        query_choice(self.request, "split", Item.Split.values, "")
        query_choice(self.request, "status", [k for k, _ in selectors.ItemFilters.STATUSES], "")
        filters = selectors.ItemFilters.from_query(self.request.query_params, project)
        return filters.apply(Item.objects.filter(project=project), project)


class MyAnnotations(ProjectMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated, IsProjectMember]
    serializer_class = s.MyAnnotationOut
    pagination_class = IdCursor

    @extend_schema(summary="Your own annotations in this project")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return (
            selectors.list_annotations_visible_to(self.request.user, self.get_project())
            .filter(annotator=self.request.user)
            .select_related("item")
            .prefetch_related("votes__task", "votes__label")
        )


class GoldList(ProjectMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated, IsProjectLead]
    serializer_class = s.GoldOut
    pagination_class = IdCursor

    @extend_schema(summary="Gold labels (leads only)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.list_gold_visible_to(self.request.user, self.get_project()).select_related(
            "item", "task", "label", "majority_label"
        )


class MemberListCreate(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(responses=s.MembershipOut(many=True), summary="Members and roles (leads)")
    def get(self, request, slug):
        return Response(s.MembershipOut(selectors.list_members(self.get_project()), many=True).data)

    @extend_schema(
        request=s.MembershipIn, responses={201: s.MembershipCreatedOut}, summary="Add a member, or create an account"
    )
    def post(self, request, slug):
        data = s.MembershipIn(data=request.data)
        data.is_valid(raise_exception=True)
        d, project = data.validated_data, self.get_project()
        if d["create"]:
            user, password = project_services.create_member_account(
                project=project,
                username=d["username"],
                email=d["email"],
                role=d["role"],
                actor=request.user,
                request=request,
            )
        else:
            user = User.objects.filter(username__iexact=d["username"], is_active=True).first()
            if user is None:
                raise DomainError(
                    f"There is no user {d['username']!r}; send create=true to create one.", field="username"
                )
            project_services.add_member(project=project, user=user, role=d["role"], actor=request.user, request=request)
            password = None
        membership = project.memberships.select_related("user").get(user=user)
        body = s.MembershipOut(membership).data
        if password:
            body["one_time_password"] = password
        return Response(body, status=status.HTTP_201_CREATED)


class MemberDelete(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(responses={204: None}, summary="Remove a member (their votes are kept)")
    def delete(self, request, slug, user_id):
        user = get_object_or_404(User, pk=user_id)
        project_services.remove_member(project=self.get_project(), user=user, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _progress_body(job: ImportJob) -> dict:
    progress = import_selectors.get_import_progress(job)
    return {"id": job.pk, "error_count": job.error_count, **progress}


class ImportCreate(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]
    parser_classes = [MultiPartParser]  # a file travels as multipart only

    @extend_schema(
        request=s.ImportIn, responses={202: s.ImportProgressOut}, summary="Upload a dataset to validate and import"
    )
    def post(self, request, slug):
        data = s.ImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = import_services.create_import_job(
            project=self.get_project(),
            user=request.user,
            upload=upload,
            original_name=upload.name,
            on_duplicate=data.validated_data["on_duplicate"],
            dry_run=data.validated_data["dry_run"],
        )
        job.refresh_from_db()
        return Response(_progress_body(job), status=status.HTTP_202_ACCEPTED)


class ImportStatus(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(responses=s.ImportProgressOut, summary="Progress and problems of an import")
    def get(self, request, slug, job_id):
        job = get_object_or_404(ImportJob, pk=job_id, project=self.get_project())
        return Response(_progress_body(job))


class ImportConfirm(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        request=s.ImportConfirmIn,
        responses={202: s.ImportProgressOut},
        summary="Import a validated file (optionally only its valid rows)",
    )
    def post(self, request, slug, job_id):
        job = get_object_or_404(ImportJob, pk=job_id, project=self.get_project())
        data = s.ImportConfirmIn(data=request.data)
        data.is_valid(raise_exception=True)
        import_services.confirm_import(job=job, user=request.user, **data.validated_data)
        job.refresh_from_db()
        return Response(_progress_body(job), status=status.HTTP_202_ACCEPTED)


class ImportRetry(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        request=None, responses={202: s.ImportProgressOut}, summary="Run a failed import again from its kept file"
    )
    def post(self, request, slug, job_id):
        job = get_object_or_404(ImportJob, pk=job_id, project=self.get_project())
        job = import_services.retry_import(job=job, user=request.user)
        return Response(_progress_body(job), status=status.HTTP_202_ACCEPTED)


class ImportDiscard(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        request=None, responses=s.ImportProgressOut, summary="Give up a checked or failed import and remove its file"
    )
    def post(self, request, slug, job_id):
        job = get_object_or_404(ImportJob, pk=job_id, project=self.get_project())
        job = import_services.discard_import(job=job, user=request.user)
        return Response(_progress_body(job))


class _FileNegotiation(DefaultContentNegotiation):
    """The export answers a file whatever ?format= or Accept say: here
    `format` names the file's format, not a DRF renderer (DRF would answer
    404 for ?format=jsonl). Errors are JSON. Only this view: the schema view
    still picks JSON or YAML by ?format=."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class Export(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]
    renderer_classes, content_negotiation_class = [JSONRenderer], _FileNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "file_format",
                str,
                enum=list(export_services.FORMATS),
                default="csv",
                description="csv or jsonl: one file; msed: a ZIP in the MSED release layout.",
            ),
            OpenApiParameter(
                "format",
                str,
                enum=list(export_services.FORMATS),
                description="The same as file_format (kept for old scripts); file_format wins when both are given.",
            ),
            OpenApiParameter(
                "pseudonymise", bool, default=True, description="Name annotators by their project pseudonym."
            ),
            OpenApiParameter(
                "raw",
                bool,
                default=False,
                description=(
                    "CSV cells (csv, msed) as exact values for scripts. By default a cell starting with = + - @, tab or carriage "
                    "return gets a leading ' so spreadsheets show it as text; importing the file removes it again."
                ),
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "application/zip"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="An unknown file_format; `detail` lists the choices."),
        },
        summary="Stream the project's items, gold and votes",
    )
    def get(self, request, slug):
        fmt = request.query_params.get("file_format") or request.query_params.get("format") or "csv"
        if fmt not in export_services.FORMATS:
            raise DomainError("file_format must be csv, jsonl or msed.", field="file_format")
        pseudonymise, raw = query_bool(request, "pseudonymise", True), query_bool(request, "raw", False)
        record_security_event(
            kind="export",
            actor=request.user,
            project=self.get_project(),
            request=request,
            format=fmt,
            pseudonymise=pseudonymise,
            raw=raw,
        )
        filename, content_type, chunks = export_services.stream_export(
            project=self.get_project(), fmt=fmt, pseudonymise=pseudonymise, raw=raw
        )
        response = StreamingHttpResponse(chunks, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class AssignSplits(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        request=s.SplitIn, responses={200: OpenApiTypes.OBJECT}, summary="Stratified 70/10/20 split (MSED 5.1)"
    )
    def post(self, request, slug):
        data = s.SplitIn(data=request.data)
        data.is_valid(raise_exception=True)
        counts = split_services.assign_splits(project=self.get_project(), **data.validated_data)
        return Response(counts)
