"""Datasets: one typed container and the loaders behind ``--data``.

``digits`` (scikit-learn's real 8x8 digits, shipped in the wheel), ``mnist``, ``fashion_mnist``
and ``cifar10`` (``keras.datasets``; read from the Keras cache, downloaded once otherwise),
``synthetic:N`` (MNIST-shaped, seeded, learnable) and a path to an ``.npz`` file with the
Keras-datasets keys. Images are always ``(N, H, W, C)`` float32; labels are int class ids.
"""

from __future__ import annotations

from mlchecks.data.dataset import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
