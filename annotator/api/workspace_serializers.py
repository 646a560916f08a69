"""Serializers of the labelling workspace and the lead's item endpoints.

Input serializers check shapes; the services check the rules (labels
against the schema, claims, rounds). Output serializers describe the dicts
the services build, so the OpenAPI schema documents them.
"""

from rest_framework import serializers

from ..models import Annotation
from .strict import StrictInput

ROUNDS = Annotation.Round.choices


# ---- input


class NextIn(StrictInput):
    current_item = serializers.IntegerField(
        required=False, allow_null=True, help_text="The item on screen: fetch another one ahead of it."
    )
    include_progress = serializers.BooleanField(default=False)


class SubmitIn(StrictInput):
    round = serializers.ChoiceField(choices=ROUNDS, default=Annotation.Round.MULTIMODAL)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text="task key -> label key")
    inference_order = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    duration_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    client_key = serializers.UUIDField(
        help_text="A new UUID per annotation; a retry with the same key returns the first."
    )
    suggestion_run = serializers.IntegerField(
        required=False, allow_null=True, help_text="The prediction run whose suggestions were shown, if any."
    )


class SkipIn(StrictInput):
    round = serializers.ChoiceField(choices=ROUNDS, default=Annotation.Round.MULTIMODAL)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class EditIn(StrictInput):
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    inference_order = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None
    )


class AdjudicateIn(StrictInput):
    task = serializers.CharField(max_length=40)
    label = serializers.CharField(max_length=40)


# ---- output


class ItemViewOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    round = serializers.ChoiceField(choices=ROUNDS)
    text = serializers.CharField(allow_null=True, help_text="Null when the item has no text or the round hides it.")
    image_url = serializers.CharField(
        allow_null=True, help_text="Null when the item has no image or the round hides it."
    )
    has_text = serializers.BooleanField()
    has_image = serializers.BooleanField()
    hidden = serializers.CharField(allow_null=True, help_text="'image' in the text round, 'text' in the image round.")


class SuggestionOut(serializers.Serializer):
    label = serializers.CharField()
    probability = serializers.FloatField()


class SuggestionsOut(serializers.Serializer):
    run = serializers.IntegerField()
    after_first_choice = serializers.BooleanField(help_text="Show them only after the annotator's first choice.")
    by_task = serializers.DictField(child=SuggestionOut())


class ProgressOut(serializers.Serializer):
    mine_done = serializers.IntegerField()
    mine_share = serializers.IntegerField()
    project_done = serializers.IntegerField()
    project_total = serializers.IntegerField()


class WorkOut(serializers.Serializer):
    item = ItemViewOut()
    round = serializers.ChoiceField(choices=ROUNDS)
    expires_at = serializers.DateTimeField()
    suggestions = SuggestionsOut(allow_null=True)
    previously_skipped = serializers.BooleanField()


class NextOut(serializers.Serializer):
    work = WorkOut(allow_null=True, help_text="Null when nothing is left for you.")
    message = serializers.CharField(allow_blank=True)
    progress = ProgressOut(required=False)


class ControlMatch(serializers.Serializer):
    matched = serializers.BooleanField()
    answer = serializers.CharField(help_text="The known answer's label name.")


class SubmitOut(serializers.Serializer):
    annotation = serializers.IntegerField()
    item = serializers.IntegerField()
    round = serializers.CharField()
    created = serializers.BooleanField(help_text="False when this was a retry of an earlier submit.")
    item_complete = serializers.BooleanField()
    control_feedback = serializers.DictField(
        child=ControlMatch(),
        required=False,
        help_text=(
            "Present only after submitting a control item in a project that gives feedback: per task with a known "
            "answer, whether your label matched it and the known answer's name."
        ),
    )


class SkipOut(serializers.Serializer):
    item = serializers.IntegerField()
    round = serializers.CharField()
    skipped_at = serializers.DateTimeField()


class HeartbeatOut(serializers.Serializer):
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null when you hold no claim any more.")


