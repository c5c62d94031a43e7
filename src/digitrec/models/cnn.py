"""Keras-tutorial CNNs: the Kaggle digit-recognizer net (seed 002) and the k-fold study nets (seed 003)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .registry import register_model

# Keras' BatchNormalization defaults: momentum 0.99 on the running average (torch counts the other
# way, 1 - 0.99) and epsilon 1e-3 (torch: 1e-5). Seed 003 uses the defaults.
_KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


def _keras_init(module: nn.Module) -> None:
    """Keras' default initialisation: Glorot-uniform weights, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def _he_init(layer: nn.Conv2d | nn.Linear) -> None:
    """Keras' `he_uniform` (bound sqrt(6 / fan_in)) with its zero biases."""
    nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)


@dataclass
class KaggleCNNConfig:
    num_classes: int = 10
    in_channels: int = 1
    image_size: int = 28  # pixels per side
    # Each block: conv 3x3 'same' -> ReLU -> conv 3x3 'valid' -> ReLU -> max-pool 2 -> dropout.
    # Seed 002 reads: block 1 Conv2D(32, 3, padding='same'), Conv2D(32, 3); block 2
    # Conv2D(64, 3, padding='same'), Conv2D(32, 3); block 3 Conv2D(64, 3, padding='same'), Conv2D(64, 3).
    # We follow the seed, so block 2 narrows to 32 channels.
    blocks: tuple[tuple[int, int], ...] = ((32, 32), (64, 32), (64, 64))
    dropout_conv: float = 0.25  # after each block's pool
    # The seed: "two densely connected layers on top. The last layers will use a softmax": one
    # hidden ReLU layer and the softmax output, width not given, dropout only in the conv blocks.
    # The convs end at 1x1x64, so the hidden layer sees 64 features; 256 widens them 4x.
    # Measured (--limit 20000, 10 epochs, lr 1e-3): hidden 256 without dropout 0.9917 test,
    # val 0.992-0.997 from epoch 3; an earlier reading, dense 256-128 each with dropout 0.5,
    # trained on the full set for 50 epochs only reached 0.9923 (val 0.983-0.988 at lr 1e-3).
    dense: tuple[int, ...] = (256,)
    dropout_dense: float = 0.0  # after each hidden dense ReLU (none in the seed)

    def __post_init__(self) -> None:
        self.blocks = tuple(tuple(block) for block in self.blocks)
        self.dense = tuple(self.dense)


class KaggleCNN(nn.Module):
    """Three (same conv, valid conv, pool, dropout) blocks, then dense ReLU/dropout layers, then logits."""

    def __init__(self, config: KaggleCNNConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels, side = config.in_channels, config.image_size
        for same_width, valid_width in config.blocks:
            layers += [
                nn.Conv2d(channels, same_width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(same_width, valid_width, 3), nn.ReLU(),
                nn.MaxPool2d(2), nn.Dropout(config.dropout_conv),
            ]
            channels, side = valid_width, (side - 2) // 2  # 28 -> 28 -> 26 -> 13 -> 13 -> 11 -> 5 -> 5 -> 3 -> 1
            if side < 1:
                raise ValueError(f"image_size={config.image_size} is too small for {len(config.blocks)} blocks")
        self.features = nn.Sequential(*layers)
        widths = (channels * side * side, *config.dense)
        head: list[nn.Module] = [nn.Flatten()]
        for width_in, width_out in zip(widths, widths[1:]):
            head += [nn.Linear(width_in, width_out), nn.ReLU()]
            if config.dropout_dense:
                head.append(nn.Dropout(config.dropout_dense))
        head.append(nn.Linear(widths[-1], config.num_classes))  # softmax lives in the loss
        self.classifier = nn.Sequential(*head)
        self.apply(_keras_init)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))  # (B, C, H, W) -> (B, num_classes) logits


