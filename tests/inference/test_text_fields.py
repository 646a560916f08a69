"""Which text a model reads (issue 13): the caption, or the title then the
caption; max_length follows the choice, and the feature cache never mixes
the two."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest

from annotator.errors import DomainError
from annotator.models import Item
from inference import selectors
from inference.modeling import FeatureCache, TrainConfig, load_model, predict, train
from inference.modeling.config import DEFAULT_MAX_LENGTHS
from inference.modeling.data import Record, model_text
from inference.modeling.encoders import TextEncoderSpec
from inference.services.options import build_train_config, describe_config
from tests.inference.factories import make_demo_items

SCHEMA = [("desire", 7), ("sentiment", 3), ("emotion", 6)]
WORDS = ["happy smile joy", "sad tears cry", "angry rage fight"]


def titled_records(n: int = 24) -> list[dict]:
    """Text-only items whose caption and title both follow the class."""
    return [
        {
            "id": i,
            "title": f"{WORDS[i % 3].split()[0]} title {i}",
            "text": f"{WORDS[i % 3]} caption {i}",
            "labels": {"desire": i % 3, "sentiment": i % 3, "emotion": i % 3},
            "split": ("train", "train", "dev", "test")[i % 4],
        }
        for i in range(n)
    ]


def tiny_text_config(tiny_bert: str, **overrides) -> TrainConfig:
    values = {
        "text_encoder": tiny_bert,
        "pooling": "cls",
        "modalities": "text",
        "hidden_size": 16,
        "epochs": 1,
        "batch_size": 8,
        "seed": 3,
    }
    values.update(overrides)
    return TrainConfig(**values)


def test_title_and_caption_are_joined_by_a_sentence_break():
    record = Record(id=1, title="Friends on a beach", text="We made it!")
    assert model_text(record, "caption") == "We made it!"
    assert model_text(record, "title+caption") == "Friends on a beach. We made it!"


@pytest.mark.parametrize(
    "title, caption, expected",
    [
        ("Already a sentence.", "caption", "Already a sentence. caption"),
        ("Why?", "because", "Why? because"),
        ("", "only the caption", "only the caption"),
        ("only the title", "  ", "only the title"),
        ("", "", ""),
    ],
)
def test_an_empty_part_or_a_title_ending_in_punctuation_adds_no_separator(title, caption, expected):
    assert model_text(Record(id=1, title=title, text=caption), "title+caption") == expected


def test_text_fields_are_part_of_the_text_encoders_cache_identity(tiny_bert):
    caption = TextEncoderSpec.from_config(tiny_text_config(tiny_bert))
    titled = TextEncoderSpec.from_config(tiny_text_config(tiny_bert, text_fields="title+caption"))
    assert caption.identity != titled.identity
    assert "text=title+caption" in titled.identity
    # Caption features keep the key they had before titles could be read.
    assert "text=" not in caption.identity


def test_unknown_text_fields_are_refused():
    with pytest.raises(ValueError, match="text_fields"):
        TrainConfig.from_dict({"text_fields": "body"})


def test_a_title_run_encodes_its_own_features_and_predicts_from_them(tiny_bert, tmp_path):
    records = titled_records()
    cache_dir = tmp_path / "cache"
    caption = train(
        tiny_text_config(tiny_bert), records, schema=SCHEMA, cache_dir=cache_dir, artefact_dir=tmp_path / "caption"
    )
    assert caption.encoded["text"] == len(records)
    titled_config = tiny_text_config(tiny_bert, text_fields="title+caption")
    titled = train(titled_config, records, schema=SCHEMA, cache_dir=cache_dir, artefact_dir=tmp_path / "titled")
    # The captions' cached features are not reused for "title. caption".
    assert titled.encoded["text"] == len(records)
    cache = FeatureCache(cache_dir)
    spec = TextEncoderSpec.from_config(titled_config)
    joined = Record.from_value(records[0])
    assert cache.get(spec.identity, Record(id=0, text=model_text(joined, "title+caption")).text_sha256) is not None
    assert cache.get(spec.identity, joined.text_sha256) is None

    # Prediction composes the same text, so every feature comes from the cache.
    model = load_model(titled.artefact_path)
    before = FeatureCache(cache_dir)
    predictions = predict(model, records, cache_dir=cache_dir)
    assert len(predictions) == len(records)
    assert before.misses == 0
    assert model.config.text_fields == "title+caption"


@pytest.mark.django_db
def test_the_service_picks_max_length_from_the_text_fields(project):
    assert build_train_config(project, {})["max_length"] == DEFAULT_MAX_LENGTHS["caption"] == 50
    titled = build_train_config(project, {"text_fields": "title+caption"})
    assert titled["text_fields"] == "title+caption"
    assert titled["max_length"] == DEFAULT_MAX_LENGTHS["title+caption"]
    given = build_train_config(project, {"text_fields": "title+caption", "max_length": 40})
    assert given["max_length"] == 40
    assert "reads title + caption" in describe_config(titled)
    assert "title" not in describe_config(build_train_config(project, {}))


@pytest.mark.django_db
def test_the_service_names_the_field_of_an_unknown_text_choice(project):
    with pytest.raises(DomainError) as caught:
        build_train_config(project, {"text_fields": "body"})
    assert caught.value.field == "text_fields"


@pytest.mark.django_db
def test_training_records_carry_the_imported_title(project):
    items = make_demo_items(project, n=6)
    Item.objects.filter(pk=items[1].pk).update(metadata={"title": {"not": "a string"}})
    Item.objects.filter(pk=items[2].pk).update(metadata={})
    records = {record["id"]: record for record in selectors.list_training_records(project)}
    assert records[items[0].pk]["title"] == Item.objects.get(pk=items[0].pk).metadata["title"] != ""
    assert records[items[1].pk]["title"] == ""
    assert records[items[2].pk]["title"] == ""


# ------------------------------------------------ mixed: members take turns ----


def test_mixed_text_needs_an_ensemble_of_frozen_features(tiny_bert):
    with pytest.raises(ValueError, match="ensemble >= 2"):
        tiny_text_config(tiny_bert, text_fields="mixed").validate()
    with pytest.raises(ValueError, match="frozen encoders"):
        tiny_text_config(tiny_bert, text_fields="mixed", ensemble=2, recipe="finetune-text").validate()
    tiny_text_config(tiny_bert, text_fields="mixed", ensemble=2).validate()
    # An image-only model reads no text, so its text fields do not matter.
    TrainConfig(modalities="image", image_encoder="tiny-cnn", text_fields="mixed").validate()


def test_mixed_members_read_their_own_view_and_prediction_reads_the_same(tiny_bert, tmp_path):
    import torch

    from inference.modeling.inputs import Encoders, build_table

    records = titled_records()
    # One item without a caption: its caption view is empty, its titled view is not.
    records[0]["text"] = ""
    config = tiny_text_config(tiny_bert, text_fields="mixed", ensemble=3, max_length=32)
    cache_dir = tmp_path / "cache"
    result = train(config, records, schema=SCHEMA, cache_dir=cache_dir, artefact_dir=tmp_path / "mixed")
    # Each view encodes its own texts: 23 captions and 24 "title. caption".
    assert result.encoded["text"] == 2 * len(records) - 1

    encoders = Encoders(config, torch.device("cpu"))
    table = build_table([Record.from_value(r) for r in records], SCHEMA, encoders, FeatureCache(cache_dir), warnings=[])
    assert tuple(table.text_features.shape) == (len(records), 2, encoders.text_dim)
    assert bool(table.has_text[0]) and not table.text_features[0, 0].any() and table.text_features[0, 1].any()
    # The two views differ wherever an item has a title.
    assert not torch.allclose(table.text_features[1, 0], table.text_features[1, 1])

    model = load_model(result.artefact_path)
    assert [member.text_view for member in model.net.members] == [0, 1, 0]
    before = FeatureCache(cache_dir)
    predictions = predict(model, records, cache_dir=cache_dir)
    assert len(predictions) == len(records) and before.misses == 0

    # Each member answers from its own view: swapping the views changes the
    # ensemble's answer, so no member reads the other's texts.
    swapped = table.text_features.flip(1)
    batch = lambda features: make_text_batch(table, features)  # noqa: E731
    with torch.inference_mode():
        model.net.eval()
        first = model.net(batch(table.text_features)).logits["text"]["desire"]
        second = model.net(batch(swapped)).logits["text"]["desire"]
    assert not torch.allclose(first, second)


def make_text_batch(table, features):
    from inference.modeling.network import Batch

    return Batch(has_text=table.has_text, has_image=table.has_image, text_features=features)


@pytest.mark.django_db
def test_the_service_describes_mixed_text_and_gives_it_the_longer_length(project):
    mixed = build_train_config(project, {"text_fields": "mixed", "ensemble": 4})
    assert mixed["max_length"] == DEFAULT_MAX_LENGTHS["title+caption"]
    assert "members read caption or title + caption" in describe_config(mixed)
    with pytest.raises(DomainError) as caught:
        build_train_config(project, {"text_fields": "mixed", "ensemble": 1})
    assert caught.value.field == "text_fields"
