"""The `best` recipe's network: Deotte's Kaggle MNIST CNN with batch norm, sized for a CPU budget."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .registry import register_model


class MaskDropout(nn.Module):
    """Dropout whose mask comes from `torch.rand`: the same function as `nn.Dropout`, faster on a CPU.

    `nn.Dropout` draws its mask with `bernoulli_`, which on 2 Zen 4 cores takes 9.4 ms forward and
    backward for a (128, 32, 14, 14) bf16 activation against 3.8 ms this way (1.3 vs 3.1 ms for
    (128, 2048)): 13% of a `best` training step went to `bernoulli_`, and the step drops from 100
    to 92 ms (bf16, batch 128: benchmarks/results/step_profile-best-zen4-bf16.md). Units are zeroed with
    probability p and the survivors scaled by 1 / (1 - p), so evaluation is the identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout={p}: choose a probability in [0, 1)")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p  # float32 draws whatever x's dtype
        return x * keep * (1 / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _conv(channels_in: int, channels_out: int, kernel: int, stride: int = 1, padding: int | None = None) -> list[nn.Module]:
    """conv (no bias: batch norm has one) -> batch norm -> ReLU."""
    padding = kernel // 2 if padding is None else padding
    return [nn.Conv2d(channels_in, channels_out, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True)]


@dataclass
class BestCNNConfig:
    num_classes: int = 10
    in_channels: int = 1
    image_size: int = 28  # pixels per side
    # Each stage: two 3x3 'same' convs, then a 5x5 stride-2 conv in place of max-pooling (Deotte's
    # "learnable pooling"): 28 -> 14 -> 7 px. Deotte's widths are (32, 64).
    widths: tuple[int, ...] = (32, 64)
    head: int = 128  # a 4x4 'valid' conv over the last 7x7 map: 7 -> 4 px, then flatten
    dropout: float = 0.4  # after each stage and before the logits (Deotte: 0.4)
    # The 3x3 convs: "valid" is Deotte's (28 -> 26 -> 24 px before the first stride), half the
    # FLOPs of "same" (which keeps 28 px; digitrec's first `best` network).
    padding: str = "same"

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        if self.padding not in ("same", "valid"):
            raise ValueError(f"padding={self.padding!r}: choose 'same' or 'valid'")


class BestCNN(nn.Module):
    """(3x3, 3x3, 5x5/2) conv stages with batch norm and dropout, a 4x4 conv, dropout, logits."""

    def __init__(self, config: BestCNNConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels, side = config.in_channels, config.image_size
        pad = 1 if config.padding == "same" else 0
        for width in config.widths:
            layers += [*_conv(channels, width, 3, padding=pad), *_conv(width, width, 3, padding=pad),
                       *_conv(width, width, 5, stride=2)]
            layers.append(MaskDropout(config.dropout))
            side -= 4 * (1 - pad)  # two 3x3 convs
            channels, side = width, (side + 1) // 2  # stride 2 with padding 2 on a 5x5 kernel: ceil(side / 2)
        if side < 4:
            raise ValueError(f"image_size={config.image_size} is too small for {len(config.widths)} stages and a 4x4 head")
        layers += _conv(channels, config.head, 4, padding=0)
        side -= 3
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), MaskDropout(config.dropout),
                                        nn.Linear(config.head * side * side, config.num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))  # (B, C, H, W) -> (B, num_classes) logits


@register_model("best-cnn", source="digitrec: the `best` recipe's network (after Deotte's Kaggle MNIST CNN)")
def best_cnn(**kwargs) -> BestCNN:
    """Conv 32-32-32/2, 64-64-64/2, 128@4x4, each with batch norm and ReLU; dropout 0.4; 10 logits.

    kwargs: num_classes=10, in_channels=1, image_size=28, widths=(32, 64), head=128, dropout=0.4,
    padding="same" (or "valid", Deotte's).
    """
    return BestCNN(BestCNNConfig(**kwargs))
