"""The dashboards' numbers as JSON, for leads: one read-only endpoint per page.

Each endpoint validates the filters (query parameters), calls the same
cached service as the HTML page (analysis.dashboards.get_dashboard) and
answers the page's data plus every chart's table (the CSV numbers).
Outsiders get a 404, members who are not leads a 403.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.permissions import IsProjectLead, ProjectMixin
from annotator.models import Annotation, Item

from . import dashboards
from .dashboards.common import N_BOOT
from .dashboards.controls import build_controls
from .selectors import DashboardFilters

# ---------------------------------------------------------------------------
# Input


class FiltersIn(serializers.Serializer):
    split = serializers.ChoiceField(
        choices=Item.Split.choices,
        required=False,
        allow_blank=True,
        help_text="Only items of this split (default: all).",
    )
    round = serializers.ChoiceField(
        choices=Annotation.Round.choices,
        required=False,
        allow_blank=True,
        default=Annotation.Round.MULTIMODAL,
        help_text="Whose votes count: the multimodal round (default) or a unimodal round.",
    )
    annotator = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text="User ids; repeat the parameter (?annotator=3&annotator=5). Default: everyone.",
    )
    date_from = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="First day of annotation (inclusive, site time zone)."
    )
    date_to = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Last day of annotation (inclusive)."
    )

    def to_internal_value(self, data):
        # An empty date would silently mean "no limit"; the schema says a date or nothing.
        for name in ("date_from", "date_to"):
            if data.get(name) == "":
                raise serializers.ValidationError({name: ["Give a date (YYYY-MM-DD), or leave the parameter out."]})
        return super().to_internal_value(data)

    def validate(self, data):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise serializers.ValidationError({"date_to": "The last day must not be before the first day."})
        return data

    def to_filters(self) -> DashboardFilters:
        d = self.validated_data
        return DashboardFilters(
            split=d.get("split") or "",
            round=d.get("round") or Annotation.Round.MULTIMODAL,
            annotators=tuple(sorted(set(d.get("annotator") or ()))),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
        )


# ---------------------------------------------------------------------------
# Output (fields of a page's data are optional: an empty project has none)


def _floats(**kwargs):
    return serializers.ListField(child=serializers.FloatField(allow_null=True), **kwargs)


def _float_matrix(**kwargs):
    return serializers.ListField(child=_floats(), **kwargs)


class FiltersOut(serializers.Serializer):
    split = serializers.CharField(allow_null=True)
    round = serializers.CharField()
    annotators = serializers.ListField(child=serializers.IntegerField())
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)


class TableOut(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))


class DashboardOut(serializers.Serializer):
    page = serializers.CharField()
    filters = FiltersOut()
    empty = serializers.CharField(
        allow_null=True, help_text="Why the page has nothing to show (no votes, no tasks), else null."
    )
    notes = serializers.ListField(child=serializers.CharField())
    tables = serializers.DictField(
        child=TableOut(), help_text="Every chart's numbers by chart id, as in its CSV download."
    )


class MetricOut(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    reason = serializers.CharField(
        allow_null=True, help_text="Why the metric is undefined for these votes (value null)."
    )


class FleissOut(MetricOut):
    band = serializers.CharField(allow_null=True, help_text="Landis & Koch band of the kappa.")


class AgreementSummaryOut(serializers.Serializer):
    n_items = serializers.IntegerField()
    n_items_used = serializers.IntegerField(help_text="Items with at least two votes.")
    n_items_excluded = serializers.IntegerField()
    n_votes = serializers.IntegerField()
    n_categories = serializers.IntegerField()
    equal_votes = serializers.BooleanField()
    percent = MetricOut()
    fleiss = FleissOut()
    alpha = MetricOut()
    ac1 = MetricOut()


class PairwiseOut(serializers.Serializer):
    annotators = serializers.ListField(child=serializers.CharField())
    kappa = _float_matrix()
    n_shared = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    reason = serializers.CharField(allow_null=True)


class WeekOut(serializers.Serializer):
    week = serializers.DateField(help_text="Monday of the week of the items' latest vote.")
    n_items = serializers.IntegerField()
    fleiss = serializers.FloatField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class TaskAgreementOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    summary = AgreementSummaryOut()
    per_category = _floats(allow_null=True)
    per_category_reason = serializers.CharField(allow_null=True)
    pairwise = PairwiseOut()
    over_time = WeekOut(many=True)


class AgreementOut(DashboardOut):
    n_boot = serializers.IntegerField(required=False, help_text="Bootstrap resamples behind each interval.")
    level = serializers.FloatField(required=False)
    seed = serializers.IntegerField(required=False)
    n_items = serializers.IntegerField(required=False)
    n_votes = serializers.IntegerField(required=False)
    annotators = serializers.ListField(child=serializers.CharField(), required=False)
    tasks = TaskAgreementOut(many=True, required=False)


class ConfusionTaskOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField(allow_null=True)
    shares = _float_matrix(required=False, help_text="Share of annotator pairs choosing (row, column); sums to 1.")
    row_shares = _float_matrix(required=False)
    pair_counts = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()), required=False)


class ConfusionOut(DashboardOut):
    tasks = ConfusionTaskOut(many=True, required=False)


class DistributionTaskOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    counts_by_split = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))


class DistributionOut(DashboardOut):
    gold_source = serializers.CharField(required=False)
    tasks = DistributionTaskOut(many=True, required=False)
    desire_vs_none = serializers.DictField(child=serializers.IntegerField(), required=False)
    within_desire = serializers.JSONField(required=False, help_text="task key -> {desire|none: counts per label}.")


class KeywordGroupOut(serializers.Serializer):
    id = serializers.CharField()
    groups = serializers.JSONField(allow_null=True, help_text="group -> [[word, z, count], ...], best first.")
    reason = serializers.CharField(allow_null=True)


class KeywordsOut(DashboardOut):
    top_k = serializers.IntegerField(required=False)
    n_texts = serializers.IntegerField(required=False)
    tasks = KeywordGroupOut(many=True, required=False)


class IntervalOut(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    lower = serializers.FloatField(allow_null=True, help_text="95% interval (Wilson; bootstrap for competence).")
    upper = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(help_text="Votes (competence), compared votes (agreement) or control answers.")


class TaskReliabilityOut(serializers.Serializer):
    competence = IntervalOut(help_text="MACE: probability the annotator is not spamming.")
    gold_agreement = IntervalOut(help_text="Share of votes (control items left out) equal to the stored gold.")
    control_accuracy = IntervalOut(help_text="Share of control answers matching the known answer.")


class AnnotatorOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    annotations = serializers.IntegerField()
    votes = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    agreement = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="task -> agreement with the others' majority."
    )
    agreement_items = serializers.DictField(child=serializers.IntegerField())
    suggestions_kept = serializers.IntegerField()
    suggestions_shown = serializers.IntegerField()
    suggestion_rate = serializers.FloatField(allow_null=True)
    reliability = serializers.DictField(child=TaskReliabilityOut(), help_text="task key -> reliability measures.")
    flags = serializers.ListField(
        child=serializers.CharField(), help_text="Measures below the project's reliability threshold."
    )


class AnnotatorsOut(DashboardOut):
    annotators = AnnotatorOut(many=True, required=False)
    reliability_threshold = serializers.FloatField(required=False)


class ModalityTaskOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    scored = serializers.BooleanField(
        help_text="Sentiment scored -1/0/1 (CH-SIMS eq. 1); otherwise majority-label disagreement."
    )
    reason = serializers.CharField(allow_null=True)
    rounds = serializers.ListField(child=serializers.CharField(), required=False)
    difference = _float_matrix(required=False)
    n_items = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()), required=False)


class ModalitiesOut(DashboardOut):
    rounds = serializers.ListField(child=serializers.CharField(), required=False)
    tasks = ModalityTaskOut(many=True, required=False)


class ArmComparisonOut(serializers.Serializer):
    shown = serializers.FloatField(allow_null=True, help_text="The measure in the arm shown suggestions.")
    hidden = serializers.FloatField(allow_null=True, help_text="The measure in the arm not shown them.")
    difference = serializers.FloatField(allow_null=True, help_text="shown - hidden.")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    n_shown = serializers.IntegerField(required=False, help_text="Units (annotations, or items for kappa) in the arm.")
    n_hidden = serializers.IntegerField(required=False)
    reason = serializers.CharField(allow_null=True, help_text="Why the comparison is undefined (values null).")


class ChiSquareOut(serializers.Serializer):
    statistic = serializers.FloatField()
    dof = serializers.IntegerField()
    p_value = serializers.FloatField()
    cramers_v = serializers.FloatField()
    n = serializers.IntegerField()
    low_expected = serializers.IntegerField(help_text="Cells expecting fewer than 5 votes (p is then rough).")


class ArmCountsOut(serializers.Serializer):
    shown = serializers.ListField(child=serializers.IntegerField())
    hidden = serializers.ListField(child=serializers.IntegerField())


class AnchoringTaskOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    model_agreement = ArmComparisonOut(help_text="Share of votes equal to the model's suggestion.")
    fleiss = ArmComparisonOut(help_text="Fleiss' kappa among the annotators of each arm.")
    counts = ArmCountsOut(help_text="Votes per label in each arm.")
    chi_square = ChiSquareOut(allow_null=True, help_text="Test of independence arm x label.")
    chi_square_reason = serializers.CharField(allow_null=True)


class AnchoringAnnotatorOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    model_agreement = ArmComparisonOut()


class AnchoringOut(DashboardOut):
    headline = serializers.CharField(required=False, help_text="The answer in plain words, with the effect size.")
    share = serializers.FloatField(required=False, help_text="The project's share of pairs shown suggestions now.")
    running = serializers.BooleanField(required=False)
    n_shown = serializers.IntegerField(required=False, help_text="Annotations in the shown arm.")
    n_hidden = serializers.IntegerField(required=False)
    n_boot = serializers.IntegerField(required=False)
    level = serializers.FloatField(required=False)
    seed = serializers.IntegerField(required=False)
    model_agreement = ArmComparisonOut(required=False, help_text="All tasks' votes pooled.")
    cohens_h = serializers.FloatField(required=False, allow_null=True)
    seconds_per_item = ArmComparisonOut(required=False, help_text="Median seconds per annotation.")
    kept_all = ArmComparisonOut(required=False, help_text="Share of annotations that kept every suggestion.")
    tasks = AnchoringTaskOut(many=True, required=False)
    annotators = AnchoringAnnotatorOut(many=True, required=False)


# ---------------------------------------------------------------------------
# Views


class DashboardAPI(ProjectMixin, APIView):
    """GET a dashboard page's numbers; subclasses name the page and its output serializer."""

    permission_classes = [IsAuthenticated, IsProjectLead]
    page = ""
    output = DashboardOut

    def get(self, request, slug):
        params = FiltersIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        payload = dashboards.get_dashboard(project=self.get_project(), page=self.page, filters=params.to_filters())
        body = {
            "page": payload["page"],
            "filters": payload["filters"],
            "empty": payload["empty"],
            "notes": payload["notes"],
            "tables": {c["id"]: c["table"] for c in payload["charts"]},
            **payload["data"],
        }
        return Response(self.output(body).data)


