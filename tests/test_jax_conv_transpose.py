"""The JAX backend's faster transposed convolution computes what Keras' own does.

On the JAX backend (tests/test_backends.py runs this file there) it is compared with
Keras' function over windows, strides, paddings and 1-3 spatial dimensions, forward and
gradients, and through a Conv2DTranspose layer; on the others it must change nothing.
"""

import itertools

import keras
import numpy as np
import pytest

from autoencoder_lib import jax_conv_transpose

ON_JAX = keras.backend.backend() == "jax"


@pytest.mark.skipif(ON_JAX, reason="the other backends' case")
def test_other_backends_are_left_alone():
    before = keras.ops.conv_transpose(np.ones((1, 3, 3, 2)), np.ones((3, 3, 4, 2)), 2)
    assert jax_conv_transpose.install() is False
    after = keras.ops.conv_transpose(np.ones((1, 3, 3, 2)), np.ones((3, 3, 4, 2)), 2)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after)
    )


def _keras_and_fast(monkeypatch):
    from keras.src.backend.jax import nn as jax_nn

    original = getattr(jax_nn.conv_transpose, "original", jax_nn.conv_transpose)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(jax_nn, "conv_transpose", counted)
    assert jax_conv_transpose.install() is True
    assert jax_conv_transpose.install() is True  # a second call changes nothing
    assert jax_nn.conv_transpose.original is counted
    return original, jax_nn.conv_transpose, calls


@pytest.mark.skipif(not ON_JAX, reason="runs on the JAX backend (test_backends)")
def test_same_outputs_and_gradients_as_keras(monkeypatch):
    import jax
    import jax.numpy as jnp

    keras_own, fast, calls = _keras_and_fast(monkeypatch)
    rng = np.random.default_rng(0)
    # Keras refuses an output padding of the stride or more.
    cases = [
        case
        for case in itertools.product(
            (1, 2, 3), (1, 3, 4), (1, 2, 3), ("same", "valid"), (None, 0, 1)
        )
        if case[4] is None or case[4] < case[2]
    ]
    checked = 0
    for spatial, window, stride, padding, extra in cases:
        x = rng.normal(size=(2, *(5, 6, 4)[:spatial], 3)).astype("float32")
        w = rng.normal(size=(*(window,) * spatial, 4, 3)).astype("float32")
        args = (stride, padding, extra)
        expected, got = keras_own(x, w, *args), fast(x, w, *args)
        assert got.shape == expected.shape, (spatial, window, *args)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

        def loss(f, args=args):
            return lambda images, k: jnp.sum(jnp.sin(f(images, k, *args)))

        own = jax.grad(loss(keras_own), (0, 1))(x, w)
        for want, have in zip(own, jax.grad(loss(fast), (0, 1))(x, w), strict=True):
            np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-4)
        checked += 1
    assert checked == len(cases) == 144 and calls == []


@pytest.mark.skipif(not ON_JAX, reason="runs on the JAX backend (test_backends)")
def test_a_layer_uses_it_and_other_cases_go_to_keras(monkeypatch):
    keras_own, _, calls = _keras_and_fast(monkeypatch)
    layer = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same")
    x = np.random.default_rng(1).random((2, 7, 7, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (2, 14, 14, 8) and calls == []
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    expected = keras_own(x, kernel, 2, "same") + keras.ops.convert_to_numpy(layer.bias)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    # Channels first and dilated windows: Keras' own function, unchanged.
    keras.ops.conv_transpose(
        np.ones((1, 2, 3, 3)), np.ones((3, 3, 4, 2)), 2, data_format="channels_first"
    )
    keras.ops.conv_transpose(
        np.ones((1, 3, 3, 2)), np.ones((3, 3, 4, 2)), 1, dilation_rate=2
    )
    assert len(calls) == 2