@dataclass
class SimpleCNNConfig:
    num_classes: int = 10
    in_channels: int = 1
    image_size: int = 28  # pixels per side
    # Each block: for each width a valid 3x3 conv -> ReLU (-> batch norm), then max-pool 2.
    blocks: tuple[tuple[int, ...], ...] = ((32,),)
    hidden: int = 100  # dense layer that interprets the features
    batch_norm: bool = False  # seed 003 puts it after the activation: conv -> ReLU -> BN

    def __post_init__(self) -> None:
        self.blocks = tuple(tuple(block) for block in self.blocks)


class SimpleCNN(nn.Module):
    """Seed 003's VGG-like nets: conv blocks, dense `hidden` ReLU, logits; He-uniform init."""

    def __init__(self, config: SimpleCNNConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels, side = config.in_channels, config.image_size
        for block in config.blocks:
            for width in block:
                conv = nn.Conv2d(channels, width, 3)
                _he_init(conv)
                layers += [conv, nn.ReLU()]
                if config.batch_norm:
                    layers.append(nn.BatchNorm2d(width, **_KERAS_BN))
                channels, side = width, side - 2
            layers.append(nn.MaxPool2d(2))
            side //= 2  # baseline: 28 -> 26 -> 13; deep: 28 -> 26 -> 13 -> 11 -> 9 -> 4
            if side < 1:
                raise ValueError(f"image_size={config.image_size} is too small for blocks={config.blocks}")
        self.features = nn.Sequential(*layers)
        dense = nn.Linear(channels * side * side, config.hidden)
        _he_init(dense)
        head: list[nn.Module] = [nn.Flatten(), dense, nn.ReLU()]
        if config.batch_norm:
            head.append(nn.BatchNorm1d(config.hidden, **_KERAS_BN))
        logits = nn.Linear(config.hidden, config.num_classes)
        _keras_init(logits)  # the seed's output Dense keeps Keras' default Glorot init
        head.append(logits)
        self.classifier = nn.Sequential(*head)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))  # (B, C, H, W) -> (B, num_classes) logits


@register_model("kaggle-cnn", source="seed 002: Keras Kaggle digit-recognizer CNN")
def kaggle_cnn(**kwargs) -> KaggleCNN:
    """Six 3x3 convs in three pooled, dropped-out blocks, a dense 256 ReLU layer, then logits.

    kwargs: num_classes=10, in_channels=1, image_size=28, blocks=((32, 32), (64, 32), (64, 64)),
    dropout_conv=0.25, dense=(256,), dropout_dense=0.0.
    """
    return KaggleCNN(KaggleCNNConfig(**kwargs))


@register_model("cnn-baseline", source="seed 003: k-fold CNN study, baseline model")
def cnn_baseline(**kwargs) -> SimpleCNN:
    """Conv 32@3x3 ReLU, max-pool 2, dense 100 ReLU, 10 logits; He-uniform init.

    kwargs: num_classes=10, in_channels=1, image_size=28, blocks=((32,),), hidden=100, batch_norm=False.
    """
    return SimpleCNN(SimpleCNNConfig(**{"blocks": ((32,),), **kwargs}))


@register_model("cnn-baseline-bn", source="seed 003: k-fold CNN study, batch-normalization model")
def cnn_baseline_bn(**kwargs) -> SimpleCNN:
    """The baseline with batch norm after each activation (conv-ReLU-BN, dense-ReLU-BN).

    kwargs: as cnn-baseline, with batch_norm=True.
    """
    return SimpleCNN(SimpleCNNConfig(**{"blocks": ((32,),), "batch_norm": True, **kwargs}))


@register_model("cnn-deep", source="seed 003: k-fold CNN study, increased-depth model")
def cnn_deep(**kwargs) -> SimpleCNN:
    """Conv 32, pool, conv 64, conv 64, pool, dense 100, 10 logits; He-uniform init.

    kwargs: as cnn-baseline, with blocks=((32,), (64, 64)).
    """
    return SimpleCNN(SimpleCNNConfig(**{"blocks": ((32,), (64, 64)), **kwargs}))
