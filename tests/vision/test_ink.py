"""vision.ink: the shortcuts give what the plain operations give; Levels reproduce the ink."""

from __future__ import annotations

import numpy as np
import pytest
from drawing import page, seven
from PIL import Image
from scipy import ndimage as ndi

from digitrec.vision.ink import _dilate_labels, _fit_background, extract_ink


@pytest.mark.parametrize("grow", [1, 2, 3])
def test_label_dilation_near_the_strokes_is_the_whole_image_dilation(grow):
    rng = np.random.default_rng(grow)
    for _ in range(20):
        labels = np.zeros(tuple(rng.integers(5, 60, size=2)), np.int32)
        for label in range(1, 4):  # small blobs anywhere, at the edges too
            y, x = rng.integers(0, labels.shape[0]), rng.integers(0, labels.shape[1])
            labels[y : y + rng.integers(1, 6), x : x + rng.integers(1, 6)] = label
        expected = ndi.grey_dilation(labels, size=(2 * grow + 1, 2 * grow + 1))
        np.testing.assert_array_equal(_dilate_labels(labels, grow), expected)


def test_strokes_are_labelled_in_reading_order_with_their_faint_parts():
    image = page([("1", (20, 20, 40, 180)), ("0", (80, 40, 180, 160))], ink=0, paper=230)
    ink = extract_ink(np.asarray(image, np.float32) / 255)
    assert len(ink.areas) == 2 and ink.labels.max() == 2
    relabelled, count = ndi.label(ink.labels > 0, np.ones((3, 3), bool))
    assert count == 2 and np.array_equal(relabelled, ink.labels)  # what labelling again would give


@pytest.mark.parametrize("framed", [False, True])
def test_levels_turn_the_grey_levels_into_the_same_ink(framed):
    grey = np.asarray(seven(), np.float32) / 255 * 0.7 + 0.2
    if framed:  # a tight crop: read inside a frame, the levels cut back to the image
        ys, xs = np.nonzero(grey < 0.5)
        grey = np.ascontiguousarray(grey[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    ink = extract_ink(grey, blur=0.0)
    levels = ink.levels
    assert levels.dark and levels.paper.shape == grey.shape
    again = levels.normalise(levels.measure(grey, levels.paper)) * (ink.labels > 0)
    np.testing.assert_allclose(again, ink.ink, atol=1e-6)
    light = extract_ink(1.0 - grey, blur=0.0)
    assert not light.levels.dark
    np.testing.assert_allclose(light.levels.normalise(light.levels.measure(1.0 - grey, light.levels.paper))
                               * (light.labels > 0), light.ink, atol=1e-6)


def test_flat_paper_needs_no_fit_and_lighting_gets_one():
    drawing = np.asarray(page([("7", (60, 30, 150, 170))]), np.float32) / 255
    np.testing.assert_array_equal(_fit_background(drawing), np.ones_like(drawing))
    ys, xs = np.mgrid[0:200, 0:200] / 200
    lit = (drawing * 0.8 + 0.1) * (1.1 - 0.6 * xs) + np.random.default_rng(0).normal(0, 0.01, xs.shape)
    paper = _fit_background(lit.astype(np.float32))
    plain = drawing > 0.5
    assert np.abs(paper - lit)[plain].mean() < 0.02 and paper[:, 0].mean() > paper[:, -1].mean() + 0.3


def test_an_image_file_gives_the_same_ink_as_its_array(tmp_path):
    Image.fromarray(np.asarray(seven())).save(tmp_path / "seven.png")
    from digitrec.vision import load_grey

    a = extract_ink(load_grey(tmp_path / "seven.png")[0])
    b = extract_ink(np.asarray(seven(), np.float32) / 255)
    np.testing.assert_allclose(a.ink, b.ink, atol=1e-6)
