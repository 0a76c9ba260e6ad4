"""Predictions -> metrics. Pure numpy: no keras, no pytest."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's predictions on one labelled split and the metrics derived from them.

    Attributes:
        y_true: int class ids, shape (N,).
        probs: model outputs, shape (N, K) (probabilities for a softmax head).
        num_classes: number of classes of the dataset (may exceed the output width on a
            broken model; metrics then count the missing classes as never predicted).
    """

    y_true: np.ndarray
    probs: np.ndarray
    num_classes: int

    @functools.cached_property
    def y_pred(self) -> np.ndarray:
        if self.probs.ndim != 2:
            return np.full(self.y_true.shape, -1, dtype=np.int64)
        return self.probs.argmax(axis=1).astype(np.int64)

    @property
    def n(self) -> int:
        return int(self.y_true.shape[0])

    @functools.cached_property
    def correct(self) -> np.ndarray:
        """Boolean mask of correctly classified samples (paired comparisons use it)."""
        return self.y_pred == self.y_true

    @property
    def n_correct(self) -> int:
        return int(self.correct.sum())

    @property
    def accuracy(self) -> float:
        return self.n_correct / self.n if self.n else 0.0

    @functools.cached_property
    def confusion(self) -> np.ndarray:
        """Confusion matrix, rows = true class, columns = predicted class."""
        k = self.num_classes
        pred = np.where((self.y_pred >= 0) & (self.y_pred < k), self.y_pred, k)
        m = np.zeros((k, k + 1), dtype=np.int64)
        np.add.at(m, (self.y_true, pred), 1)
        return m[:, :k]

    @functools.cached_property
    def class_support(self) -> np.ndarray:
        return np.bincount(self.y_true, minlength=self.num_classes)[: self.num_classes]

    @functools.cached_property
    def class_recall(self) -> np.ndarray:
        support = self.class_support
        hits = np.diag(self.confusion)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(support > 0, hits / np.maximum(support, 1), np.nan)

    @functools.cached_property
    def class_precision(self) -> np.ndarray:
        predicted = self.confusion.sum(axis=0)
        hits = np.diag(self.confusion)
        return np.where(predicted > 0, hits / np.maximum(predicted, 1), np.nan)

    @functools.cached_property
    def is_simplex(self) -> bool:
        """Do the outputs look like probabilities (non-negative rows summing to 1)?"""
        p = self.probs
        return bool(
            p.ndim == 2
            and np.isfinite(p).all()
            and (p >= -1e-6).all()
            and np.allclose(p.sum(axis=1), 1.0, atol=1e-3)
        )

    @functools.cached_property
    def loss(self) -> float:
        """Mean cross-entropy (NaN when the outputs are not probabilities)."""
        if not self.is_simplex or self.probs.shape[1] < self.num_classes:
            return float("nan")
        p = self.probs[np.arange(self.n), self.y_true]
        return float(-np.log(np.clip(p, 1e-7, 1.0)).mean())

    def ece(self, bins: int = 15) -> float:
        """Expected calibration error with equal-width confidence bins."""
        if not self.is_simplex:
            return float("nan")
        conf = self.probs.max(axis=1)
        edges = np.linspace(0.0, 1.0, bins + 1)
        idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
        total = 0.0
        for b in range(bins):
            mask = idx == b
            if mask.any():
                total += mask.mean() * abs(self.correct[mask].mean() - conf[mask].mean())
        return float(total)

    @property
    def majority_rate(self) -> float:
        """Accuracy of always predicting the most frequent test class."""
        return float(self.class_support.max() / self.n) if self.n else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "class_recall": [None if np.isnan(r) else float(r) for r in self.class_recall],
        }