def _documented(page: str, output: type[serializers.Serializer], summary: str, description: str):
    return extend_schema_view(
        get=extend_schema(
            parameters=[FiltersIn], responses=output, summary=summary, description=description, tags=["analysis"]
        )
    )


@_documented(
    "agreement",
    AgreementOut,
    "Agreement per task (leads)",
    f"Percent agreement, Fleiss' kappa (Landis-Koch band), Krippendorff's alpha and Gwet's AC1 with "
    f"{N_BOOT}-resample bootstrap 95% intervals; kappa per category; pairwise Cohen's kappa; kappa per week.",
)
class AgreementAPI(DashboardAPI):
    page, output = "agreement", AgreementOut


@_documented(
    "confusion",
    ConfusionOut,
    "Label confusion per task (leads)",
    "MSED Fig. 3: which labels annotators of the same item chose.",
)
class ConfusionAPI(DashboardAPI):
    page, output = "confusion", ConfusionOut


@_documented(
    "distribution",
    DistributionOut,
    "Gold label distribution (leads)",
    "MSED Table 4 (gold counts per label and split) and Fig. 4 (tasks within desire and non-desire items).",
)
class DistributionAPI(DashboardAPI):
    page, output = "distribution", DistributionOut


@_documented(
    "keywords",
    KeywordsOut,
    "Keywords per class (leads)",
    "Top words per class by weighted log-odds (MSED Fig. 5 as numbers).",
)
class KeywordsAPI(DashboardAPI):
    page, output = "keywords", KeywordsOut


