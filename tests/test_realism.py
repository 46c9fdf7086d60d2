"""The digit critic of notebooks 07 and 08: it must not reward blur, as pixel MSE does."""

import numpy as np
import pytest
from scipy import ndimage

from autoencoder_lib import data, realism


@pytest.fixture(scope="module")
def critic_and_digits():
    (x_train, y_train), (x_test, y_test) = data.load_dataset("mnist")
    critic = realism.digit_critic(x_train[:6_000], y_train[:6_000], reference=2_000)
    return critic, x_test[:400], y_test[:400], x_train[:2_000]


def test_the_critic_can_tell_digits_apart(critic_and_digits):
    critic, x, y, _ = critic_and_digits
    assert critic.accuracy(x, y) > 0.9


def test_real_digits_score_about_one(critic_and_digits):
    critic, x, _, _ = critic_and_digits
    distance = critic.distance(x)
    assert distance.shape == (len(x),)
    assert 0.8 < np.median(distance) < 1.3


def test_blur_an_average_and_noise_score_worse_than_real_digits(critic_and_digits):
    critic, x, _, _ = critic_and_digits
    real = critic.distance(x).mean()
    blurred = ndimage.gaussian_filter(x, sigma=(0, 1.5, 1.5, 0))
    average = np.repeat(x.mean(axis=0, keepdims=True), 20, axis=0)
    noise = np.random.default_rng(0).random((50, 28, 28, 1)).astype("float32")
    assert critic.distance(blurred).mean() > real + 0.15
    assert critic.distance(average).mean() > real + 0.15
    assert critic.distance(noise).mean() > real + 0.3


def test_pixel_mse_to_the_closest_digit_does_reward_blur(critic_and_digits):
    # The reason for the critic: in pixels, blurred digits look closer to real ones.
    _, x, _, reference = critic_and_digits
    reference = data.flatten(reference).astype(np.float64)

    def mse_to_closest(images):
        flat = data.flatten(images).astype(np.float64)
        return (realism.nearest_distances(flat, reference) ** 2).mean() / flat.shape[1]

    blurred = ndimage.gaussian_filter(x, sigma=(0, 1.5, 1.5, 0))
    assert mse_to_closest(blurred) < mse_to_closest(x)


def test_nearest_distances_by_blocks_match_the_whole_matrix():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2_300, 5)), rng.normal(size=(700, 5))
    whole = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    assert np.allclose(realism.nearest_distances(a, b), whole.min(axis=1))
    own = np.linalg.norm(a[:, None, :] - a[None, :, :], axis=2)
    np.fill_diagonal(own, np.inf)
    assert np.allclose(realism.nearest_distances(a, a, skip_self=True), own.min(axis=1))


def test_distance_is_the_nearest_reference_in_features(critic_and_digits):
    critic, x, _, reference = critic_and_digits
    features = critic.features.predict(x[:5], verbose=0).astype(np.float64)
    expected = np.array(
        [np.linalg.norm(critic.reference - f, axis=1).min() for f in features]
    )
    assert np.allclose(critic.distance(x[:5]), expected / critic.typical, atol=1e-4)
    # A reference digit is at distance zero from itself.
    assert np.allclose(critic.distance(reference[:3]), 0, atol=1e-3)


def test_bad_input_says_what_to_fix(critic_and_digits):
    critic, x, y, _ = critic_and_digits
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        critic.distance(x[..., 0])
    with pytest.raises(ValueError, match="empty"):
        critic.distance(x[:0])
    with pytest.raises(ValueError, match="one label per image"):
        realism.digit_critic(x[:100], y[:50])
