"""Synthetic CIFAR-10-shaped data, generated deterministically per site.

Every site shares the same 10 class prototypes (smooth 3x32x32 patterns); each site
draws its own samples (its seed comes from the site name): a prototype, scaled and
shifted, plus strong pixel noise. Replace ``load_data`` with your own dataset.
"""

import zlib

import numpy as np
import torch

NUM_CLASSES = 10
SHAPE = (3, 32, 32)


def _prototypes() -> np.ndarray:
    coarse = np.random.default_rng(2024).normal(size=(NUM_CLASSES, 3, 4, 4))
    return coarse.repeat(8, axis=2).repeat(8, axis=3).astype(np.float32)  # smooth 32x32


def _samples(rng: np.random.Generator, n: int, signal: float, noise: float):
    labels = rng.integers(0, NUM_CLASSES, size=n)
    scale = rng.uniform(0.5, 1.5, size=(n, 1, 1, 1)).astype(np.float32)
    images = signal * scale * _prototypes()[labels]
    images += rng.normal(scale=noise, size=(n, *SHAPE)).astype(np.float32)
    return torch.from_numpy(images.astype(np.float32)), torch.from_numpy(labels)


def load_data(
    site_name: str, n_train: int = 768, n_val: int = 256, signal: float = 0.1, noise: float = 1.0
):
    """``(train_x, train_y, val_x, val_y)`` for ``site_name``; the same every time."""
    seed = zlib.crc32(site_name.encode("utf-8"))
    train_x, train_y = _samples(np.random.default_rng(seed), n_train, signal, noise)
    val_x, val_y = _samples(np.random.default_rng(seed + 1), n_val, signal, noise)
    return train_x, train_y, val_x, val_y