@_documented(
    "annotators",
    AnnotatorsOut,
    "Annotator statistics (leads)",
    "Votes, median time per item, leave-one-out agreement with the others' majority, suggestion acceptance; "
    "reliability: MACE competence, agreement with gold and control accuracy with intervals, flags below the threshold.",
)
class AnnotatorsAPI(DashboardAPI):
    page, output = "annotators", AnnotatorsOut


@_documented(
    "modalities",
    ModalitiesOut,
    "Difference between annotation rounds (leads)",
    "CH-SIMS eq. 1 between the text, image and multimodal rounds.",
)
class ModalitiesAPI(DashboardAPI):
    page, output = "modalities", ModalitiesOut


@_documented(
    "anchoring",
    AnchoringOut,
    "The anchoring experiment: suggestions shown vs hidden (leads)",
    "Per task: agreement with the model's suggestion, Fleiss' kappa among annotators and the label distribution "
    f"(chi-square test) in the arm shown suggestions and the arm not shown them; median time per item and the "
    f"share of annotations keeping every suggestion; each difference with a {N_BOOT}-resample bootstrap 95% interval.",
)
class AnchoringAPI(DashboardAPI):
    page, output = "anchoring", AnchoringOut


# ---------------------------------------------------------------------------
# Control items (issue 14 section 3): not a filtered dashboard, a lead's report