class OwnAnnotationOut(serializers.Serializer):
    id = serializers.IntegerField()
    labels = serializers.DictField(child=serializers.CharField())
    inference_order = serializers.ListField(child=serializers.CharField())
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    editable = serializers.BooleanField(help_text="False once a later round of the item is done.")
    edits = serializers.IntegerField()
    has_earlier = serializers.BooleanField(help_text="You have an annotation made before this one (Back goes there).")
    has_later = serializers.BooleanField(help_text="You have an annotation made after this one (Forward goes there).")


class OwnAnnotationViewOut(serializers.Serializer):
    item = ItemViewOut()
    round = serializers.ChoiceField(choices=ROUNDS)
    annotation = OwnAnnotationOut()


class GoldRowOut(serializers.Serializer):
    task = serializers.CharField(source="task.key")
    label = serializers.CharField(source="label.key", allow_null=True, default=None)
    source = serializers.CharField()
    votes_for = serializers.IntegerField()
    votes_total = serializers.IntegerField()
    support = serializers.FloatField(allow_null=True)
    is_tie = serializers.BooleanField()
    majority_label = serializers.CharField(
        source="majority_label.key", allow_null=True, default=None, help_text="The plain majority's label (None: tie)."
    )
    confidence = serializers.FloatField(
        allow_null=True, help_text="The label's probability under its source's model (majority: its vote share)."
    )
    posterior = serializers.DictField(
        child=serializers.FloatField(), allow_null=True, help_text="label key -> probability (Dawid-Skene, MACE)."
    )
    disputed = serializers.BooleanField()
    adjudicated_by = serializers.CharField(source="adjudicated_by.username", allow_null=True, default=None)
    distribution = serializers.ListField(child=serializers.ListField(), help_text="[[label name, votes], ...]")


class ItemVoteOut(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.CharField()
    pseudonym = serializers.CharField()
    round = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    inference_order = serializers.ListField(child=serializers.CharField())
    duration_ms = serializers.IntegerField(allow_null=True)
    suggestion_run = serializers.IntegerField(allow_null=True)
    suggestion_accepted = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="task -> the label equals the run's suggestion (kept it; in the hidden arm, matched it unseen).",
    )
    suggestion_arm = serializers.ChoiceField(
        choices=Annotation.SuggestionArm.choices,
        help_text="Anchoring experiment: 'shown', 'hidden' (suggestions withheld), or '' (no experiment).",
    )
    edits = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ItemSuggestionOut(serializers.Serializer):
    run = serializers.IntegerField(source="run_id")
    task = serializers.CharField(source="task.key")
    label = serializers.CharField(source="label.key")
    probability = serializers.FloatField()
    entropy = serializers.FloatField()


class EditOut(serializers.Serializer):
    annotation = serializers.IntegerField(source="annotation_id")
    annotator = serializers.CharField(source="annotation.annotator.username")
    editor = serializers.CharField(source="editor.username")
    at = serializers.DateTimeField()
    old = serializers.JSONField()
    new = serializers.JSONField()


class SkipRowOut(serializers.Serializer):
    annotator = serializers.CharField(source="annotator.username")
    round = serializers.CharField()
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class ClaimRowOut(serializers.Serializer):
    annotator = serializers.CharField(source="annotator.username")
    round = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ItemRecordOut(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    external_id = serializers.CharField(source="item.external_id")
    text = serializers.CharField(source="item.text")
    has_image = serializers.BooleanField(source="item.has_image")
    split = serializers.CharField(source="item.split")
    counts = serializers.DictField(help_text="round -> {votes, claims}")
    annotations = ItemVoteOut(many=True)
    gold = GoldRowOut(many=True)
    suggestions = ItemSuggestionOut(many=True)
    edits = EditOut(many=True)
    skips = SkipRowOut(many=True)
    claims = ClaimRowOut(many=True)


class DisputedItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    vote_count = serializers.IntegerField()
    gold = GoldRowOut(many=True, source="gold_rows")


class DisputedPageOut(serializers.Serializer):
    items = DisputedItemOut(many=True)
    next_after = serializers.IntegerField(allow_null=True, help_text="Pass as ?after= for the next page.")
