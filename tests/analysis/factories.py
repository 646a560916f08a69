"""Builders for the dashboard tests: projects with votes written through the bulk service."""

from __future__ import annotations

import numpy as np

from annotator.models import Annotation, Item
from annotator.services.bulk import write_annotations
from tests.factories import ItemFactory, make_member

DESIRE = ["vengeance", "curiosity", "social-contact", "family", "tranquility", "romance", "none"]


def add_votes(
    project, votes: dict[tuple[Item, object], dict[str, str]], *, round: str = Annotation.Round.MULTIMODAL, **extra
):
    """Write annotations {(item, user): {task: label}} through the bulk service."""
    rows = [
        {"item_id": item.pk, "annotator_id": user.pk, "labels": labels, "round": round, **extra}
        for (item, user), labels in votes.items()
    ]
    return write_annotations(project=project, rows=rows)


def make_voted_project(
    project, *, n_items: int = 24, n_annotators: int = 4, seed: int = 0, with_unimodal: bool = False
):
    """A project with random but agreeing-ish MSED votes, inference orders and durations.

    Returns (items, annotators). Items alternate train / test splits.
    """
    rng = np.random.default_rng(seed)
    annotators = [make_member(project, username=f"rater-{seed}-{i}") for i in range(n_annotators)]
    items = [
        ItemFactory(
            project=project,
            split=Item.Split.TRAIN if i % 2 == 0 else Item.Split.TEST,
            text=f"{'family walk together' if i % 3 else 'close up portrait shot'} post {i}",
        )
        for i in range(n_items)
    ]
    sentiments = ["positive", "neutral", "negative"]
    emotions = ["happiness", "sad", "neutral", "disgust", "anger", "fear"]
    orders = [["desire", "sentiment", "emotion"], ["sentiment", "desire", "emotion"]]
    rounds = [Annotation.Round.MULTIMODAL] + ([Annotation.Round.TEXT, Annotation.Round.IMAGE] if with_unimodal else [])
    rows = []
    for round_ in rounds:
        for i, item in enumerate(items):
            truth = (DESIRE[i % 7], sentiments[i % 3], emotions[i % 6])
            for a, user in enumerate(annotators):
                noisy = rng.random() < (0.25 if round_ == Annotation.Round.MULTIMODAL else 0.45)
                rows.append(
                    {
                        "item_id": item.pk,
                        "annotator_id": user.pk,
                        "round": round_,
                        "labels": {
                            "desire": DESIRE[rng.integers(7)] if noisy else truth[0],
                            "sentiment": sentiments[rng.integers(3)] if noisy else truth[1],
                            "emotion": emotions[rng.integers(6)] if noisy else truth[2],
                        },
                        "inference_order": orders[(i + a) % 2],
                        "duration_ms": int(2000 + 500 * a + 10 * i),
                    }
                )
    write_annotations(project=project, rows=rows)
    return items, annotators


SENTIMENTS = ["positive", "neutral", "negative"]
EMOTIONS = ["happiness", "sad", "neutral", "disgust", "anger", "fear"]


def make_anchoring_project(project, *, pull: float, n_items: int = 60, n_annotators: int = 4, seed: int = 0):
    """An anchoring experiment with a known pull: each (annotator, item) pair
    is in the shown arm with probability 0.5; the model's suggestion is the
    truth 70% of the time; an annotator votes the truth 80% of the time
    (else a random label), but in the shown arm first copies the suggestion
    with probability `pull`. Shown pairs take 1.5 s less. Returns the rows
    written (dicts with labels, arm, suggestion and duration)."""
    rng = np.random.default_rng(seed)
    project.show_suggestions, project.suggestion_share = True, 0.5
    project.save()
    annotators = [make_member(project, username=f"anchored-{seed}-{i}") for i in range(n_annotators)]
    items = [ItemFactory(project=project, text=f"post {i}") for i in range(n_items)]
    options = {"desire": DESIRE, "sentiment": SENTIMENTS, "emotion": EMOTIONS}
    rows = []
    for i, item in enumerate(items):
        truth = {"desire": DESIRE[i % 7], "sentiment": SENTIMENTS[i % 3], "emotion": EMOTIONS[i % 6]}
        suggestion = {
            task: truth[task] if rng.random() < 0.7 else labels[(labels.index(truth[task]) + 1) % len(labels)]
            for task, labels in options.items()
        }
        for user in annotators:
            shown = bool(rng.random() < 0.5)
            labels = {}
            for task, choices in options.items():
                if shown and rng.random() < pull:
                    labels[task] = suggestion[task]
                else:
                    labels[task] = truth[task] if rng.random() < 0.8 else choices[rng.integers(len(choices))]
            rows.append(
                {
                    "item_id": item.pk,
                    "annotator_id": user.pk,
                    "labels": labels,
                    "duration_ms": int(6000 + rng.integers(0, 2000) - (1500 if shown else 0)),
                    "suggestion_run_id": 1,
                    "suggestion_arm": "shown" if shown else "hidden",
                    "suggestion_accepted": {task: labels[task] == suggestion[task] for task in options},
                }
            )
    write_annotations(project=project, rows=rows)
    return rows


def make_crowd(
    project, *, n_items: int = 40, careful: int = 3, spammers: int = 2, seed: int = 0, prefix: str = "crowd"
):
    """Items with a known truth, voted on by careful annotators (90% right)
    and spammers (always the first label). Returns (items, truth, careful,
    spammers), truth[item.pk] = {task: label}; annotators are members."""
    rng = np.random.default_rng(seed)
    good = [make_member(project, username=f"{prefix}-careful-{i}") for i in range(careful)]
    bad = [make_member(project, username=f"{prefix}-spammer-{i}") for i in range(spammers)]
    items = [ItemFactory(project=project, text=f"{prefix} item {i}") for i in range(n_items)]
    truth = {
        item.pk: {
            "desire": DESIRE[int(rng.integers(7))],
            "sentiment": SENTIMENTS[int(rng.integers(3))],
            "emotion": EMOTIONS[int(rng.integers(6))],
        }
        for item in items
    }
    options = {"desire": DESIRE, "sentiment": SENTIMENTS, "emotion": EMOTIONS}
    rows = []
    for item in items:
        for user in good:
            labels = {
                t: truth[item.pk][t] if rng.random() < 0.9 else options[t][int(rng.integers(len(options[t])))]
                for t in options
            }
            rows.append({"item_id": item.pk, "annotator_id": user.pk, "labels": labels})
        for user in bad:
            rows.append({"item_id": item.pk, "annotator_id": user.pk, "labels": {t: options[t][0] for t in options}})
    write_annotations(project=project, rows=rows)
    return items, truth, good, bad
