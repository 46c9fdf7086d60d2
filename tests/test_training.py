import io
import math
import re
import sys
import types

import keras
import numpy as np
import pytest

from autoencoder_lib import callbacks, device, models, training, vae


def _compiled(latent_dim=8):
    model = models.dense_autoencoder(latent_dim=latent_dim, hidden_units=(64,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def test_fit_returns_history_with_validation(mnist_small, capsys):
    (x_train, _), _ = mnist_small
    keras.utils.set_random_seed(0)
    history = training.fit(_compiled(), x_train, epochs=3, batch_size=64)
    assert set(history.history) >= {"loss", "val_loss"}
    assert len(history.history["loss"]) == 3
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    out = capsys.readouterr().out
    # One progress line redrawn in place, not one line per epoch.
    assert out.count("\n") == 1 and out.count("\r") == 3
    assert "Epoch 3/3" in out and "val_loss" in out


def test_early_stopping_stops_and_restores_the_best_weights(mnist_small):
    (x_train, _), (x_test, _) = mnist_small
    keras.utils.set_random_seed(0)
    model = _compiled()
    # The model learns to copy; the validation targets are the inverted images, so the
    # validation loss rises once copying is learned, and the best epoch is an early one.
    x_val, y_val = x_test[:128], 1 - x_test[:128]
    history = training.fit(
        model, x_train, epochs=30, patience=2, batch_size=64,
        validation_data=(x_val, y_val), verbose=False,
    )  # fmt: skip
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 3 < 30, f"stops two epochs after the best: {val}"
    assert val[-1] > 1.01 * val[best], val
    restored = float(model.evaluate(x_val, y_val, verbose=0, batch_size=64))
    assert np.isclose(restored, val[best], rtol=1e-3), (restored, val)
    assert not np.isclose(restored, val[-1], rtol=1e-3), "the last weights were kept"


def test_targets_can_differ_from_inputs(mnist_small):
    (x_train, _), _ = mnist_small
    keras.utils.set_random_seed(0)
    model = _compiled()
    training.fit(model, x_train, 1 - x_train, epochs=5, batch_size=64, verbose=False)
    predicted = np.asarray(model.predict(x_train[:128], verbose=0))
    to_target = float(np.mean((predicted - (1 - x_train[:128])) ** 2))
    to_input = float(np.mean((predicted - x_train[:128]) ** 2))
    assert to_target < 0.5 * to_input, "the model learned its input, not the targets"
    with pytest.raises(ValueError, match="x has 512 examples but y has 10"):
        training.fit(_compiled(), x_train, x_train[:10], epochs=1)


def test_uncompiled_model_is_a_clear_error(mnist_small):
    (x_train, _), _ = mnist_small
    with pytest.raises(ValueError, match="not compiled. Call model.compile"):
        training.fit(models.dense_autoencoder(), x_train, epochs=1)


@pytest.mark.parametrize("epochs", [0, 2.0, True])
def test_bad_epochs(epochs, mnist_small):
    (x_train, _), _ = mnist_small
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        training.fit(_compiled(), x_train, epochs=epochs)


def test_bad_validation_split(mnist_small):
    (x_train, _), _ = mnist_small
    with pytest.raises(ValueError, match="validation_split must be between 0 and 1"):
        training.fit(_compiled(), x_train, epochs=1, validation_split=1.5)


def test_device_report_says_what_was_chosen_and_why():
    first, *reasons = training.device_report().splitlines()
    assert re.search(r"Keras 3\.\d+", first)
    assert f"backend {keras.backend.backend()}" in first
    assert re.search(r"device (CPU|GPU|TPU)", first)
    text = "\n".join(reasons)
    for choice in ("batch size", "steps per execution", "float32"):
        assert choice in text, text


CPU = training.DeviceInfo("CPU", "test", 1)
T4 = training.DeviceInfo("GPU", "Tesla T4", 1, (7, 5))
H100 = training.DeviceInfo("GPU", "NVIDIA H100", 1, (9, 0))


def test_cpu_settings():
    settings = training.settings_for_device(CPU, "tensorflow")
    assert settings.batch_size == 128
    assert settings.steps_per_execution == 1
    assert settings.mixed_precision is None and not settings.data_parallel
    assert settings.learning_rate_scale == 1.0
    assert "CPU" in settings.reason


@pytest.mark.parametrize(
    "device, backend, policy, steps",
    [
        (T4, "tensorflow", "mixed_float16", 16),
        (H100, "jax", "mixed_bfloat16", 16),
        (H100, "torch", "mixed_bfloat16", 1),  # no steps_per_execution on PyTorch
        (training.DeviceInfo("TPU", "TPU", 8), "tensorflow", "mixed_bfloat16", 16),
        (training.DeviceInfo("GPU", "old", 1, (6, 1)), "jax", None, 16),
    ],
)
def test_accelerator_settings(device, backend, policy, steps):
    settings = training.settings_for_device(device, backend)
    # float32 unless asked: students' own output layers would return low precision.
    assert settings.mixed_precision is None
    if policy:
        assert policy in settings.reason and "mixed_precision='auto'" in settings.reason
    auto = training.settings_for_device(device, backend, mixed_precision="auto")
    assert auto.mixed_precision == policy
    assert settings.steps_per_execution == steps
    assert settings.batch_size == 1024
    # Eight times fewer steps per epoch: the linear rule, after one warm-up epoch.
    assert settings.learning_rate_scale == 8
    assert settings.warm_up_epochs == 1
    assert len(settings.reasons) >= 4


def test_capability_from_gpu_names():
    assert device.capability_from_name("Tesla T4") == (7, 5)
    assert device.capability_from_name("NVIDIA A100-SXM4-40GB") == (8, 0)
    assert device.capability_from_name("NVIDIA H200") == (9, 0)
    assert device.capability_from_name("Some GPU") is None


def test_several_gpus_use_an_existing_data_parallel_engine():
    two = training.DeviceInfo("GPU", "NVIDIA A100", 2, (8, 0))
    assert training.settings_for_device(two, "tensorflow").data_parallel
    assert training.settings_for_device(two, "jax").data_parallel
    torch_settings = training.settings_for_device(two, "torch")
    assert not torch_settings.data_parallel
    assert "PyTorch" in torch_settings.reason


def test_every_choice_can_be_overridden():
    settings = training.settings_for_device(
        H100,
        "jax",
        batch_size=256,
        steps_per_execution=2,
        mixed_precision=None,
        data_parallel=False,
    )
    assert (settings.batch_size, settings.steps_per_execution) == (256, 2)
    assert settings.mixed_precision is None
    # A batch size the student chose keeps the student's learning rate.
    assert settings.learning_rate_scale == 1.0
    assert settings.reason.count("your choice") == 4


def test_colab_without_gpu_says_how_to_switch(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(device, "detect_device", lambda: CPU)
    report = training.device_report()
    assert training.COLAB_NO_GPU in report
    assert "Change runtime type" in report
    monkeypatch.delitem(sys.modules, "google.colab")
    assert training.COLAB_NO_GPU not in training.device_report()


def test_library_models_keep_float32_outputs_under_mixed_precision():
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        dense = models.dense_autoencoder(latent_dim=4, hidden_units=(16,))
        conv = models.conv_denoiser(filters=(4, 4))
        model = vae.build(latent_dim=2, hidden_units=(16,))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = np.zeros((2, 28, 28, 1), "float32")
    assert dense.encoder.get_layer("enc_dense_0").compute_dtype == "bfloat16"
    for m in (dense, conv, model):
        assert keras.backend.standardize_dtype(m(x).dtype) == "float32", m.name
    z_mean, z_log_var = model.encoder(x)
    assert keras.backend.standardize_dtype(z_log_var.dtype) == "float32"


def test_steps_per_execution_is_applied_unless_the_model_chose(mnist_small):
    (x_train, _), _ = mnist_small
    model = _compiled()
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="needs the TensorFlow or JAX backend"):
            training.fit(model, x_train, epochs=1, steps_per_execution=4)
        return
    training.fit(model, x_train, epochs=1, steps_per_execution=4, verbose=False)
    assert model.steps_per_execution == 4
    own = models.dense_autoencoder(latent_dim=8, hidden_units=(64,))
    own.compile(optimizer="adam", loss="mse", steps_per_execution=3)
    training.fit(own, x_train, epochs=1, verbose=False)
    assert own.steps_per_execution == 3


class _OutOfMemoryAbove(keras.callbacks.Callback):
    """Fails as an accelerator out of memory would, while the batch is larger than
    ``limit``; records the batch size of every try (from the steps per epoch)."""

    def __init__(self, n, limit, message):
        super().__init__()
        self.n, self.limit, self.message, self.tried = n, limit, message, []

    def on_train_begin(self, logs=None):
        batch = math.ceil(self.n / self.params["steps"])
        self.tried.append(batch)
        if batch > self.limit:
            raise RuntimeError(self.message)


def test_out_of_memory_halves_the_batch_and_says_so(mnist_small, capsys):
    (x_train, _), _ = mnist_small
    x_train = x_train[:320]  # 288 to train on: batches of 128, 64 and 32 all differ
    oom = _OutOfMemoryAbove(
        288, 32, "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB"
    )
    history = training.fit(
        _compiled(), x_train, epochs=1, batch_size=128, callbacks=[oom]
    )
    assert oom.tried == [96, 58, 32]  # 288 images in ceil(288 / b) steps
    assert "loss" in history.history
    out = capsys.readouterr().out
    assert "Out of memory" in out and "batch size 64" in out and "batch size 32" in out


def test_out_of_memory_halves_the_learning_rate_multiplier_too(mnist_small, capsys):
    (x_train, _), _ = mnist_small
    x_train = x_train[:256]
    chosen = training.Settings(
        batch_size=128, learning_rate_scale=8.0, warm_up_epochs=1
    )
    oom = _OutOfMemoryAbove(230, 32, "CUDA out of memory. Tried to allocate 2.00 GiB")
    model, log = _compiled(), _LearningRateLog()
    training.fit(
        model, x_train, epochs=2, verbose=False, callbacks=[oom, log], settings=chosen
    )
    # Batch 128 -> 32: a quarter of the batch, a quarter of the multiplier.
    assert log.rates == [pytest.approx(1e-3), pytest.approx(2e-3)]
    assert _rate(model) == pytest.approx(1e-3)
    assert "batch size 32" in capsys.readouterr().out


class _FailsAtStart(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def on_train_begin(self, logs=None):
        self.calls += 1
        raise ValueError("Incompatible shapes")


def test_other_errors_are_not_retried(mnist_small):
    (x_train, _), _ = mnist_small
    failing = _FailsAtStart()
    with pytest.raises(ValueError, match="Incompatible shapes"):
        training.fit(_compiled(), x_train, epochs=1, callbacks=[failing])
    assert failing.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("OOM when allocating tensor with shape[1024,28,28,32]"),
        type("ResourceExhaustedError", (Exception,), {})("no memory"),
    ],
)
def test_out_of_memory_is_recognised_on_every_backend(error):
    assert training.is_out_of_memory(error)
    assert not training.is_out_of_memory(ValueError("memory layout is wrong"))


class _LearningRateLog(keras.callbacks.Callback):
    def __init__(self, fail_at_epoch=None):
        super().__init__()
        self.rates, self.batch_rates, self.fail_at_epoch = [], [], fail_at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.append(
            float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        )
        if epoch == self.fail_at_epoch:
            raise KeyboardInterrupt  # the student stops the cell

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_rates.append(
            float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        )


def _rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_learning_rate_scaled_while_training_then_restored(mnist_small):
    (x_train, _), _ = mnist_small
    scaled = training.Settings(batch_size=256, learning_rate_scale=2.0)
    model, log = _compiled(), _LearningRateLog()
    training.fit(
        model, x_train, epochs=1, verbose=False, callbacks=[log], settings=scaled
    )
    assert log.rates == [pytest.approx(2e-3)]
    assert _rate(model) == pytest.approx(1e-3)
    # The student's own batch size: their learning rate, untouched.
    log = _LearningRateLog()
    training.fit(
        model, x_train, epochs=1, batch_size=256, verbose=False, callbacks=[log],
        settings=scaled,
    )  # fmt: skip
    assert log.rates == [pytest.approx(1e-3)]


def test_learning_rate_warm_up_then_scaled_and_restored_on_interrupt(mnist_small):
    (x_train, _), _ = mnist_small
    x_train = x_train[:512]
    warm = training.Settings(batch_size=128, learning_rate_scale=8.0, warm_up_epochs=1)
    model, log = _compiled(), _LearningRateLog()
    training.fit(
        model, x_train, epochs=3, verbose=False, callbacks=[log], settings=warm
    )
    assert log.rates == [pytest.approx(r) for r in (1e-3, 8e-3, 8e-3)]
    # 460 training images (512 less the validation tenth): 4 steps an epoch. The
    # first epoch ramps linearly from the rate towards 8 times it; then it stays.
    ramp = [1e-3 * (1 + 7 * step / 4) for step in range(4)]
    assert log.batch_rates == [pytest.approx(r) for r in ramp + [8e-3] * 8]
    assert _rate(model) == pytest.approx(1e-3)
    log = _LearningRateLog(fail_at_epoch=2)
    with pytest.raises(KeyboardInterrupt):
        training.fit(
            model, x_train, epochs=3, verbose=False, callbacks=[log], settings=warm
        )
    assert _rate(model) == pytest.approx(1e-3)


def test_warm_up_reaches_the_compiled_training_step(mnist_small):
    # Reading the variable back is not enough: the JAX backend trains on a copy of the
    # variables, and a rate set on the variable alone would never be used. Training
    # with the ramp must therefore move the weights differently than without it.
    (x_train, _), _ = mnist_small
    x_train = x_train[:512]
    weights = {}
    for scale in (1.0, 8.0):
        chosen = training.Settings(
            batch_size=128, learning_rate_scale=scale, warm_up_epochs=1
        )
        keras.utils.set_random_seed(0)
        model = _compiled()
        training.fit(
            model, x_train, epochs=1, verbose=False, patience=None, settings=chosen
        )
        weights[scale] = np.concatenate(
            [np.ravel(keras.ops.convert_to_numpy(w)) for w in model.weights]
        )
    assert np.abs(weights[8.0] - weights[1.0]).max() > 1e-4


def test_multiplier_halves_when_the_validation_loss_stalls():
    model = _compiled()
    scale = callbacks.LearningRateScale(1e-3, 8.0, warm_up_epochs=0, steps_per_epoch=4)
    scale.set_model(model)
    scale.on_train_begin()
    rates = []
    # Better, better, worse, worse (halve), better, worse, worse (halve), ...
    for epoch, loss in enumerate([0.5, 0.4, 0.45, 0.41, 0.3, 0.31, 0.32, 0.33, 0.34]):
        scale.on_epoch_begin(epoch)
        rates.append(_rate(model) / 1e-3)
        scale.on_epoch_end(epoch, {"loss": 0.1, "val_loss": loss})
    assert rates == [pytest.approx(r) for r in (8, 8, 8, 8, 4, 4, 4, 2, 2)]
    # Never below the student's own rate; no validation loss, no change.
    for epoch in range(9, 15):
        scale.on_epoch_end(epoch, {"val_loss": 1.0})
    scale.on_epoch_end(15, {"loss": 0.1})
    scale.on_epoch_begin(16)
    assert _rate(model) == pytest.approx(1e-3)


def test_default_accelerator_settings_follow_the_linear_rule():
    gpu = training.DeviceInfo("GPU", "Tesla T4", 1, (7, 5))
    settings = training.settings_for_device(gpu, "tensorflow")
    assert (settings.learning_rate_scale, settings.warm_up_epochs) == (8, 1)
    assert "reached by a ramp from your rate over the first epoch" in settings.reason
    chosen = training.settings_for_device(
        gpu, "tensorflow", learning_rate_scale=2.0, warm_up_epochs=0
    )
    assert (chosen.learning_rate_scale, chosen.warm_up_epochs) == (2.0, 0)
    assert "learning rate x2 during fit: your choice" in chosen.reason


def test_validation_split_takes_the_last_examples_as_keras_does():
    x = np.arange(10.0)
    (x_train, _), (x_val, _) = training._split(x, x, 0.2, None)
    assert list(x_train) == list(range(8)) and list(x_val) == [8.0, 9.0]


def test_progress_bar_format():
    stream = io.StringIO()
    bar = training.EpochProgress(epochs=4, width=8, stream=stream)
    bar.on_train_begin()
    bar.on_epoch_end(1, {"loss": 0.5})
    assert stream.getvalue().startswith("\rEpoch 2/4 [####....] loss 0.5")
