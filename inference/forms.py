"""Forms of the model pages. The training fields are built from the one
description of the training options (inference.modeling.options), so the
form, the API and `manage.py train` show the same names, defaults and help.

Types only: the domain checks (paths, chain, ranges) are the service's
(inference.services.options), whose messages come back as field errors.
"""

from __future__ import annotations

from django import forms

from .modeling.options import FORM, OptionSpec, options_for
from .services.files import offered_image_weights, offered_text_encoders

# Form-only presentation: the chain field suggests the project's task orders.
WIDGETS = {"chain": lambda: forms.TextInput(attrs={"list": "task-orders"})}
# What staff may type instead of choosing an offered name (see TrainForm.__init__).
STAFF_DATALISTS = {"text_encoder": "text-encoders", "image_weights": "image-weights"}


def option_field(spec: OptionSpec) -> forms.Field:
    """The form field of one training option: optional (empty keeps the
    default), its initial value the default, its help the description's."""
    common = {
        "required": False,
        "help_text": spec.help_text,
        "initial": spec.default,
        "label": spec.label or None,
    }
    if spec.type is bool:
        return forms.BooleanField(**common)
    if spec.type is int:
        return forms.IntegerField(**common)
    if spec.type is float:
        return forms.FloatField(**common)
    if spec.choices or spec.offered:
        # Offered values are known per request: TrainForm.__init__ fills them in.
        return forms.ChoiceField(choices=spec.choices, **common)
    widget = WIDGETS.get(spec.name)
    return forms.CharField(max_length=200, widget=widget() if widget else None, **common)


class RunOptionsForm(forms.Form):
    """A run's name; TrainForm adds a field per training option."""

    name = forms.CharField(max_length=200, required=False, help_text="Optional; a summary of the options otherwise.")

    def __init__(self, *args, user=None, **kwargs):
        """Leads choose encoders and weights among what the server offers;
        staff may also type a path inside MODEL_DIR (the service checks it)."""
        super().__init__(*args, **kwargs)
        if getattr(user, "is_staff", False):
            for name, datalist in STAFF_DATALISTS.items():
                field = self.fields[name]
                self.fields[name] = forms.CharField(
                    max_length=500,
                    required=False,
                    initial=field.initial,
                    label=field.label,
                    help_text=field.help_text,
                    widget=forms.TextInput(attrs={"list": datalist}),
                )
        else:
            self.fields["text_encoder"].choices = [(name, name) for name in offered_text_encoders()]
            self.fields["image_weights"].choices = [("", "none (random weights)")] + [
                (name, name) for name in offered_image_weights()
            ]

    def options(self) -> dict:
        """The options the lead changed: an empty field, or one left at its
        shown default, follows the chosen recipe (an unchecked box is False,
        as a browser sends it, so unchecking a box checked by default counts)."""
        changed = set(self.changed_data)
        data = {key: value for key, value in self.cleaned_data.items() if value not in (None, "") and key in changed}
        data.pop("name", None)
        return data


TrainForm = type(RunOptionsForm)(
    "TrainForm",
    (RunOptionsForm,),
    {
        "__module__": __name__,
        "__doc__": "The training form: every option the description shows on the form (FORM), all optional.",
        **{spec.name: option_field(spec) for spec in options_for(FORM)},
    },
)


class ExperimentForm(TrainForm):
    grids = forms.MultipleChoiceField(
        choices=[
            ("modalities", "text only, image only and fused (MSED Table 5)"),
            ("fusions", "every fusion strategy (Table 6)"),
            ("orders", "every task order (Table 8)"),
        ],
        initial=["modalities", "fusions", "orders"],
        widget=forms.CheckboxSelectMultiple,
    )

    def options(self) -> dict:
        data = super().options()
        data.pop("grids", None)
        return data


class PolicyForm(forms.Form):
    retrain_every_n_gold = forms.IntegerField(
        min_value=0, label="Retrain after this many new gold labels", help_text="0 = never."
    )
    suggest_new_items = forms.BooleanField(required=False, label="Suggest labels for new items")
