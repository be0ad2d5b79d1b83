"""Fashion-MNIST from its idx files (Debian ``dataset-fashion-mnist``), as static spike-net input.

The image (scaled to [0, 1]) is repeated over the T steps, as in the paper's static-image
protocol; the first conv layer acts as the encoder. Files: ``{train,t10k}-{images-idx3,
labels-idx1}-ubyte[.gz]``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from eventcore.errors import SourceError

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot")
PREFIX = {"train": "train", "test": "t10k"}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """An idx file (optionally gzipped) as a numpy array; SourceError if malformed."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SourceError(f"{path}: cannot read idx file: {err}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_TYPES or data[3] == 0:
        raise SourceError(f"{path}: not an idx file (bad magic {data[:4].hex()})")
    ndim, dtype = data[3], np.dtype(_IDX_TYPES[data[2]])
    if len(data) < 4 + 4 * ndim:
        raise SourceError(f"{path}: idx file shorter than its header")
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    if len(data) != 4 + 4 * ndim + int(np.prod(dims)) * dtype.itemsize:
        raise SourceError(f"{path}: idx file size does not match its header")
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(tuple(dims))


def _find(folder: Path, stem: str) -> Path:
    for cand in (folder / f"{stem}.gz", folder / stem):
        if cand.is_file():
            return cand
    raise SourceError(f"{folder}: no {stem}[.gz] (install Debian's dataset-fashion-mnist or pass --data)")


def read_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, 28, 28] uint8 and labels [N] of ``split`` ("train" or "test")."""
    folder = Path(folder)
    images = read_idx(_find(folder, f"{PREFIX[split]}-images-idx3-ubyte"))
    labels = read_idx(_find(folder, f"{PREFIX[split]}-labels-idx1-ubyte")).astype(np.int64)
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise SourceError(f"{folder}: {split} images {images.shape} and labels {labels.shape} do not match")
    return images, labels


class StaticImages(Dataset):
    """Items ``(image repeated over T [T, 1, H, W] float32 in [0, 1], label)``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, T: int) -> None:
        self.images, self.labels, self.T = images, np.asarray(labels, dtype=np.int64), int(T)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = torch.from_numpy(self.images[i].astype(np.float32) / 255.0)
        return img[None, None].expand(self.T, 1, *img.shape), int(self.labels[i])
