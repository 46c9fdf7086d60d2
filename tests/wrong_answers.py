"""Plausible wrong answers, one fake student each, that the autograder must catch.

For every assignment: student id -> the solution cells it replaces (grade_id -> code),
the test cells that must then score zero (``loses``) and those that must still get full
marks (``keeps``, proving the tests single out the mistake). Wrong answers in cells that
do not depend on each other share one student, to keep grading runs few.
"""

WRONG_ANSWERS = {
    "01_basic_autoencoder": {
        "relu_everywhere": {
            "why": "ReLU on the code layer; ReLU decoder output; errors summed, not averaged",
            "replace": {
                "encoder_solution": """
def build_encoder(latent_dim):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    code = keras.layers.Dense(latent_dim, activation="relu")(h)
    return keras.Model(inputs, code, name="encoder")
""",
                "decoder_solution": """
def build_decoder(latent_dim):
    codes = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(128, activation="relu")(codes)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(28 * 28, activation="relu")(h)
    return keras.Model(codes, keras.layers.Reshape((28, 28, 1))(h), name="decoder")
""",
                "error_solution": """
def reconstruction_error(x, x_hat):
    return np.sum((np.asarray(x) - np.asarray(x_hat)) ** 2, axis=(1, 2, 3))
""",
            },
            "loses": ["encoder_tests", "decoder_tests", "error_tests"],
            "keeps": [],
        },
        "off_by_one_and_linear": {
            "why": "code size off by one; linear decoder output; one error for the whole batch",
            "replace": {
                "encoder_solution": """
def build_encoder(latent_dim):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    code = keras.layers.Dense(latent_dim + 1)(h)
    return keras.Model(inputs, code, name="encoder")
""",
                "decoder_solution": """
def build_decoder(latent_dim):
    codes = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(128, activation="relu")(codes)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(28 * 28)(h)
    return keras.Model(codes, keras.layers.Reshape((28, 28, 1))(h), name="decoder")
""",
                "error_solution": """
def reconstruction_error(x, x_hat):
    return np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2)
""",
            },
            "loses": ["encoder_tests", "decoder_tests", "error_tests"],
            "keeps": [],
        },
        "softmax_and_rmse": {
            "why": "softmax over the pixels; root of the mean squared error",
            "replace": {
                "decoder_solution": """
def build_decoder(latent_dim):
    codes = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(128, activation="relu")(codes)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(28 * 28, activation="softmax")(h)
    return keras.Model(codes, keras.layers.Reshape((28, 28, 1))(h), name="decoder")
""",
                "error_solution": """
def reconstruction_error(x, x_hat):
    return np.sqrt(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2, axis=(1, 2, 3)))
""",
            },
            "loses": ["decoder_tests", "error_tests"],
            "keeps": ["encoder_tests"],
        },
        "measured_on_training_images": {
            "why": "reconstruction error measured on training images instead of x_test",
            "replace": {
                "evaluate_solution": """
x_test_hat = autoencoder.predict(x_train[: len(x_test)], verbose=0)
test_errors = reconstruction_error(x_train[: len(x_test)], x_test_hat)
test_mse = float(np.mean(test_errors))
""",
            },
            "loses": ["evaluate_tests"],
            "keeps": ["encoder_tests", "decoder_tests", "error_tests"],
        },
        "reports_the_training_loss": {
            "why": "test_mse taken from model.evaluate, which returns the cross-entropy loss",
            "replace": {
                "evaluate_solution": """
x_test_hat = autoencoder.predict(x_test, verbose=0)
test_errors = reconstruction_error(x_test, x_test_hat)
test_mse = float(autoencoder.evaluate(x_test, x_test, verbose=0))
""",
            },
            "loses": ["evaluate_tests"],
            "keeps": ["encoder_tests", "decoder_tests", "error_tests"],
        },
    },
    "03_denoising": {
        "unclipped_noise_and_clean_evaluation": {
            "why": "noise not clipped; denoiser evaluated on clean inputs",
            "replace": {
                "noise_solution": """
def add_gaussian_noise(x, std, seed):
    rng = np.random.default_rng(seed)
    return (np.asarray(x, dtype=np.float32) + rng.normal(0.0, std, size=np.shape(x))).astype(np.float32)
""",
                "evaluate_solution": """
def evaluate_denoiser(model, x_clean, std, seed):
    x_noisy = add_gaussian_noise(x_clean, std, seed)
    x_denoised = model.predict(x_clean, verbose=0)
    return {
        "psnr_noisy": metrics.psnr(x_clean, x_noisy),
        "psnr_denoised": metrics.psnr(x_clean, x_denoised),
        "ssim_noisy": metrics.ssim(x_clean, x_noisy),
        "ssim_denoised": metrics.ssim(x_clean, x_denoised),
    }
""",
            },
            "loses": ["noise_tests", "evaluate_tests"],
            "keeps": [],
        },
        "variance_for_std_and_wrong_peak": {
            "why": "std squared used as the noise scale; PSNR with peak 255 on [0, 1] images",
            "replace": {
                "noise_solution": """
def add_gaussian_noise(x, std, seed):
    rng = np.random.default_rng(seed)
    noisy = np.asarray(x, dtype=np.float32) + rng.normal(0.0, std**2, size=np.shape(x))
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)
""",
                "evaluate_solution": """
def evaluate_denoiser(model, x_clean, std, seed):
    x_noisy = add_gaussian_noise(x_clean, std, seed)
    x_denoised = model.predict(x_noisy, verbose=0)
    return {
        "psnr_noisy": metrics.psnr(x_clean, x_noisy, data_range=255),
        "psnr_denoised": metrics.psnr(x_clean, x_denoised, data_range=255),
        "ssim_noisy": metrics.ssim(x_clean, x_noisy),
        "ssim_denoised": metrics.ssim(x_clean, x_denoised),
    }
""",
            },
            "loses": ["noise_tests", "evaluate_tests"],
            "keeps": [],
        },
        "trained_clean_to_clean": {
            "why": "denoiser trained to reproduce clean images (clean inputs, clean targets)",
            "replace": {
                "train_solution": """
x_train_noisy = add_gaussian_noise(x_train, noise_std, seed=1)
history = training.fit(denoiser, x_train, x_train, epochs=epochs)
""",
            },
            "loses": ["train_tests"],
            "keeps": ["noise_tests", "evaluate_tests"],
        },
        "trained_noisy_to_noisy": {
            "why": "denoiser trained with the noisy images as targets",
            "replace": {
                "train_solution": """
x_train_noisy = add_gaussian_noise(x_train, noise_std, seed=1)
history = training.fit(denoiser, x_train_noisy, x_train_noisy, epochs=epochs)
""",
            },
            "loses": ["train_tests"],
            "keeps": ["noise_tests", "evaluate_tests"],
        },
    },
}
