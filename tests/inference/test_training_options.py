"""One description of the training options (inference.modeling.options):
the web form, the API serializer and `manage.py train` expose the options it
says, by the same names, with the same defaults and help, and the service
checks the same bounds."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
from django.core.management import load_command_class
from rest_framework.fields import empty

from annotator.errors import DomainError
from inference.api import TrainIn
from inference.forms import TrainForm
from inference.modeling.config import (
    DEFAULT_MAX_LENGTHS,
    FUSIONS,
    IMAGE_ENCODERS,
    MODALITIES,
    POOLINGS,
    RECIPES,
    TARGETS,
    TEXT_FIELDS,
    LossConfig,
    TrainConfig,
)
from inference.modeling.options import (
    API,
    COMMAND,
    DEFAULT_PRESET,
    FORM,
    FUSION_ALIASES,
    LOSS_OPTIONS,
    OPTIONS_BY_NAME,
    PRESETS,
    TRAIN_OPTIONS,
    options_for,
)
from inference.services.options import LOSS_KEYS, OPTION_KEYS, build_train_config, describe_config


def command_actions() -> dict[str, argparse.Action]:
    command = load_command_class("inference", "train")
    parser = command.create_parser("manage.py", "train")
    return {action.dest: action for action in parser._actions if action.dest in OPTIONS_BY_NAME}


def api_fields() -> dict:
    return dict(TrainIn().fields)


# ---------------------------------------------------------------- the description itself


def test_every_option_is_a_field_of_train_config_with_its_default():
    """The shown default is what the Train button does: the default recipe's value, else TrainConfig's."""
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    loss_fields = {f.name for f in dataclasses.fields(LossConfig)}
    recipe = PRESETS[DEFAULT_PRESET]
    for spec in TRAIN_OPTIONS:
        owner = LossConfig() if spec.group == "losses" else TrainConfig()
        from_recipe = recipe.get("losses", {}) if spec.group == "losses" else recipe
        assert spec.name in (loss_fields if spec.group == "losses" else config_fields), spec.name
        if spec.name == "preset":
            assert spec.default == DEFAULT_PRESET
        else:
            assert spec.default == from_recipe.get(spec.name, getattr(owner, spec.name)), spec.name
    assert OPTIONS_BY_NAME["ensemble"].default == recipe["ensemble"] > TrainConfig().ensemble


def test_choices_and_bounds_are_ones_train_config_accepts():
    accepted = {
        "image_encoder": IMAGE_ENCODERS,
        "modalities": MODALITIES,
        "fusion": FUSIONS,
        "recipe": RECIPES,
        "pooling": POOLINGS,
        "text_fields": TEXT_FIELDS,
        "targets": TARGETS,
        "preset": tuple(PRESETS),
    }
    for spec in TRAIN_OPTIONS:
        for value in spec.choice_values:
            assert FUSION_ALIASES.get(value, value) in accepted[spec.name], (spec.name, value)
        if spec.minimum is not None:
            assert spec.minimum <= spec.default <= spec.maximum, spec.name
        assert spec.help_text and "{" not in spec.help_text, spec.name


def test_the_service_accepts_exactly_the_described_options():
    assert set(OPTION_KEYS) == {s.name for s in TRAIN_OPTIONS if not s.group} | {"losses"}
    assert set(LOSS_KEYS) == {s.name for s in LOSS_OPTIONS}


# ---------------------------------------------------------------- the three surfaces


def test_form_serializer_and_command_expose_the_described_option_names():
    form_names = set(TrainForm.base_fields) - {"name"}
    api_names = set(api_fields()) - {"name"}
    command_names = set(command_actions())
    assert form_names == {s.name for s in options_for(FORM)}
    # The API takes the loss options as one "losses" object, as TrainConfig stores them.
    assert api_names == {s.name for s in options_for(API) if not s.group} | {"losses"}
    assert command_names == {s.name for s in options_for(COMMAND)}
    # The form's options are a subset of the API's, and the command takes them all.
    api_flat = {s.name for s in options_for(API)}
    assert form_names <= api_flat <= command_names == {s.name for s in TRAIN_OPTIONS}


def test_form_serializer_and_command_show_the_same_help():
    form, api, command = TrainForm.base_fields, api_fields(), command_actions()
    for spec in TRAIN_OPTIONS:
        texts = [command[spec.name].help.replace("%%", "%")]
        if FORM in spec.where:
            texts.append(form[spec.name].help_text)
        if API in spec.where:
            texts.append(api["losses"].help_text if spec.group else api[spec.name].help_text)
        for text in texts:
            assert spec.help_text in text, (spec.name, text)


def test_form_serializer_and_command_show_the_same_defaults():
    form, api, command = TrainForm.base_fields, api_fields(), command_actions()
    for spec in TRAIN_OPTIONS:
        if FORM in spec.where:
            assert form[spec.name].initial == spec.default, spec.name
        # The API and the command send nothing for an option left out, so
        # the service keeps TrainConfig's default; their help states it.
        assert command[spec.name].default is None, spec.name
        if API in spec.where and not spec.group:
            assert not api[spec.name].required and api[spec.name].default is empty, spec.name
        if spec.default not in (None, ""):
            assert "Default:" in spec.help_text, spec.name


def test_form_and_command_carry_the_labels_and_choices_of_the_description():
    form = TrainForm.base_fields
    for spec in options_for(FORM):
        if spec.label:
            assert form[spec.name].label == spec.label
        if spec.choices:
            assert list(form[spec.name].choices) == list(spec.choices)


@pytest.mark.django_db
@pytest.mark.parametrize("spec", [s for s in TRAIN_OPTIONS if s.type in (int, float)], ids=lambda s: s.name)
def test_the_service_checks_the_described_bounds(project, spec):
    assert build_train_config(project, {spec.name: spec.minimum})  # the bounds themselves are allowed
    assert build_train_config(project, {spec.name: spec.maximum})
    step = 1 if spec.type is int else max(abs(spec.maximum) * 0.01, 1e-9)
    for value in (spec.minimum - step, spec.maximum + step):
        with pytest.raises(DomainError, match=f"{spec.name} must be between") as error:
            build_train_config(project, {spec.name: value})
        assert error.value.field == spec.name


# ---------------------------------------------------------------- named recipes


@pytest.mark.django_db
def test_no_options_train_the_default_recipe_and_a_named_one_its_own(project):
    plain = build_train_config(project, {})
    assert plain["preset"] == DEFAULT_PRESET and plain["ensemble"] == PRESETS[DEFAULT_PRESET]["ensemble"]
    assert plain["losses"]["unimodal_weight"] == PRESETS[DEFAULT_PRESET]["losses"]["unimodal_weight"]
    accurate = build_train_config(project, {"preset": "accurate"})
    for key, value in PRESETS["accurate"].items():
        if key == "losses":
            assert all(accurate["losses"][name] == v for name, v in value.items())
        else:
            assert accurate[key] == value, key
    assert accurate["preset"] == "accurate"
    # An option the lead gives wins over the recipe's.
    assert build_train_config(project, {"preset": "accurate", "ensemble": 3})["ensemble"] == 3
    assert build_train_config(project, {"unimodal_weight": 1.0})["losses"]["unimodal_weight"] == 1.0


@pytest.mark.django_db
def test_fine_tuning_trains_one_network_unless_the_lead_asks_for_an_ensemble(project):
    assert build_train_config(project, {"recipe": "finetune-text"})["ensemble"] == 1
    assert build_train_config(project, {"text_encoder": "bilstm"})["ensemble"] == 1
    with pytest.raises(DomainError, match="ensemble trains several networks") as error:
        build_train_config(project, {"recipe": "finetune-text", "ensemble": 3})
    assert error.value.field == "ensemble"


@pytest.mark.django_db
def test_the_accurate_recipe_takes_turns_at_the_texts_unless_one_network_trains(project):
    accurate = build_train_config(project, {"preset": "accurate"})
    assert accurate["text_fields"] == "mixed" and accurate["max_length"] == DEFAULT_MAX_LENGTHS["mixed"] == 96
    assert "members read caption or title + caption" in describe_config(accurate)
    # One network cannot take turns: it reads the captions, at the captions' length.
    for options in ({"ensemble": 1}, {"recipe": "finetune-text"}):
        single = build_train_config(project, {"preset": "accurate", **options})
        assert (single["text_fields"], single["max_length"], single["ensemble"]) == ("caption", 50, 1), options
    # Unless the lead asked for turns: then the clash is named.
    with pytest.raises(DomainError, match="needs ensemble >= 2") as error:
        build_train_config(project, {"preset": "accurate", "ensemble": 1, "text_fields": "mixed"})
    assert error.value.field == "text_fields"


@pytest.mark.django_db
def test_an_unknown_recipe_is_refused_by_name(project):
    with pytest.raises(DomainError, match="Unknown recipe 'fastest'") as error:
        build_train_config(project, {"preset": "fastest"})
    assert error.value.field == "preset"


@pytest.mark.django_db
def test_the_packaged_text_encoders_are_offered_and_accepted_by_any_of_their_names(project):
    from inference.services.files import offered_text_encoders

    assert {"all-MiniLM-L6-v2", "all-mpnet-base-v2"} <= set(offered_text_encoders())
    for name in ("all-mpnet-base-v2", "mpnet", "sentence-transformers/all-mpnet-base-v2"):
        # Kept by name (not resolved to a path): the worker unpacks the model on its own disk.
        assert build_train_config(project, {"text_encoder": name})["text_encoder"] == name
