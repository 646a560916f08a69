"""Tests for the synthetic demo-data generator (pure module, no database)."""

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from annotator import demo
from annotator.schemas import MSED, template_tasks


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa for counts shaped (n_items, n_categories), equal raters per item.

    A local helper on purpose: analysis.metrics is being written in parallel.
    """
    counts = np.asarray(counts, dtype=np.float64)
    raters = counts[0].sum()
    p_category = counts.sum(axis=0) / counts.sum()
    p_item = ((counts * (counts - 1)).sum(axis=1)) / (raters * (raters - 1))
    expected = (p_category**2).sum()
    return float((p_item.mean() - expected) / (1 - expected))


def vote_counts(votes: np.ndarray, task: int, n_categories: int) -> np.ndarray:
    return np.stack([(votes[:, :, task] == c).sum(axis=1) for c in range(n_categories)], axis=1)


@pytest.fixture(scope="module")
def items_600():
    return demo.generate_items(600, seed=0)


# --------------------------------------------------------------------------- schema


def test_schema_lists_msed_tasks_and_labels_in_order():
    assert [task.key for task in MSED.tasks] == ["desire", "sentiment", "emotion"]
    assert demo.TASKS == MSED.keys
    assert demo.LABEL_KEYS == {
        "desire": ("vengeance", "curiosity", "social-contact", "family", "tranquility", "romance", "none"),
        "sentiment": ("positive", "neutral", "negative"),
        "emotion": ("happiness", "sad", "neutral", "disgust", "anger", "fear"),
    }
    for task in MSED.tasks:
        assert task.name
        assert all(label.name and label.description for label in task.labels)
    desire = {label.key: label.description for label in MSED.task("desire").labels}
    assert desire["family"] == "The need to take care of one's offspring."  # MSED Table 3
    assert desire["none"] == "No desire is expressed: the post describes an object, scene or action."


def test_demo_labels_are_the_msed_template_a_new_project_gets():
    saved = {task["key"]: tuple(label["key"] for label in task["labels"]) for task in template_tasks("msed")}
    assert saved == demo.LABEL_KEYS


# --------------------------------------------------------------------------- items


def test_same_seed_gives_same_items_and_another_seed_does_not():
    first = demo.generate_items(40, seed=7)
    again = demo.generate_items(40, seed=7)
    other = demo.generate_items(40, seed=8)
    assert first == again
    assert [i.text for i in first] != [i.text for i in other]


def test_image_options_do_not_change_labels_texts_or_splits():
    with_images = demo.generate_items(30, seed=3)
    without = demo.generate_items(30, seed=3, with_images=False)

    def strip(items):
        return [(i.external_id, i.title, i.text, i.labels, i.split, i.conflict) for i in items]

    assert strip(with_images) == strip(without)
    assert all(i.image_bytes is None for i in without)


def test_ids_are_sequential_and_zero_padded():
    items = demo.generate_items(3, seed=0, with_images=False)
    assert [i.external_id for i in items] == ["demo-000001", "demo-000002", "demo-000003"]
    assert demo.generate_items(0) == []


def test_label_shares_follow_msed_and_every_class_is_in_every_split(items_600):
    shares = Counter(i.labels["desire"] for i in items_600)
    assert 0.35 <= shares["none"] / 600 <= 0.55
    assert shares["family"] > shares["vengeance"] and shares["romance"] > shares["tranquility"]
    splits = np.array([i.split for i in items_600])
    assert Counter(splits) == {"train": 420, "dev": 60, "test": 120}
    for task in demo.TASKS:
        for split in demo.SPLITS:
            present = {i.labels[task] for i, s in zip(items_600, splits) if s == split}
            assert present == set(demo.LABEL_KEYS[task]), (task, split)


def test_sentiment_follows_emotion_as_in_msed(items_600):
    sentiment_of = {"happiness": "positive", "neutral": "neutral"}
    for item in items_600:
        assert item.labels["sentiment"] == sentiment_of.get(item.labels["emotion"], "negative")


def test_texts_read_like_captions(items_600):
    words = [len(i.text.split()) for i in items_600 if i.text]
    assert 8 <= np.mean(words) <= 18
    assert max(words) <= 30
    assert all(i.title for i in items_600)


def test_some_items_miss_text_or_image_but_never_both(items_600):
    no_text = sum(i.text is None for i in items_600)
    no_image = sum(i.image_bytes is None for i in items_600)
    assert 5 <= no_text <= 40 and 5 <= no_image <= 40
    assert not any(i.text is None and i.image_bytes is None for i in items_600)
    complete = demo.generate_items(100, seed=0, with_images=False, missing_text_rate=0, missing_image_rate=0)
    assert all(i.text for i in complete)


def test_images_decode_as_rgb_of_the_requested_size(items_600):
    for item in [i for i in items_600 if i.image_bytes][:5]:
        image = Image.open(io.BytesIO(item.image_bytes))
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (256, 256))
    small = demo.generate_items(3, seed=1, image_size=128, image_format="PNG", missing_image_rate=0)
    image = Image.open(io.BytesIO(small[0].image_bytes))
    assert (image.format, image.size) == ("PNG", (128, 128))


def test_image_pool_reuses_a_few_drawings():
    items = demo.generate_items(400, seed=0, image_pool=1, missing_image_rate=0)
    distinct = {id(i.image_bytes) for i in items}
    # at most one drawing per (scene, face, colours) combination
    assert len(distinct) <= len(demo.SCENES) * len(demo.FACES) ** 2


def test_large_sets_generate_without_images():
    items = demo.generate_items(20_000, seed=1, with_images=False)
    labels = demo.label_index_matrix(items)
    votes = demo.simulate_votes(labels, seed=1)
    orders = demo.simulate_inference_orders(len(items), 5, seed=1)
    durations = demo.simulate_durations(len(items), 5, seed=1, inference_orders=orders)
    assert labels.shape == (20_000, 3)
    assert votes.shape == durations.shape == orders.shape == (20_000, 5, 3)
    assert len({i.external_id for i in items}) == 20_000


# --------------------------------------------------------------------------- votes


def test_simulated_votes_agree_moderately_to_substantially_on_each_task(items_600):
    labels = demo.label_index_matrix(items_600)
    votes = demo.simulate_votes(labels, seed=0)
    assert votes.shape == (600, 5, 3)
    for t, k in enumerate(demo.N_CATEGORIES):
        assert 0 <= votes[:, :, t].min() and votes[:, :, t].max() < k
        assert 0.4 <= fleiss_kappa(vote_counts(votes, t, k)) <= 0.8, demo.TASKS[t]


def test_local_fleiss_helper_matches_statsmodels(items_600):
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    votes = demo.simulate_votes(demo.label_index_matrix(items_600), seed=1)
    counts = vote_counts(votes, 0, 7)
    assert fleiss_kappa(counts) == pytest.approx(inter_rater.fleiss_kappa(counts))


def test_careful_annotators_match_the_truth_more_often():
    truth = np.tile(np.array([[6, 1, 2]], dtype=np.int8), (20_000, 1))
    votes = demo.simulate_votes(truth, seed=0, error_rates=(0.0, 0.1, 0.2, 0.3, 0.4))
    accuracy = (votes == truth[:, None, :]).mean(axis=(0, 2))
    assert accuracy[0] == 1.0
    assert np.all(np.diff(accuracy) < 0)


def test_wrong_votes_follow_msed_confusions():
    n = 20_000
    truth = np.zeros((n, 3), dtype=np.int8)
    truth[:, 0] = demo.LABEL_KEYS["desire"].index("none")
    truth[:, 1] = demo.LABEL_KEYS["sentiment"].index("positive")
    truth[:, 2] = demo.LABEL_KEYS["emotion"].index("neutral")
    votes = demo.simulate_votes(truth, seed=0)
    wrong_desire = Counter(votes[:, :, 0][votes[:, :, 0] != truth[0, 0]].tolist())
    wrong_sentiment = Counter(votes[:, :, 1][votes[:, :, 1] != truth[0, 1]].tolist())
    wrong_emotion = Counter(votes[:, :, 2][votes[:, :, 2] != truth[0, 2]].tolist())
    d, s, e = (dict(enumerate(demo.LABEL_KEYS[t])) for t in demo.TASKS)
    assert d[wrong_desire.most_common(1)[0][0]] == "tranquility"
    assert s[wrong_sentiment.most_common(1)[0][0]] == "neutral"
    assert {e[k] for k, _ in wrong_emotion.most_common(2)} == {"happiness", "sad"}


def test_simulate_votes_accepts_other_schemas_and_item_difficulty():
    truth = np.zeros((1000, 2), dtype=np.int8)
    easy = demo.simulate_votes(truth, 3, error_rates=(0.2, 0.2, 0.2), n_categories=(2, 4), seed=0)
    hard = demo.simulate_votes(
        truth, 3, error_rates=(0.2, 0.2, 0.2), n_categories=(2, 4), seed=0, item_difficulty=np.full(1000, 2.0)
    )
    assert easy.shape == (1000, 3, 2) and easy.max() < 4
    assert (hard != 0).mean() > (easy != 0).mean()
    with pytest.raises(ValueError):
        demo.simulate_votes(truth, 5)


def test_inference_orders_are_permutations_with_desire_first_most_often():
    orders = demo.simulate_inference_orders(5000, 5, seed=0)
    assert orders.shape == (5000, 5, 3)
    assert np.all(np.sort(orders, axis=2) == np.arange(3))
    first = Counter(orders[:, :, 0].ravel().tolist())
    assert first.most_common(1)[0][0] == demo.TASKS.index("desire")
    assert demo.inference_order_keys(orders[0, 0]) in {
        tuple(demo.TASKS[t] for t in order) for order in demo.INFERENCE_ORDERS
    }


def test_durations_are_log_normal_milliseconds_slower_on_the_first_task():
    orders = demo.simulate_inference_orders(5000, 5, seed=0)
    durations = demo.simulate_durations(5000, 5, seed=0, inference_orders=orders)
    assert durations.dtype == np.int32 and durations.min() > 0
    assert 1_000 < np.median(durations) < 30_000
    first = np.take_along_axis(durations, orders[:, :, :1].astype(np.int64), axis=2)
    last = np.take_along_axis(durations, orders[:, :, 2:].astype(np.int64), axis=2)
    assert np.median(first) > np.median(last)
    per_annotator = np.median(durations, axis=(0, 2))
    assert per_annotator.max() / per_annotator.min() > 1.05  # annotators differ in speed


# --------------------------------------------------------------------------- learnability proxy


def _image_features(items) -> np.ndarray:
    """16x16 RGB thumbnail of the 224 centre crop plus a 64-bin joint colour histogram."""
    features = np.zeros((len(items), 16 * 16 * 3 + 64))
    for row, item in enumerate(items):
        if item.image_bytes is None:
            continue
        image = Image.open(io.BytesIO(item.image_bytes)).convert("RGB").crop((16, 16, 240, 240))
        thumb = np.asarray(image.resize((16, 16), Image.BILINEAR), dtype=np.float64).ravel() / 255
        bins = np.asarray(image.resize((32, 32), Image.BILINEAR), dtype=np.int64) // 64
        hist = np.bincount((bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]).ravel(), minlength=64)
        features[row] = np.concatenate([thumb, hist / 1024])
    return features


def test_fusing_text_and_image_beats_each_modality_alone(items_600):
    """A cheap stand-in for the real encoders: the fused model gains >= 3 macro-F1 points per task."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    labels = demo.label_index_matrix(items_600)
    split = np.array([i.split for i in items_600])
    train, test = split == "train", split == "test"
    texts = np.array([i.text or "" for i in items_600])
    text = CountVectorizer(binary=True).fit(texts[train]).transform(texts).astype(np.float64).tocsr()
    pixels = _image_features(items_600)
    image = StandardScaler().fit(pixels[train]).transform(pixels)
    # Scale the image block so its rows are about as long as the text rows; otherwise 832
    # standardised pixels drown a dozen binary words.
    text_norm = np.sqrt(text[train].multiply(text[train]).sum(axis=1)).mean()
    image_norm = np.linalg.norm(image[train], axis=1).mean()
    fused = sparse.hstack([text, sparse.csr_matrix(image * text_norm / image_norm)]).tocsr()

    scores = {}
    # One BLAS thread: on a shared 2-core machine, threaded lbfgs runs ~40x slower, not faster.
    with threadpool_limits(1):
        for t, task in enumerate(demo.TASKS):
            for name, features, c in (("text", text, 1.0), ("image", image, 0.01), ("fused", fused, 1.0)):
                model = LogisticRegression(C=c, max_iter=2000).fit(features[train], labels[train, t])
                predicted = model.predict(features[test])
                scores[task, name] = f1_score(labels[test, t], predicted, average="macro")
    for task in demo.TASKS:
        best_single = max(scores[task, "text"], scores[task, "image"])
        assert scores[task, "fused"] >= best_single + 0.03, {k: round(v, 3) for k, v in scores.items()}
