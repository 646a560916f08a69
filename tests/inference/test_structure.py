"""inference.modeling.structure: nested labels found in gold and decoded jointly (pure NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.modeling.structure import MIN_SUPPORT, Nesting, decode_jointly, find_nestings

# MSED's label orders: sentiment positive, neutral, negative; emotion happiness, sad, neutral, disgust, anger, fear.
SCHEMA = [("desire", 7), ("sentiment", 3), ("emotion", 6)]
EMOTION_PARENT = (0, 2, 1, 2, 2, 2)


def msed_like_labels(n_per_emotion: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    emotion = np.repeat(np.arange(6), n_per_emotion)
    sentiment = np.array(EMOTION_PARENT)[emotion]
    desire = rng.integers(0, 7, emotion.size)
    return np.stack([desire, sentiment, emotion], axis=1)


def test_nesting_of_emotion_in_sentiment_is_found_and_nothing_else():
    nestings = find_nestings(msed_like_labels(), SCHEMA)
    assert nestings == [Nesting("emotion", "sentiment", EMOTION_PARENT)]
    assert Nesting.from_dict(nestings[0].to_dict()) == nestings[0]


def test_unlabelled_cells_are_ignored_but_a_rare_label_or_a_real_contradiction_is_no_nesting():
    labels = msed_like_labels()
    labels[::7, 1] = -1  # some sentiments missing: still nested
    assert [n.fine for n in find_nestings(labels, SCHEMA)] == ["emotion"]

    rare = msed_like_labels()
    rare = rare[~((rare[:, 2] == 3) & (np.arange(len(rare)) % 10 >= MIN_SUPPORT - 1))]  # disgust seen 4 times
    assert find_nestings(rare, SCHEMA) == []

    contradicted = msed_like_labels()
    contradicted[:2, 1] = 2  # two "happiness" items labelled negative: 2 of 60 is above the 1% allowed
    assert find_nestings(contradicted, SCHEMA) == []


def test_a_coarse_label_no_fine_label_maps_to_is_no_nesting():
    labels = msed_like_labels()
    labels[labels[:, 1] == 1, 1] = 2  # "neutral" emotion now negative: sentiment neutral has no child
    assert find_nestings(labels, SCHEMA) == []


def test_joint_decoding_makes_answers_agree_and_weighs_both_heads():
    nesting = Nesting("emotion", "sentiment", EMOTION_PARENT)
    sentiment = np.array([[0.6, 0.3, 0.1], [0.2, 0.1, 0.7]])
    # Row 0: the emotion head leans to anger (negative), the sentiment head to positive.
    emotion = np.array([[0.30, 0.05, 0.05, 0.05, 0.50, 0.05], [0.9, 0.02, 0.02, 0.02, 0.02, 0.02]])
    desire = np.full((2, 7), 1 / 7)
    out = decode_jointly({"sentiment": sentiment, "emotion": emotion, "desire": desire}, [nesting])
    parent = np.array(EMOTION_PARENT)
    for row in range(2):
        assert parent[out["emotion"][row].argmax()] == out["sentiment"][row].argmax()
        assert out["emotion"][row].sum() == pytest.approx(1.0) and out["sentiment"][row].sum() == pytest.approx(1.0)
    # q(e) ∝ p(e) p(parent(e)): row 0 happiness 0.30*0.6 = 0.18 beats anger 0.50*0.1 = 0.05.
    joint = emotion[0] * sentiment[0, parent]
    np.testing.assert_allclose(out["emotion"][0], joint / joint.sum(), rtol=1e-6)
    assert out["emotion"][0].argmax() == 0 and out["sentiment"][0].argmax() == 0
    np.testing.assert_array_equal(out["desire"], desire)
    # Nothing to decode: the input comes back as it was.
    assert decode_jointly({"sentiment": sentiment}, [nesting])["sentiment"] is sentiment


def test_a_row_whose_product_is_zero_keeps_the_fine_heads_answer():
    nesting = Nesting("emotion", "sentiment", EMOTION_PARENT)
    sentiment = np.array([[1.0, 0.0, 0.0]])
    emotion = np.array([[0.0, 0.5, 0.0, 0.5, 0.0, 0.0]])
    out = decode_jointly({"sentiment": sentiment, "emotion": emotion}, [nesting])
    assert np.isfinite(out["emotion"]).all() and out["emotion"][0].argmax() in (1, 3)
    assert out["sentiment"][0].argmax() == 2
