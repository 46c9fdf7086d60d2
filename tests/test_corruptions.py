import numpy as np
import pytest

from autoencoder_lib import corruptions

FUNCTIONS = {
    "gaussian_noise": lambda x, seed=None: corruptions.gaussian_noise(
        x, 0.4, seed=seed
    ),
    "salt_and_pepper": lambda x, seed=None: corruptions.salt_and_pepper(
        x, 0.2, seed=seed
    ),
    "mask": lambda x, seed=None: corruptions.mask(x, 0.3, seed=seed),
}


@pytest.fixture
def digits(mnist_small):
    _, (x_test, _) = mnist_small
    return x_test[:64]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_range_shape_dtype_and_input_untouched(name, digits):
    before = digits.copy()
    out = FUNCTIONS[name](digits, seed=0)
    assert out.shape == digits.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(digits, before)
    assert not np.array_equal(out, digits)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_reproducible_from_seed(name, digits):
    a, b, c = (FUNCTIONS[name](digits, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gaussian_noise_has_the_requested_std():
    grey = np.full((200, 28, 28, 1), 0.5, dtype=np.float32)
    # At 0.5 a std of 0.05 is almost never clipped: the added noise shows its std.
    noise = corruptions.gaussian_noise(grey, 0.05, seed=0) - grey
    assert noise.std() == pytest.approx(0.05, rel=0.02)
    assert abs(noise.mean()) < 1e-3


def test_gaussian_noise_is_clipped():
    black = np.zeros((50, 28, 28, 1), dtype=np.float32)
    out = corruptions.gaussian_noise(black, 0.4, seed=0)
    assert out.min() == 0.0 and (out == 0.0).mean() == pytest.approx(0.5, abs=0.02)


def test_salt_and_pepper_fraction():
    grey = np.full((100, 28, 28, 3), 0.5, dtype=np.float32)
    out = corruptions.salt_and_pepper(grey, 0.2, seed=0)
    changed = (out != 0.5).all(axis=-1)
    assert changed.mean() == pytest.approx(0.2, abs=0.01)
    assert (out[changed] == 1.0).mean() == pytest.approx(0.5, abs=0.02)
    # All channels of a hit pixel change together.
    assert ((out != 0.5).any(axis=-1) == changed).all()


def test_mask_fraction_and_fill():
    grey = np.full((100, 28, 28, 1), 0.5, dtype=np.float32)
    out = corruptions.mask(grey, 0.3, seed=0, fill=1.0)
    assert (out == 1.0).mean() == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: corruptions.gaussian_noise(x, -0.1), "std must be zero or positive"),
        (
            lambda x: corruptions.salt_and_pepper(x, 1.5),
            "fraction must be between 0 and 1",
        ),
        (lambda x: corruptions.mask(x, -0.2), "fraction must be between 0 and 1"),
        (lambda x: corruptions.gaussian_noise(x[..., 0], 0.1), "channel axis"),
    ],
)
def test_bad_arguments(call, message, digits):
    with pytest.raises(ValueError, match=message):
        call(digits)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda x: corruptions.gaussian_blur(x, 1.5),
        lambda x: corruptions.downscale(x, 2),
    ],
    ids=["gaussian_blur", "downscale"],
)
def test_deterministic_corruptions_keep_shape_range_and_input(corrupt, digits):
    before = digits.copy()
    out = corrupt(digits)
    assert out.shape == digits.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(digits, before)
    np.testing.assert_array_equal(out, corrupt(digits))
    # Both lose high frequencies: the image gets smoother, never sharper.
    gradient = lambda a: np.abs(np.diff(a, axis=2)).mean()  # noqa: E731
    assert gradient(out) < gradient(digits)


def test_blur_is_a_normalised_gaussian():
    point = np.zeros((1, 21, 21, 1), dtype=np.float32)
    point[0, 10, 10, 0] = 1.0
    blurred = corruptions.gaussian_blur(point, 2.0)[0, :, :, 0]
    assert blurred.sum() == pytest.approx(1.0, abs=1e-4)  # brightness kept
    row = blurred[10]
    # Gaussian profile: value at distance 2 (one sigma) is exp(-1/2) of the peak.
    assert row[12] / row[10] == pytest.approx(np.exp(-0.5), rel=0.02)
    np.testing.assert_array_equal(corruptions.gaussian_blur(point, 0), point)
    with pytest.raises(ValueError, match="sigma must be zero or positive"):
        corruptions.gaussian_blur(point, -1)


def test_downscale_matches_pillow_bicubic_and_checks_factor(digits):
    from PIL import Image

    out = corruptions.downscale(digits[:2], 2)
    plane = Image.fromarray(np.ascontiguousarray(digits[1, :, :, 0]))
    small = plane.resize((14, 14), Image.Resampling.BICUBIC)
    expected = np.clip(
        np.asarray(small.resize((28, 28), Image.Resampling.BICUBIC)), 0, 1
    )
    np.testing.assert_allclose(out[1, :, :, 0], expected, atol=1e-6)
    # Smooth images survive downscaling almost unchanged; digits lose their detail.
    ramp = np.tile(np.linspace(0.2, 0.8, 28, dtype=np.float32), (1, 28, 1))[..., None]
    assert np.abs(corruptions.downscale(ramp, 2) - ramp)[:, 3:-3, 3:-3].max() < 0.01
    assert np.abs(out - digits[:2]).mean() > 0.01
    colour = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    assert corruptions.downscale(colour, 4).shape == colour.shape
    with pytest.raises(ValueError, match="divisible by the factor"):
        corruptions.downscale(digits, 3)
    with pytest.raises(ValueError, match="positive integer"):
        corruptions.downscale(digits, 0)
