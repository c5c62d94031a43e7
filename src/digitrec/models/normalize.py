"""Input normalisation as a layer, so training, checkpoints, ONNX and inference run one module."""

from __future__ import annotations

import torch
from torch import nn


class Normalize(nn.Module):
    """(images - mean) / std, with mean and std as buffers: saved in the state dict, moved with .to()."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        if not std > 0:
            raise ValueError(f"std must be positive, got {std}")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


class Classifier(nn.Module):
    """A registry network behind its input normalisation: (N, 1, 28, 28) pixels in [0, 1] -> logits."""

    def __init__(self, net: nn.Module, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(images))  # (N, num_classes) logits
