"""Builders for the benchmark tests: a tiny folder in the MSED release's layout."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["Title", "Caption", "Sentiment", "Emotion", "Desire", "Inference Sequence"]
# (sentiment, emotion, desire, words): MSED's label names, one latent class each.
CLASSES = [
    ("positive", "happiness", "family", "kids home together"),
    ("negative", "sad", "none", "tears alone rain"),
    ("neutral", "neutral", "curiosity", "street city walk"),
]
COLOURS = [(230, 60, 40), (40, 60, 220), (120, 120, 120)]


def write_msed_folder(root: Path, sizes: dict[str, int]) -> Path:
    """train/, dev/ and test/ with `sizes[split]` rows each: a CSV as the
    release has it (a caption with a comma and a line break, a title) and
    row n's 32-pixel image at <split>/images/<n>.jpg."""
    from PIL import Image

    for split, n in sizes.items():
        images = root / split / "images"
        images.mkdir(parents=True, exist_ok=True)
        with open(root / split / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for row in range(1, n + 1):
                sentiment, emotion, desire, words = CLASSES[row % 3]
                caption = f"{words}, {split} post {row}" + ("\nsecond line" if row == 2 else "")
                writer.writerow([f"{split} title {row}", caption, sentiment, emotion, desire, "S-E-D"])
                Image.new("RGB", (32, 32), COLOURS[row % 3]).save(images / f"{row}.jpg")
    return root