class ControlAnswerOut(serializers.Serializer):
    task = serializers.CharField(help_text="The task's name.")
    label = serializers.CharField(help_text="The known answer's label name.")
    source = serializers.CharField(help_text="Where the answer came from (imported, adjudicated gold, a lead).")


class ControlItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    answers = ControlAnswerOut(many=True)
    seen = serializers.IntegerField(help_text="Annotators who labelled it as a control item.")
    correct = serializers.IntegerField(help_text="Their answers (per task with a known answer) that matched.")
    total = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)


class ControlWeekOut(serializers.Serializer):
    week = serializers.CharField(help_text='ISO week, e.g. "2026-W49".')
    correct = serializers.IntegerField()
    total = serializers.IntegerField()


class ControlAnnotatorOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    correct = serializers.IntegerField()
    total = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval, lower end.")
    high = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval, upper end.")
    below_threshold = serializers.BooleanField(
        help_text="The whole interval lies below the project's reliability threshold."
    )
    weeks = ControlWeekOut(many=True)


class ControlsOut(serializers.Serializer):
    control_every = serializers.IntegerField(help_text="One control item in every N items handed out; 0 = off.")
    control_feedback = serializers.BooleanField()
    threshold = serializers.FloatField(help_text="The project's reliability threshold.")
    items = ControlItemOut(many=True)
    annotators = ControlAnnotatorOut(many=True)


class ControlsAPI(ProjectMixin, APIView):
    permission_classes = [IsAuthenticated, IsProjectLead]

    @extend_schema(
        responses=ControlsOut,
        summary="Control items and each annotator's accuracy on them (leads)",
        description="Known answers, how many annotators labelled each control item and how often they matched; "
        "per annotator the share matched with a Wilson 95% interval and per ISO week.",
        tags=["analysis"],
    )
    def get(self, request, slug):
        return Response(ControlsOut(build_controls(self.get_project())["data"]).data)
