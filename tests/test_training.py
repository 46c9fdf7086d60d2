import io
import re

import keras
import pytest

from autoencoder_lib import models, training


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


def test_early_stopping_restores_and_stops(mnist_small):
    (x_train, _), _ = mnist_small
    model = _compiled()
    model.optimizer.learning_rate.assign(0.0)  # nothing improves: stop after patience
    history = training.fit(model, x_train, epochs=20, patience=2, verbose=False)
    assert len(history.history["loss"]) == 3


def test_targets_can_differ_from_inputs(mnist_small):
    (x_train, _), _ = mnist_small
    history = training.fit(_compiled(), x_train, 1 - x_train, epochs=1, verbose=False)
    assert "loss" in history.history
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


def test_device_report_is_one_informative_line():
    report = training.device_report()
    assert "\n" not in report
    assert re.search(r"Keras 3\.\d+", report)
    assert f"backend {keras.backend.backend()}" in report
    assert re.search(r"device (CPU|GPU|TPU)", report)


def test_cpu_settings():
    settings = training.settings_for_device(training.DeviceInfo("CPU", "test", 1))
    assert settings.batch_size == 128 and "CPU" in settings.reason


def test_progress_bar_format():
    stream = io.StringIO()
    bar = training.EpochProgress(epochs=4, width=8, stream=stream)
    bar.on_train_begin()
    bar.on_epoch_end(1, {"loss": 0.5})
    assert stream.getvalue().startswith("\rEpoch 2/4 [####....] loss 0.5")
