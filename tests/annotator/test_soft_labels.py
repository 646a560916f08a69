"""Soft labels (issue 14.4): which distribution stands for an item's gold,
as the export and training with soft targets read it (pure, no database)."""

from __future__ import annotations

import pytest

from annotator.io.soft_labels import rounded, soft_label, vote_distribution

KEYS = ("positive", "neutral", "negative")


def test_votes_cover_every_label_in_label_order_and_drop_unknown_keys():
    assert list(vote_distribution(KEYS, {"negative": 2, "positive": 1, "gone": 4}).items()) == [
        ("positive", 1),
        ("neutral", 0),
        ("negative", 2),
    ]


def test_majority_gold_is_the_normalised_vote_distribution():
    got = soft_label(KEYS, votes={"positive": 2, "negative": 1}, source="majority", gold_label="positive")

    assert got == pytest.approx({"positive": 2 / 3, "neutral": 0.0, "negative": 1 / 3})
    assert list(got) == list(KEYS)


def test_a_tie_without_gold_still_has_its_vote_distribution():
    assert soft_label(KEYS, votes={"positive": 1, "neutral": 1}) == {"positive": 0.5, "neutral": 0.5, "negative": 0.0}


def test_a_stored_posterior_wins_over_votes_and_is_renormalised_to_the_current_labels():
    posterior = {"positive": 0.6, "neutral": 0.2, "negative": 0.1, "removed-label": 0.1}

    got = soft_label(KEYS, votes={"negative": 3}, source="dawid_skene", gold_label="positive", posterior=posterior)

    assert got == pytest.approx({"positive": 0.6 / 0.9, "neutral": 0.2 / 0.9, "negative": 0.1 / 0.9})


@pytest.mark.parametrize("source", ["adjudicated", "imported"])
def test_decided_gold_is_one_hot_whatever_the_votes_or_posterior(source):
    got = soft_label(KEYS, votes={"negative": 3}, source=source, gold_label="neutral", posterior={"negative": 1.0})

    assert got == {"positive": 0.0, "neutral": 1.0, "negative": 0.0}


def test_unusable_posteriors_fall_back_to_the_votes():
    for posterior in ({}, {"positive": "a lot"}, {"positive": -1, "neutral": float("nan")}, ["positive"]):
        assert soft_label(KEYS, votes={"neutral": 2}, posterior=posterior) == {
            "positive": 0.0,
            "neutral": 1.0,
            "negative": 0.0,
        }


def test_gold_without_votes_is_one_hot_and_nothing_known_is_none():
    assert soft_label(KEYS, votes={}, source="dawid_skene", gold_label="negative")["negative"] == 1.0
    assert soft_label(KEYS, votes={}, source="majority") is None
    assert soft_label(KEYS, votes={}, source="imported", gold_label="not-a-label") is None


def test_rounding_keeps_four_decimals():
    assert rounded({"a": 2 / 3, "b": 1 / 3}) == {"a": 0.6667, "b": 0.3333}
    assert rounded(None) is None
