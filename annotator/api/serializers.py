"""Input and output serializers. They validate shapes; services hold the rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Annotation, Gold, ImportJob, Item, Membership, Project
from ..schemas import SCHEMA_TEMPLATES
from ..selectors import get_project_schema
from .strict import StrictInput


class ProjectOut(serializers.ModelSerializer):
    task_gold_strategies = serializers.SerializerMethodField()

    class Meta:
        model = Project
        # By hand, in the order the API has always answered: every settings field
        # (services.projects.SETTINGS_FIELDS) is here, which tests/annotator/test_api.py checks.
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "guidelines",
            "votes_per_item",
            "ask_inference_order",
            "unimodal_rounds",
            "show_suggestions",
            "suggestions_after_first_choice",
            "suggestion_share",
            "queue_order",
            "claim_minutes",
            "dispute_threshold",
            "control_every",
            "control_feedback",
            "gold_strategy",
            "task_gold_strategies",
            "gold_computed_at",
            "reliability_threshold",
            "created_at",
        ]

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_task_gold_strategies(self, project: Project) -> dict[str, str]:
        """task key -> its own gold strategy ("" = the project's)."""
        return {task.key: task.gold_strategy for task in get_project_schema(project).tasks}


class ProjectCreateIn(StrictInput):
    name = serializers.CharField(max_length=200)
    template = serializers.ChoiceField(choices=list(SCHEMA_TEMPLATES), default="msed")
    slug = serializers.SlugField(required=False, max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    guidelines = serializers.CharField(required=False, allow_blank=True, default="")
    votes_per_item = serializers.IntegerField(min_value=1, max_value=50, default=5)
    ask_inference_order = serializers.BooleanField(default=True)
    unimodal_rounds = serializers.BooleanField(default=False)
    show_suggestions = serializers.BooleanField(default=False)
    queue_order = serializers.ChoiceField(choices=Project.QueueOrder.choices, default=Project.QueueOrder.FINISH_FIRST)


class ProjectSettingsIn(StrictInput):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    votes_per_item = serializers.IntegerField(min_value=1, max_value=50, required=False)
    ask_inference_order = serializers.BooleanField(required=False)
    unimodal_rounds = serializers.BooleanField(required=False)
    show_suggestions = serializers.BooleanField(required=False)
    suggestions_after_first_choice = serializers.BooleanField(required=False)
    suggestion_share = serializers.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        help_text="Share of (annotator, item) pairs shown suggestions; below 1 runs the anchoring experiment.",
    )
    queue_order = serializers.ChoiceField(choices=Project.QueueOrder.choices, required=False)
    claim_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    dispute_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
    control_every = serializers.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="Mix one control item into every N items; 0 = off."
    )
    control_feedback = serializers.BooleanField(required=False)
    gold_strategy = serializers.ChoiceField(choices=Project.GoldStrategy.choices, required=False)
    task_gold_strategies = serializers.DictField(
        child=serializers.ChoiceField(choices=["", *Project.GoldStrategy.values], allow_blank=True),
        required=False,
        help_text='task key -> gold strategy for that task ("" = the project\'s).',
    )
    reliability_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)


class LabelSchema(StrictInput):
    key = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    hotkey = serializers.CharField(max_length=1, required=False, allow_blank=True)


class TaskSchema(StrictInput):
    key = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    required = serializers.BooleanField(default=True)
    labels = LabelSchema(many=True)


class SchemaIO(StrictInput):
    tasks = TaskSchema(many=True)


class ItemOut(serializers.ModelSerializer):
    has_image = serializers.BooleanField(read_only=True)

    class Meta:
        model = Item
        fields = [
            "id",
            "external_id",
            "text",
            "has_image",
            "metadata",
            "split",
            "vote_count",
            "is_control",
            "created_at",
        ]


class VoteOut(serializers.Serializer):
    task = serializers.CharField(source="task.key")
    label = serializers.CharField(source="label.key")


class MyAnnotationOut(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id")
    item_external_id = serializers.CharField(source="item.external_id")
    votes = VoteOut(many=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "item",
            "item_external_id",
            "round",
            "inference_order",
            "duration_ms",
            "votes",
            "created_at",
            "updated_at",
        ]


class GoldOut(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id")
    item_external_id = serializers.CharField(source="item.external_id")
    task = serializers.CharField(source="task.key")
    label = serializers.CharField(source="label.key", allow_null=True, default=None)
    support = serializers.FloatField(allow_null=True)
    majority_label = serializers.CharField(source="majority_label.key", allow_null=True, default=None)

    class Meta:
        model = Gold
        fields = [
            "item",
            "item_external_id",
            "task",
            "label",
            "source",
            "votes_for",
            "votes_total",
            "support",
            "is_tie",
            "majority_label",
            "confidence",
        ]


class MembershipOut(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "pseudonym", "created_at"]


class MembershipIn(StrictInput):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.ANNOTATOR)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    create = serializers.BooleanField(default=False, help_text="Create the account with a one-time password.")


class MembershipCreatedOut(MembershipOut):
    one_time_password = serializers.CharField(required=False)

    class Meta(MembershipOut.Meta):
        fields = MembershipOut.Meta.fields + ["one_time_password"]


class ImportIn(serializers.Serializer):
    file = serializers.FileField()
    on_duplicate = serializers.ChoiceField(choices=ImportJob.OnDuplicate.choices, default=ImportJob.OnDuplicate.SKIP)
    dry_run = serializers.BooleanField(default=False)

    def validate_file(self, f):
        if not f.name.lower().endswith((".csv", ".jsonl", ".ndjson", ".zip")):
            raise serializers.ValidationError("Upload a .csv, .jsonl or .zip file.")
        return f


class ImportConfirmIn(StrictInput):
    only_valid_rows = serializers.BooleanField(default=False)
    on_duplicate = serializers.ChoiceField(choices=ImportJob.OnDuplicate.choices, default=ImportJob.OnDuplicate.SKIP)


class ImportErrorOut(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True)
    column = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportProgressOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    rows_done = serializers.IntegerField()
    rows_total = serializers.IntegerField()
    percent = serializers.FloatField()
    counts = serializers.DictField()
    errors = ImportErrorOut(many=True)
    error_count = serializers.IntegerField()
    message = serializers.CharField(allow_blank=True)


class SplitIn(StrictInput):
    only_unassigned = serializers.BooleanField(default=True)
    seed = serializers.IntegerField(default=13)
