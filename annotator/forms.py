import json

from django import forms

from .io import jsonsafe
from .models import ImportJob, Membership, Project
from .schemas import SCHEMA_TEMPLATES
from .services.projects import SETTINGS_FIELDS


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    template = forms.ChoiceField(choices=[(k, v["name"]) for k, v in SCHEMA_TEMPLATES.items()], initial="msed")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text="Markdown.")
    votes_per_item = forms.IntegerField(min_value=1, max_value=50, initial=5)
    ask_inference_order = forms.BooleanField(required=False, initial=True)
    unimodal_rounds = forms.BooleanField(required=False, help_text="Text only, then image only, then both (CH-SIMS).")
    show_suggestions = forms.BooleanField(required=False)
    queue_order = forms.ChoiceField(choices=Project.QueueOrder.choices, initial=Project.QueueOrder.FINISH_FIRST)


SUGGESTION_SHARE_HELP = (
    "Share of (annotator, item) pairs that see the model's suggestions, from 0 to 1. Below 1 the project runs "
    "the anchoring experiment: the other pairs label without suggestions, each pair's arm is recorded with its "
    "annotation, and the Anchoring dashboard compares the two. 1 shows suggestions to everyone (no experiment)."
)


class ProjectSettingsForm(forms.ModelForm):
    """The project's settings, plus one gold strategy per task (blank: the project's)."""

    TASK_PREFIX = "task_gold_strategy__"

    suggestion_share = forms.FloatField(
        min_value=0,
        max_value=1,
        label="Share of pairs shown suggestions",
        help_text=SUGGESTION_SHARE_HELP,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )

    class Meta:
        model = Project
        fields = list(SETTINGS_FIELDS)
        widgets = {"description": forms.Textarea(attrs={"rows": 2}), "guidelines": forms.Textarea(attrs={"rows": 8})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "The project's gold strategy"), *Project.GoldStrategy.choices]
        for task in self.instance.tasks.order_by("position", "id") if self.instance.pk else []:
            self.fields[self.TASK_PREFIX + task.key] = forms.ChoiceField(
                choices=choices, required=False, initial=task.gold_strategy, label=f"Gold strategy of {task.name}"
            )

    def task_gold_strategies(self) -> dict[str, str]:
        """{task key: strategy} for the per-task fields the lead changed."""
        return {
            name.removeprefix(self.TASK_PREFIX): self.cleaned_data[name]
            for name in self.changed_data
            if name.startswith(self.TASK_PREFIX)
        }


class SchemaForm(forms.Form):
    schema = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "mono"}))

    def clean_schema(self):
        try:  # bounded: 1,500 nested brackets were a RecursionError 500
            value = jsonsafe.loads(self.cleaned_data["schema"])
        except jsonsafe.JSONProblem as exc:
            if isinstance(exc.__cause__, json.JSONDecodeError):
                cause = exc.__cause__
                raise forms.ValidationError(
                    f"This is not valid JSON: {cause.msg} at line {cause.lineno}, column {cause.colno}."
                ) from exc
            raise forms.ValidationError(f"This schema cannot be used: {exc.message}") from exc
        if reason := jsonsafe.find_unstorable(value):  # "\u0000" in a label name
            raise forms.ValidationError(f"A name in this schema {reason}")
        if not isinstance(value, list):
            raise forms.ValidationError("The schema must be a JSON list of tasks.")
        return value


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="An existing user's name, or a new one to create.")
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)
    create = forms.BooleanField(required=False, label="Create a new account with a one-time password")


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSONL, or a ZIP with such a file and its images, or an MSED release ZIP.")
    on_duplicate = forms.ChoiceField(choices=ImportJob.OnDuplicate.choices, initial=ImportJob.OnDuplicate.SKIP)
    dry_run = forms.BooleanField(required=False, initial=True, label="Validate only (dry run)")

    def clean_file(self):
        f = self.cleaned_data["file"]
        name = f.name.lower()
        if not name.endswith((".csv", ".jsonl", ".ndjson", ".zip")):
            raise forms.ValidationError("Upload a .csv, .jsonl or .zip file.")
        return f


class ConfirmImportForm(forms.Form):
    only_valid_rows = forms.BooleanField(required=False, label="Import only the valid rows")
    on_duplicate = forms.ChoiceField(choices=ImportJob.OnDuplicate.choices)


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSONL"), ("msed", "MSED layout (ZIP)")])
    pseudonymise = forms.BooleanField(required=False, initial=True, label="Replace annotator names by pseudonyms")
    # CSV cells starting with = + - @ get a leading ' so spreadsheets show them as text; the import removes it.
    values = forms.ChoiceField(
        choices=[("safe", "Safe for spreadsheets"), ("raw", "Raw values (for scripts)")],
        initial="safe",
        required=False,
        widget=forms.RadioSelect,
        label="CSV cells",
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="What the token is for, e.g. “labelling script on my laptop”."
    )
