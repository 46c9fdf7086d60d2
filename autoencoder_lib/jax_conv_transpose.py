"""A faster transposed convolution for Keras' JAX backend; nothing changes elsewhere.

Keras hands a transposed convolution to ``jax.lax.conv_transpose``: an ordinary
convolution of the input with zeros between its pixels (``lhs_dilation``). XLA takes a
slow path for that form, above all for its gradient (jax-ml/jax#23783): the course's
convolutional decoders trained several times slower on JAX than on TensorFlow or
PyTorch on the same CPU. Inserting the zeros first (``lax.pad`` with interior padding)
and then running a plain convolution computes the same function of the same kernel;
only the order of the float sums may differ. Equinox made the same change
(patrick-kidger/equinox#1259).

:func:`install` puts this version in place of Keras' own for the JAX backend, so every
``Conv2DTranspose`` (the course's and a student's) uses it; ``session.start()`` calls
it. Cases it does not cover (channels-first data, dilated kernels, more than three
spatial dimensions) still go to Keras.
"""

from __future__ import annotations


def _fast_conv_transpose(original, keras_padding):
    """``original`` is Keras' function, which the cases not covered go to;
    ``keras_padding`` is how Keras turns its padding arguments into JAX's."""
    import jax
    import jax.numpy as jnp
    from keras.src import backend

    def conv_transpose(
        inputs,
        kernel,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
    ):
        data_format = backend.standardize_data_format(data_format)
        dilations = (
            (dilation_rate,) if isinstance(dilation_rate, int) else tuple(dilation_rate)
        )
        inputs = jnp.asarray(inputs)
        kernel = jnp.asarray(kernel)
        spatial = kernel.ndim - 2
        if (
            data_format != "channels_last"
            or set(dilations) != {1}
            or spatial > 3
            # Keras' own check and message (input channels against the kernel).
            or kernel.shape[-1] != inputs.shape[-1]
        ):
            return original(
                inputs, kernel, strides, padding, output_padding, data_format,
                dilation_rate,
            )  # fmt: skip
        steps = (strides,) * spatial if isinstance(strides, int) else tuple(strides)
        edges = keras_padding(
            input_shape=inputs.shape,
            kernel_shape=kernel.shape,
            strides=strides,
            padding=padding,
            output_padding=output_padding,
            dilation_rate=dilation_rate,
        )
        # The zeros between pixels, then the edges (negative edges crop), exactly as
        # lax.conv_transpose pads after dilating.
        widened = jax.lax.pad(
            inputs,
            jnp.array(0, inputs.dtype),
            [(0, 0, 0)]
            + [(lo, hi, step - 1) for (lo, hi), step in zip(edges, steps, strict=True)]
            + [(0, 0, 0)],
        )
        # Keras stores the kernel as (*window, filters, input channels); a transposed
        # convolution is the plain convolution with that window flipped.
        flipped = jnp.flip(kernel, axis=tuple(range(spatial)))
        flipped = jnp.swapaxes(flipped, -1, -2)
        letters = "DHW"[-spatial:]
        numbers = jax.lax.conv_dimension_numbers(
            widened.shape,
            flipped.shape,
            (f"N{letters}C", f"{letters}IO", f"N{letters}C"),
        )
        return jax.lax.conv_general_dilated(
            widened,
            flipped,
            window_strides=(1,) * spatial,
            padding=[(0, 0)] * spatial,
            dimension_numbers=numbers,
        )

    conv_transpose.original = original
    return conv_transpose


def install() -> bool:
    """Use the faster transposed convolution on the JAX backend. Returns whether it is
    in use: not on other backends, nor where this Keras keeps its JAX functions
    elsewhere (then Keras' own runs, as before). Safe to call more than once."""
    import keras

    if keras.backend.backend() != "jax":
        return False
    try:
        from keras.src.backend.common import backend_utils
        from keras.src.backend.jax import nn as jax_nn

        keras_padding = backend_utils.compute_conv_transpose_padding_args_for_jax
        current = jax_nn.conv_transpose
    except (ImportError, AttributeError):
        return False
    if not hasattr(current, "original"):
        jax_nn.conv_transpose = _fast_conv_transpose(current, keras_padding)
    return True
