"""Batch augmentation: identity, shapes, determinism, geometry and value range."""

import dataclasses

import pytest
import torch

from digitrec.recipes import KERAS_AUGMENT as KERAS_AUGMENT_ARGS
from digitrec.recipes import get_recipe
from digitrec.training.augment import AugmentConfig, affine_matrices, augment_batch, warp

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
KERAS_AUGMENT = AugmentConfig(**KERAS_AUGMENT_ARGS)
NO_AUGMENT = AugmentConfig(rotation=0.0, zoom=0.0, shift=0.0)
ELASTIC_ONLY = dataclasses.replace(NO_AUGMENT, elastic_alpha=34.0, elastic_sigma=4.0)


def _digits(batch: int = 16, device: str = "cpu") -> torch.Tensor:
    """(B, 1, 28, 28) images in [0, 1]: a bright square blob on black, like a centred digit."""
    images = torch.zeros(batch, 1, 28, 28, device=device)
    images[:, :, 9:19, 10:18] = torch.rand(batch, 1, 10, 8, generator=torch.Generator().manual_seed(1)).to(device)
    return images


def _centre_of_mass(images: torch.Tensor) -> torch.Tensor:
    """(B, 2) centre of mass (x, y) in pixels."""
    height, width = images.shape[-2:]
    mass = images.sum(dim=(1, 2, 3))
    ys = torch.arange(height, dtype=images.dtype, device=images.device).view(1, 1, -1, 1)
    xs = torch.arange(width, dtype=images.dtype, device=images.device).view(1, 1, 1, -1)
    return torch.stack([(images * xs).sum(dim=(1, 2, 3)), (images * ys).sum(dim=(1, 2, 3))], dim=1) / mass[:, None]


def test_identity_config_leaves_images_unchanged():
    images = _digits()
    assert torch.equal(augment_batch(images, NO_AUGMENT), images)
    assert torch.equal(augment_batch(images, AugmentConfig(p=0.0)), images)


def test_identity_matrix_resamples_exactly():
    images = _digits()
    theta = affine_matrices(len(images), NO_AUGMENT)  # all ranges zero -> identity
    assert torch.allclose(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(len(images), 2, 3))
    assert torch.allclose(warp(images, theta), images, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config", [KERAS_AUGMENT, ELASTIC_ONLY, AugmentConfig(shear=15, elastic_alpha=20, p=0.5)])
def test_shape_dtype_device_kept(device, dtype, config):
    images = _digits(device=device).to(dtype)
    out = augment_batch(images, config, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == dtype and out.device == images.device
    assert not torch.equal(out, images)


@pytest.mark.parametrize("config", [KERAS_AUGMENT, ELASTIC_ONLY, AugmentConfig(p=0.5, elastic_alpha=10)])
def test_same_generator_seed_gives_same_batch(config):
    images = _digits()
    first = augment_batch(images, config, torch.Generator().manual_seed(42))
    again = augment_batch(images, config, torch.Generator().manual_seed(42))
    other = augment_batch(images, config, torch.Generator().manual_seed(43))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_pure_shift_moves_centre_of_mass_as_drawn():
    config = AugmentConfig(rotation=0.0, zoom=0.0, shift=0.1)
    images = _digits(batch=64)
    out = augment_batch(images, config, torch.Generator().manual_seed(7))
    # The same seed redraws the same matrices; an output pixel at p reads the input at p + t,
    # so content moves by -t, with t in normalised units (2 per image width).
    theta = affine_matrices(64, config, torch.Generator().manual_seed(7))
    expected = -theta[:, :, 2] * 28 / 2  # (B, 2) pixels
    moved = _centre_of_mass(out) - _centre_of_mass(images)
    assert torch.allclose(moved, expected, atol=0.15)
    assert expected.abs().max() <= 0.1 * 28 + 1e-4
    assert expected.abs().max() > 2.0  # 64 draws of U(-2.8, 2.8) px reach the tails


def test_shift_direction_with_an_explicit_matrix():
    images = _digits(batch=2)
    theta = torch.tensor([[1.0, 0, 2 * 0.1], [0, 1.0, 0]]).expand(2, 2, 3)  # t = +0.1 of the width
    moved = _centre_of_mass(warp(images, theta)) - _centre_of_mass(images)
    assert torch.allclose(moved, torch.tensor([-2.8, 0.0]).expand(2, 2), atol=0.05)


@pytest.mark.parametrize("config", [KERAS_AUGMENT, ELASTIC_ONLY, AugmentConfig(rotation=30, shear=20, zoom=0.3)])
def test_values_stay_in_the_input_range(config):
    normalised = (_digits(batch=32) - 0.1307) / 0.3081  # MNIST mean/std: background is negative
    out = augment_batch(normalised, config, torch.Generator().manual_seed(3))
    assert out.min() >= normalised.min() - 1e-5 and out.max() <= normalised.max() + 1e-5
    corner = out[:, :, 0, 0]  # the border fill repeats the background, not zero
    assert torch.allclose(corner, normalised[:, :, 0, 0])


def test_elastic_changes_images_but_keeps_their_mass():
    images = _digits(batch=256)
    out = augment_batch(images, ELASTIC_ONLY, torch.Generator().manual_seed(5))
    change = (out - images).abs().sum(dim=(1, 2, 3)) / images.sum(dim=(1, 2, 3))
    assert (change > 0.05).all()
    # Simard's alpha=34, sigma=4 stretches some strokes and squeezes others (single images gain or
    # lose up to ~50% of their ink), but on average the field neither adds nor removes ink.
    mass_ratio = out.sum(dim=(1, 2, 3)) / images.sum(dim=(1, 2, 3))
    assert abs(mass_ratio.mean() - 1) < 0.05
    assert (mass_ratio - 1).abs().median() < 0.25


def test_p_leaves_the_rest_untouched():
    images = _digits(batch=64)
    out = augment_batch(images, dataclasses.replace(KERAS_AUGMENT, p=0.5), torch.Generator().manual_seed(0))
    same = (out == images).flatten(1).all(dim=1)
    assert 10 < same.sum() < 54


def test_the_keras_recipe_augments_as_seed_002():
    recipe = get_recipe("keras-kaggle")
    config = AugmentConfig(**recipe.args.augment_args)
    assert recipe.args.augment
    assert (config.rotation, config.zoom, config.shift, config.shear, config.elastic_alpha) == (10, 0.1, 0.1, 0, 0)


@pytest.mark.parametrize("bad", [{"rotation": -1.0}, {"elastic_sigma": 0.0}, {"p": 1.5}])
def test_bad_config_is_rejected(bad):
    with pytest.raises(ValueError):
        AugmentConfig(**bad)
