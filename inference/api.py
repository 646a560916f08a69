"""Model endpoints for leads: one DRF view per operation. An input serializer
checks types, a service acts (DomainError -> 400 with its message through
annotator.api.errors), an output serializer answers. Outsiders get a 404,
annotators a 403 (annotator.api.permissions)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.params import query_choice, query_int
from annotator.api.permissions import IsProjectLead, ProjectMixin
from annotator.api.strict import StrictInput

from . import reports, selectors
from .modeling.options import API, LOSS_OPTIONS, OptionSpec, options_for
from .models import PredictionRun, TrainingRun
from .services.files import hide_server_paths, offered_image_weights, offered_text_encoders, public_config
from .services.options import describe_config
from .services.prelabelling import mark_prelabeller, update_policy
from .services.runs import EXPERIMENT_GRIDS, cancel_run, start_experiment, start_prediction_run, start_training_run

TAGS = ["models"]


# ---------------------------------------------------------------------------
# Input


def option_field(spec: OptionSpec) -> serializers.Field:
    """The input field of one training option: optional (omitted keeps the
    default), its help the description's. Choices are checked by the
    service, whose message names them, so choice options are plain strings."""
    common = {"required": False, "help_text": spec.help_text}
    if spec.type is bool:
        return serializers.BooleanField(**common)
    if spec.type is int:
        return serializers.IntegerField(**common)
    if spec.type is float:
        return serializers.FloatField(**common)
    if spec.name == "chain":  # a list of task keys, or the same as text
        return serializers.JSONField(allow_null=True, **common)
    if spec.nullable:
        return serializers.CharField(allow_null=True, allow_blank=spec.offered, **common)
    return serializers.CharField(**common)


def _losses_field() -> serializers.DictField:
    """The losses group as one object, as TrainConfig stores it."""
    return serializers.DictField(
        required=False,
        help_text=" ".join(f"{spec.name}: {spec.help_text}" for spec in LOSS_OPTIONS if API in spec.where),
    )


class RunOptionsIn(StrictInput):
    """A run's name; TrainIn adds a field per training option."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def options(self) -> dict:
        data = dict(self.validated_data)
        data.pop("name", None)
        data.pop("grids", None)
        data.pop("fusions", None)
        return data


def _train_fields() -> dict[str, serializers.Field]:
    fields: dict[str, serializers.Field] = {}
    for spec in options_for(API):
        if spec.group == "losses":
            fields.setdefault("losses", _losses_field())
        else:
            fields[spec.name] = option_field(spec)
    return fields


TrainIn = type(RunOptionsIn)(
    "TrainIn",
    (RunOptionsIn,),
    {
        "__module__": __name__,
        "__doc__": "Options of a training run; each omitted option keeps its default.",
        **_train_fields(),
    },
)


class ExperimentIn(TrainIn):
    grids = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list(EXPERIMENT_GRIDS),
        help_text="Any of modalities (text / image / fused), fusions (every strategy), orders (every task order).",
    )
    fusions = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Fusions of the fusions grid (default: all)."
    )


class PredictIn(StrictInput):
    training_run = serializers.IntegerField(
        required=False, help_text="A succeeded training run; default: the pre-labeller."
    )


class PolicyIn(StrictInput):
    retrain_every_n_gold = serializers.IntegerField(
        min_value=0,
        max_value=1_000_000,
        help_text="Retrain the pre-labeller after this many new gold labels; 0 = never.",
    )
    suggest_new_items = serializers.BooleanField(help_text="New items get suggestions from the pre-labeller.")


# ---------------------------------------------------------------------------
# Output


class PublicText(serializers.CharField):
    """Text from a worker (errors, warnings, phases), server paths made relative."""

    def to_representation(self, value) -> str:
        return hide_server_paths(super().to_representation(value))


class PublicConfig(serializers.JSONField):
    """A run's configuration with weights by name and no absolute server path."""

    def to_representation(self, value):
        return public_config(super().to_representation(value))


class TrainOptionsOut(serializers.Serializer):
    text_encoders = serializers.ListField(
        child=serializers.CharField(), help_text="Values text_encoder and tokenizer accept."
    )
    image_encoders = serializers.ListField(child=serializers.CharField())
    image_weights = serializers.ListField(
        child=serializers.CharField(), help_text="Values image_weights accepts (besides empty)."
    )


