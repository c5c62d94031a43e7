"""An ensemble as one module: the members' probabilities averaged, returned as log-probabilities.

log(mean_i softmax(member_i(x))) works as logits for every consumer: its softmax is the averaged
probability and its argmax the averaged vote, so prediction, evaluation, serving and ONNX export
treat an Ensemble like any Classifier.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Ensemble(nn.Module):
    """Members (Classifiers: pixels in [0, 1] -> logits) whose probabilities are averaged with equal weight."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # (M, N, classes) log-probabilities; logsumexp - log M is log of their mean without leaving
        # log space, so a class every member is sure against stays finite instead of log(0).
        log_probs = torch.stack([torch.log_softmax(member(images), dim=1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))  # (N, classes)
