"""Input normalisation and output temperature as part of the model, so that training, checkpoints,
ONNX and inference all run one module and every backend gets both for free."""

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
    """A registry network behind its input normalisation: (N, 1, 28, 28) pixels in [0, 1] -> logits.

    The logits are divided by `temperature`, a buffer: 1.0 while training, then fitted on the
    validation split (digitrec.training.calibrate) so that softmax probabilities match how often
    the model is right. A buffer, not a parameter: no optimizer ever sees it, and it travels in the
    state dict, through `.to()` and into the ONNX graph.
    """

    def __init__(self, net: nn.Module, mean: float = 0.0, std: float = 1.0, temperature: float = 1.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.normalize = Normalize(mean, std)
        self.net = net
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(images)) / self.temperature  # (N, num_classes) logits
