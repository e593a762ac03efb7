"""Scalar random draws in plain Python (numpy's per-call overhead on scalars dominated sampling
time). Every SynthPose module draws its scalars through these, so one Generator stream fixes an
image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["_u", "_gauss", "_int", "_pick"]


# Scalar draws in plain Python: numpy's per-call overhead on scalars dominated sampling time.
def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform in [lo, hi)."""
    return lo + (hi - lo) * rng.random()


def _gauss(rng: np.random.Generator, sigma: float, lo: float, hi: float, mean: float = 0.0
           ) -> float:
    """Normal(mean, sigma) clipped to [lo, hi]."""
    return min(max(mean + sigma * rng.standard_normal(), lo), hi)


def _int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] (both inclusive)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: np.random.Generator, probs: Sequence[float]) -> int:
    """Index drawn with the given probabilities (summing to 1)."""
    u, acc = rng.random(), 0.0
    for i, q in enumerate(probs):
        acc += q
        if u < acc:
            return i
    return len(probs) - 1