class RunSummaryOut(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField()
    phase = PublicText(read_only=True)
    error = PublicText(read_only=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "name",
            "experiment",
            "status",
            "summary",
            "epoch",
            "epochs_total",
            "progress",
            "phase",
            "error",
            "cancel_requested",
            "is_prelabeller",
            "auto_promote",
            "test_metrics",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_summary(self, run) -> str:
        return describe_config(run.config)


class RunOut(RunSummaryOut):
    config = PublicConfig(read_only=True)
    warnings = serializers.ListField(child=PublicText(), read_only=True)
    targets_comparison = serializers.SerializerMethodField(
        help_text="Soft against hard targets (issue 14.4): null, or the project's run with the same options and "
        "the other targets ('other_run') and per task the test macro-F1 and ECE before / after temperature "
        "scaling of the hard and the soft run and soft minus hard."
    )

    class Meta(RunSummaryOut.Meta):
        fields = RunSummaryOut.Meta.fields + [
            "config",
            "history",
            "best_epoch",
            "dev_metrics",
            "data_counts",
            "warnings",
            "calibration",
            "branch_metrics",
            "timings",
            "targets_comparison",
        ]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_targets_comparison(self, run) -> dict | None:
        comparison = reports.targets_comparison(run, selectors.get_project_schema(run.project))
        if comparison is None:
            return None
        return {
            "other_run": comparison["other"].pk,
            "tasks": {row["key"]: {side: row[side] for side in ("hard", "soft", "diff")} for row in comparison["rows"]},
        }


class PredictionOut(serializers.ModelSerializer):
    error = PublicText(read_only=True)

    class Meta:
        model = PredictionRun
        fields = [
            "id",
            "training_run",
            "status",
            "reason",
            "items_total",
            "items_done",
            "items_skipped",
            "progress",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
        ]


class PolicyOut(serializers.Serializer):
    retrain_every_n_gold = serializers.IntegerField()
    suggest_new_items = serializers.BooleanField()
    gold_at_last_training = serializers.IntegerField()


class ComparisonCellOut(serializers.Serializer):
    precision = serializers.FloatField(allow_null=True)
    recall = serializers.FloatField(allow_null=True)
    macro_f1 = serializers.FloatField(allow_null=True)
    weighted_f1 = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True)
    dev_macro_f1 = serializers.FloatField(allow_null=True)
    best = serializers.BooleanField()


class ComparisonRowOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    summary = serializers.CharField()
    tasks = serializers.DictField(child=ComparisonCellOut())


class ComparisonOut(serializers.Serializer):
    tasks = serializers.ListField(child=serializers.CharField())
    rows = ComparisonRowOut(many=True)


class ExperimentOut(serializers.Serializer):
    experiment = serializers.CharField()
    runs = RunSummaryOut(many=True)


class AccuracyOut(serializers.Serializer):
    accuracy = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()


class AnnotatorAccuracyOut(AccuracyOut):
    name = serializers.CharField()


class HumanTaskOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    n_items = serializers.IntegerField()
    model = AccuracyOut()
    annotators = AnnotatorAccuracyOut(many=True)
    mean = serializers.FloatField(allow_null=True)


class ModelVsAnnotatorsOut(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True, source="run.pk", default=None)
    prediction_run = serializers.IntegerField(allow_null=True, source="prediction_run.pk", default=None)
    message = serializers.CharField(allow_null=True)
    tasks = HumanTaskOut(many=True)


class MapPointOut(serializers.Serializer):
    id = serializers.IntegerField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    value = serializers.JSONField(allow_null=True)
    url = serializers.CharField()
    thumb = serializers.CharField(allow_blank=True)


class EmbeddingOut(serializers.Serializer):
    points = MapPointOut(many=True)
    explained = serializers.ListField(child=serializers.FloatField(), required=False)
    legend = serializers.CharField(required=False)
    categorical = serializers.BooleanField(required=False)
    message = serializers.CharField(allow_null=True, required=False)


# ---------------------------------------------------------------------------
# Views


class LeadView(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    def get_run(self) -> TrainingRun:
        return get_object_or_404(TrainingRun, pk=self.kwargs["run_id"], project=self.get_project())

    def get_prediction(self) -> PredictionRun:
        return get_object_or_404(PredictionRun, pk=self.kwargs["prediction_id"], project=self.get_project())


class RunListCreate(LeadView):
    @extend_schema(responses=RunSummaryOut(many=True), summary="Training runs, newest first (leads)", tags=TAGS)
    def get(self, request, slug):
        runs = selectors.list_training_runs(self.get_project())[:100]
        return Response(RunSummaryOut(runs, many=True).data)

    @extend_schema(
        request=TrainIn,
        responses={201: RunOut},
        tags=TAGS,
        summary="Start a training run (leads)",
        description="Queues a run on the project's gold labels (train / dev / test splits). Poll GET runs/{id}/ for progress.",
    )
    def post(self, request, slug):
        data = TrainIn(data=request.data)
        data.is_valid(raise_exception=True)
        run = start_training_run(
            project=self.get_project(),
            user=request.user,
            options=data.options(),
            name=data.validated_data.get("name", ""),
        )
        return Response(RunOut(run).data, status=status.HTTP_201_CREATED)


class TrainOptions(LeadView):
    @extend_schema(
        responses=TrainOptionsOut, tags=TAGS, summary="Encoders and weights this server offers, by name (leads)"
    )
    def get(self, request, slug):
        from inference.modeling.config import IMAGE_ENCODERS

        return Response(
            TrainOptionsOut(
                {
                    "text_encoders": offered_text_encoders(),
                    "image_encoders": list(IMAGE_ENCODERS),
                    "image_weights": offered_image_weights(),
                }
            ).data
        )


class RunDetail(LeadView):
    @extend_schema(responses=RunOut, tags=TAGS, summary="A training run: status, progress, curve, metrics (leads)")
    def get(self, request, slug, run_id):
        return Response(RunOut(self.get_run()).data)


class RunCancel(LeadView):
    @extend_schema(request=None, responses=RunOut, tags=TAGS, summary="Cancel a queued or running training run (leads)")
    def post(self, request, slug, run_id):
        return Response(RunOut(cancel_run(run=self.get_run())).data)


class RunMarkPrelabeller(LeadView):
    @extend_schema(
        request=None,
        responses=RunOut,
        tags=TAGS,
        summary="Make a succeeded run the pre-labeller (leads)",
        description="One pre-labeller per project; a prediction run then writes suggestions for every unlabelled item.",
    )
    def post(self, request, slug, run_id):
        return Response(RunOut(mark_prelabeller(run=self.get_run())).data)


class RunEmbedding(LeadView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "space",
                OpenApiTypes.STR,
                enum=["fused", "text", "image"],
                description="Which representation (default fused).",
            ),
            OpenApiParameter(
                "colour",
                OpenApiTypes.STR,
                enum=list(reports.MAP_COLOURS),
                description="gold, disagreement or confidence.",
            ),
            OpenApiParameter(
                "task", OpenApiTypes.STR, description="Task key for the colour (default: the first task)."
            ),
        ],
        responses=EmbeddingOut,
        tags=TAGS,
        summary="2-D map of a run's item representations (leads)",
    )
    def get(self, request, slug, run_id):
        colour = request.query_params.get("colour", "gold")
        if colour not in reports.MAP_COLOURS:
            return Response(
                {"detail": f"colour must be one of {', '.join(reports.MAP_COLOURS)}."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        space = query_choice(request, "space", ["fused", "text", "image"], "fused")
        data = reports.embedding_points(
            self.get_run(), space=space, colour=colour, task_key=request.query_params.get("task", "")
        )
        return Response(EmbeddingOut(data).data)


class ExperimentCreate(LeadView):
    @extend_schema(
        request=ExperimentIn,
        responses={201: ExperimentOut},
        tags=TAGS,
        summary="Start an experiment grid (leads)",
        description="Queues text-only, image-only and fused runs, every fusion and every task order (MSED Tables 5, 6, 8) under one experiment id.",
    )
    def post(self, request, slug):
        data = ExperimentIn(data=request.data)
        data.is_valid(raise_exception=True)
        runs = start_experiment(
            project=self.get_project(),
            user=request.user,
            options=data.options(),
            grids=data.validated_data["grids"],
            fusions=data.validated_data.get("fusions"),
            name=data.validated_data.get("name", ""),
        )
        return Response(
            ExperimentOut({"experiment": runs[0].experiment, "runs": runs}).data, status=status.HTTP_201_CREATED
        )


class Compare(LeadView):
    @extend_schema(
        parameters=[
            OpenApiParameter("experiment", OpenApiTypes.STR, description="An experiment id."),
            OpenApiParameter("runs", OpenApiTypes.STR, description="Or run ids, comma-separated."),
        ],
        responses=ComparisonOut,
        tags=TAGS,
        summary="Test metrics of runs side by side (leads)",
    )
    def get(self, request, slug):
        project = self.get_project()
        experiment = request.query_params.get("experiment", "")
        if experiment:
            runs = selectors.list_experiment_runs(project, experiment)
        else:
            ids = [int(p) for p in request.query_params.get("runs", "").split(",") if p.strip().isdigit()]
            runs = list(TrainingRun.objects.filter(project=project, pk__in=ids).order_by("id"))
        return Response(ComparisonOut(reports.comparison_rows(runs, selectors.get_project_schema(project).keys)).data)


class PredictionListCreate(LeadView):
    @extend_schema(responses=PredictionOut(many=True), tags=TAGS, summary="Recent prediction runs (leads)")
    def get(self, request, slug):
        return Response(PredictionOut(selectors.list_prediction_runs(self.get_project(), limit=50), many=True).data)

    @extend_schema(
        request=PredictIn,
        responses={201: PredictionOut},
        tags=TAGS,
        summary="Write suggestions for unlabelled items (leads)",
    )
    def post(self, request, slug):
        data = PredictIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = self.get_project()
        training_run = None
        if "training_run" in data.validated_data:
            training_run = get_object_or_404(TrainingRun, pk=data.validated_data["training_run"], project=project)
        run = start_prediction_run(project=project, training_run=training_run, user=request.user)
        return Response(PredictionOut(run).data, status=status.HTTP_201_CREATED)


class PredictionDetail(LeadView):
    @extend_schema(responses=PredictionOut, tags=TAGS, summary="A prediction run's progress (leads)")
    def get(self, request, slug, prediction_id):
        return Response(PredictionOut(self.get_prediction()).data)


class PredictionCancel(LeadView):
    @extend_schema(request=None, responses=PredictionOut, tags=TAGS, summary="Cancel a prediction run (leads)")
    def post(self, request, slug, prediction_id):
        return Response(PredictionOut(cancel_run(run=self.get_prediction())).data)


class ModelVsAnnotators(LeadView):
    @extend_schema(
        parameters=[
            OpenApiParameter("run", OpenApiTypes.INT, description="A training run (default: the pre-labeller).")
        ],
        responses=ModelVsAnnotatorsOut,
        tags=TAGS,
        summary="Model versus annotators, MSED Table 7 (leads)",
        description="On held-out items with at least three votes: the model's accuracy against the annotators' majority, "
        "and each annotator's accuracy against the majority of the others.",
    )
    def get(self, request, slug):
        project = self.get_project()
        run = None
        run_id = query_int(request, "run")
        if run_id is not None:
            run = get_object_or_404(TrainingRun, pk=run_id, project=project)
        return Response(ModelVsAnnotatorsOut(reports.model_vs_annotators(project=project, training_run=run)).data)


class Policy(LeadView):
    @extend_schema(responses=PolicyOut, tags=TAGS, summary="The pre-labelling policy (leads)")
    def get(self, request, slug):
        return Response(PolicyOut(selectors.get_policy(self.get_project())).data)

    @extend_schema(request=PolicyIn, responses=PolicyOut, tags=TAGS, summary="Set the pre-labelling policy (leads)")
    def put(self, request, slug):
        data = PolicyIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(PolicyOut(update_policy(project=self.get_project(), **data.validated_data)).data)
