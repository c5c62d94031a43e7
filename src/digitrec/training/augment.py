"""Batch augmentation on the training device: random affine warps and elastic distortion, one resample."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms; each image draws its own values from them."""

    rotation: float = 10.0  # degrees; angle ~ U(-rotation, rotation)
    zoom: float = 0.1  # fraction; scale ~ U(1 - zoom, 1 + zoom), drawn separately for x and y as Keras does
    shift: float = 0.1  # fraction of width (height); shift ~ U(-shift, shift) * width (height)
    shear: float = 0.0  # degrees; shear angle ~ U(-shear, shear), Keras' convention
    elastic_alpha: float = 0.0  # pixels; scale of the smoothed displacement field (Simard et al. 2003: 34)
    elastic_sigma: float = 4.0  # pixels; std of the gaussian that smooths the field (Simard et al.: 4)
    p: float = 1.0  # probability that an image is augmented at all; the rest pass through untouched

    def __post_init__(self) -> None:
        ranges = {"rotation": self.rotation, "zoom": self.zoom, "shift": self.shift, "shear": self.shear,
                  "elastic_alpha": self.elastic_alpha}
        negative = [name for name, value in ranges.items() if value < 0]
        if negative:
            raise ValueError(f"augmentation ranges must be >= 0: {', '.join(negative)}")
        if self.elastic_sigma <= 0 or not 0 <= self.p <= 1:
            raise ValueError("elastic_sigma must be > 0 pixels and p a probability in [0, 1]")

    @property
    def is_identity(self) -> bool:
        """True when no setting can change an image."""
        no_affine = self.rotation == 0 and self.zoom == 0 and self.shift == 0 and self.shear == 0
        return self.p <= 0 or (no_affine and self.elastic_alpha == 0)


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """U(0, 1) drawn on the generator's device (so a CPU generator also drives CUDA runs), then moved."""
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def affine_matrices(
    batch: int,
    config: AugmentConfig,
    generator: torch.Generator | None = None,
    height: int = 28,
    width: int = 28,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Random (B, 2, 3) float32 matrices for `F.affine_grid`: output coords -> input coords, normalised.

    Built as Keras builds them, in centred pixel coordinates: rotation @ shift @ shear @ zoom.
    """
    device = torch.device(device)
    u = _rand((batch, 6), generator, device) * 2 - 1  # (B, 6) in U(-1, 1)
    angle = torch.deg2rad(u[:, 0] * config.rotation)
    zoom_x, zoom_y = 1 + u[:, 1] * config.zoom, 1 + u[:, 2] * config.zoom
    shear = torch.deg2rad(u[:, 3] * config.shear)
    shift = torch.stack([u[:, 4] * config.shift * width, u[:, 5] * config.shift * height], dim=1)  # (B, 2) px
    cos, sin, zero, one = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
    rotate = torch.stack([cos, -sin, sin, cos], dim=1).view(batch, 2, 2)
    shear_matrix = torch.stack([one, -shear.sin(), zero, shear.cos()], dim=1).view(batch, 2, 2)
    scale = torch.stack([zoom_x, zero, zero, zoom_y], dim=1).view(batch, 2, 2)
    linear = rotate @ shear_matrix @ scale  # (B, 2, 2) in pixels
    offset = (rotate @ shift.unsqueeze(2)).squeeze(2)  # (B, 2) in pixels
    # Normalised coordinates span [-1, 1] across each axis: x_n = x_px * 2 / width, y_n = y_px * 2 / height.
    to_norm = torch.tensor([2.0 / width, 2.0 / height], device=device)
    linear = linear * to_norm.view(1, 2, 1) / to_norm.view(1, 1, 2)  # D @ L @ D^-1
    return torch.cat([linear, (offset * to_norm).unsqueeze(2)], dim=2)


def _blur_matrix(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    """(size, size) matrix M such that M @ x blurs x along its first axis by a gaussian of std sigma.

    Taps that fall outside the image are mirrored back in (torch's 'reflect' padding), so M @ x @ M.T
    is the separable 2-D blur as two small matmuls: ~4x faster on CPU than conv2d with a 25-tap kernel.
    """
    radius = math.ceil(3 * sigma)  # 3 sigma keeps 99.7% of the gaussian's mass
    taps = torch.arange(-radius, radius + 1, device=device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    rows = torch.arange(size, device=device).view(-1, 1).expand(-1, taps.numel())
    period = max(1, 2 * (size - 1))  # mirror without repeating the edge pixel: ... c b | a b c ...
    cols = (rows + taps) % period
    cols = torch.where(cols >= size, period - cols, cols)
    matrix = torch.zeros(size, size, device=device)
    return matrix.index_put_((rows, cols), kernel.expand(size, -1), accumulate=True)


def elastic_field(
    batch: int,
    height: int,
    width: int,
    alpha: float,
    sigma: float,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Simard et al. (2003) displacements as a (B, H, W, 2) float32 grid offset in normalised units.

    Each pixel's (dx, dy) ~ U(-1, 1), smoothed by a gaussian of std `sigma` pixels, times `alpha` pixels.
    """
    device = torch.device(device)
    noise = _rand((batch, 2, height, width), generator, device) * 2 - 1
    field = _blur_matrix(height, sigma, device) @ noise @ _blur_matrix(width, sigma, device).T * alpha  # px
    to_norm = torch.tensor([2.0 / width, 2.0 / height], device=device)
    return field.permute(0, 2, 3, 1) * to_norm  # (B, H, W, 2), (x, y) order as grid_sample wants


def warp(images: torch.Tensor, theta: torch.Tensor, field: torch.Tensor | None = None) -> torch.Tensor:
    """Resample (B, C, H, W) images once through affine `theta` (B, 2, 3), after displacements `field`.

    An output pixel at p reads the input at theta @ (p + field(p)), so the elastic field acts in the
    output frame and both transforms cost a single bilinear resample.
    """
    theta = theta.to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
    if field is not None:
        grid = grid + torch.einsum("bij,bhwj->bhwi", theta[:, :, :2], field.to(images.dtype))
    # Bilinear weights are convex, so outputs stay inside the input's range: no clamp needed.
    # 'border' repeats edge pixels (Keras' fill_mode='nearest'), right for raw and normalised images.
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment_batch(
    images: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Randomly warp a (B, C, H, W) float batch on its own device; same shape and dtype out.

    Deterministic for a given generator state; a CPU generator also drives images on CUDA.
    """
    if config.is_identity:
        return images
    batch, _, height, width = images.shape
    theta = affine_matrices(batch, config, generator, height, width, images.device)
    field = None
    if config.elastic_alpha != 0:
        field = elastic_field(
            batch, height, width, config.elastic_alpha, config.elastic_sigma, generator, images.device
        )
    warped = warp(images, theta, field)
    if config.p >= 1:
        return warped
    keep = _rand((batch,), generator, images.device) >= config.p  # (B,) images left as they were
    return torch.where(keep.view(batch, 1, 1, 1), images, warped)
