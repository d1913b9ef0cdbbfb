"""Kernel density estimates of sample sets, with the bandwidth chosen by cross-validated likelihood.

Scott's or Silverman's rule assumes one smooth bump; on the sharp 2D mixtures (std 0.01–0.05 with modes 1–2
apart) they over-smooth by an order of magnitude. Held-out log-likelihood picks the bandwidth the data support.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

DEFAULT_BANDWIDTHS = np.logspace(-3, 0.5, 22)


class CrossValidatedKDE:
    """A Gaussian KDE of `samples` (n, d) whose bandwidth maximises the `folds`-fold held-out likelihood."""

    def __init__(self, samples: Tensor, bandwidths: np.ndarray = DEFAULT_BANDWIDTHS, folds: int = 3, seed: int = 0):
        from sklearn.model_selection import GridSearchCV, KFold
        from sklearn.neighbors import KernelDensity

        points = samples.detach().double().cpu().numpy()
        search = GridSearchCV(
            KernelDensity(kernel="gaussian"), {"bandwidth": bandwidths},
            cv=KFold(folds, shuffle=True, random_state=seed),
        )
        search.fit(points)
        self.bandwidth = float(search.best_params_["bandwidth"])
        self.kde = search.best_estimator_

    def log_prob(self, x: Tensor) -> Tensor:
        return torch.from_numpy(self.kde.score_samples(x.detach().double().cpu().numpy()))
