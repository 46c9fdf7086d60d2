import numpy as np
import pytest
from skimage.metrics import structural_similarity

from autoencoder_lib import metrics


def test_mse_known_value():
    a = np.zeros((2, 4, 4, 1))
    b = np.zeros((2, 4, 4, 1))
    b[1, 0, 0, 0] = 1.0  # one pixel of 16 off by 1 in the second image
    np.testing.assert_allclose(metrics.mse_per_image(a, b), [0.0, 1 / 16])
    assert metrics.mse(a, b) == pytest.approx(1 / 32)


def test_psnr_known_values():
    a = np.full((3, 8, 8, 1), 0.5)
    # A uniform error of 0.1 means MSE 0.01 and PSNR 10 log10(1 / 0.01) = 20 dB.
    assert metrics.psnr(a, a + 0.1) == pytest.approx(20.0)
    # With pixels in [0, 255] the same relative error gives the same PSNR.
    assert metrics.psnr(255 * a, 255 * (a + 0.1), data_range=255) == pytest.approx(20.0)
    # Halving the error gains 20 log10(2) = 6.02 dB.
    assert metrics.psnr(a, a + 0.05) - metrics.psnr(a, a + 0.1) == pytest.approx(
        6.0206, abs=1e-3
    )
    assert metrics.psnr_per_image(a, a)[0] == np.inf


def test_ssim_identical_is_one_and_noise_lowers_it(mnist_small):
    _, (x_test, _) = mnist_small
    assert metrics.ssim(x_test[:8], x_test[:8]) == pytest.approx(1.0)
    noisy = np.clip(
        x_test[:8] + np.random.default_rng(0).normal(0, 0.3, x_test[:8].shape), 0, 1
    )
    assert metrics.ssim(x_test[:8], noisy) < 0.6


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image(mnist_small, channels):
    _, (x_test, _) = mnist_small
    rng = np.random.default_rng(1)
    clean = np.repeat(x_test[:6], channels, axis=-1).astype(np.float64)
    noisy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1)
    ours = metrics.ssim_per_image(clean, noisy)
    reference = [
        structural_similarity(
            c,
            n,
            data_range=1.0,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for c, n in zip(clean, noisy, strict=True)
    ]
    np.testing.assert_allclose(ours, reference, rtol=1e-6)


def test_shape_mismatch_is_explained():
    with pytest.raises(
        ValueError, match=r"same shape, got \(2, 28, 28, 1\) and \(3, 28, 28, 1\)"
    ):
        metrics.mse(np.zeros((2, 28, 28, 1)), np.zeros((3, 28, 28, 1)))
    with pytest.raises(ValueError, match="channel axis"):
        metrics.psnr(np.zeros((2, 28, 28)), np.zeros((2, 28, 28)))


def test_accepts_backend_tensors():
    import keras

    a = keras.ops.zeros((2, 16, 16, 1))
    b = keras.ops.ones((2, 16, 16, 1))
    assert metrics.mse(a, b) == pytest.approx(1.0)
