import warnings

import numpy as np
import pytest

from autoencoder_lib import colour


def test_round_trip_on_real_colour_images(cifar_small):
    x = cifar_small[:16]
    lightness, chroma = colour.split_lab(x)
    assert lightness.shape == (16, 32, 32, 1) and chroma.shape == (16, 32, 32, 2)
    assert lightness.dtype == chroma.dtype == np.float32
    assert 0 <= lightness.min() and lightness.max() <= 1
    assert np.abs(chroma).max() <= 1
    np.testing.assert_allclose(colour.join_lab(lightness, chroma), x, atol=1e-4)


def test_grey_has_no_chroma_and_red_has_the_textbook_values():
    grey = np.full((1, 2, 2, 3), 0.5)
    _, chroma = colour.split_lab(grey)
    np.testing.assert_allclose(chroma, 0, atol=1e-4)
    red = np.zeros((1, 1, 1, 3))
    red[..., 0] = 1
    lightness, chroma = colour.split_lab(red)
    # CIE Lab of sRGB red (D65): L 53.24, a 80.09, b 67.20.
    assert lightness[0, 0, 0, 0] * 100 == pytest.approx(53.24, abs=0.01)
    np.testing.assert_allclose(chroma[0, 0, 0] * 128, [80.09, 67.20], atol=0.01)


def test_out_of_gamut_chroma_is_clipped_quietly():
    lightness = np.full((1, 4, 4, 1), 0.05)
    chroma = np.ones((1, 4, 4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = colour.join_lab(lightness, chroma)
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"x must be shaped \(N, height, width, 3\)"):
        colour.split_lab(np.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match="same images"):
        colour.join_lab(np.zeros((2, 8, 8, 1)), np.zeros((2, 4, 4, 2)))
