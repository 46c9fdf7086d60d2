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
        "linear_encoder_one_layer_decoder_lower_tail": {
            "why": "no ReLU in the encoder; the decoder one sigmoid layer, no hidden layers; "
            "the threshold at the lower tail (the rate's quantile, not 1 - rate)",
            "replace": {
                "encoder_solution": """
def build_encoder(latent_dim):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256)(h)
    h = keras.layers.Dense(128)(h)
    code = keras.layers.Dense(latent_dim)(h)
    return keras.Model(inputs, code, name="encoder")
""",
                "decoder_solution": """
def build_decoder(latent_dim):
    codes = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(28 * 28, activation="sigmoid")(codes)
    return keras.Model(codes, keras.layers.Reshape((28, 28, 1))(h), name="decoder")
""",
                "threshold_solution": """
def choose_threshold(normal_errors, false_alarm_rate):
    return float(np.quantile(normal_errors, false_alarm_rate))


threshold = choose_threshold(val_errors, false_alarm_rate)
""",
            },
            "loses": ["encoder_tests", "decoder_tests", "threshold_tests"],
            "keeps": ["error_tests"],
        },
        "tanh_code_encoder_order_in_decoder": {
            "why": "a tanh on the code; the decoder's hidden layers in the encoder's order",
            "replace": {
                "encoder_solution": """
def build_encoder(latent_dim):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    code = keras.layers.Dense(latent_dim, activation="tanh")(h)
    return keras.Model(inputs, code, name="encoder")
""",
                "decoder_solution": """
def build_decoder(latent_dim):
    codes = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(256, activation="relu")(codes)
    h = keras.layers.Dense(128, activation="relu")(h)
    h = keras.layers.Dense(28 * 28, activation="sigmoid")(h)
    return keras.Model(codes, keras.layers.Reshape((28, 28, 1))(h), name="decoder")
""",
            },
            "loses": ["encoder_tests", "decoder_tests"],
            "keeps": ["error_tests"],
        },
        "measured_on_training_images_interpolated_threshold": {
            "why": "reconstruction error measured on training images instead of x_test; "
            "threshold by np.quantile(errors, 1 - rate), which can flag one too many",
            "replace": {
                "threshold_solution": """
def choose_threshold(normal_errors, false_alarm_rate):
    return float(np.quantile(normal_errors, 1 - false_alarm_rate))


threshold = choose_threshold(val_errors, false_alarm_rate)
""",
                "evaluate_solution": """
x_test_hat = autoencoder.predict(x_train[: len(x_test)], verbose=0)
test_errors = reconstruction_error(x_train[: len(x_test)], x_test_hat)
test_mse = float(np.mean(test_errors))
""",
            },
            "loses": ["evaluate_tests", "threshold_tests"],
            "keeps": ["encoder_tests", "decoder_tests", "error_tests"],
        },
        "reports_the_training_loss_threshold_on_test": {
            "why": "test_mse taken from model.evaluate, which returns the cross-entropy loss; "
            "the threshold chosen on the test digits",
            "replace": {
                "threshold_solution": """
def choose_threshold(normal_errors, false_alarm_rate):
    errors = np.sort(np.asarray(normal_errors, dtype=np.float64))
    allowed = int(np.floor(false_alarm_rate * len(errors) + 1e-9))
    return float(errors[len(errors) - allowed - 1])


threshold = choose_threshold(test_errors, false_alarm_rate)
""",
                "evaluate_solution": """
x_test_hat = autoencoder.predict(x_test, verbose=0)
test_errors = reconstruction_error(x_test, x_test_hat)
test_mse = float(autoencoder.evaluate(x_test, x_test, verbose=0))
""",
            },
            "loses": ["evaluate_tests", "threshold_tests"],
            "keeps": ["encoder_tests", "decoder_tests", "error_tests"],
        },
    },
    "02_undercomplete_overcomplete": {
        "relu_output_pca_on_test_signed_mean": {
            "why": "ReLU output layer; PCA fitted on the test images; mean without abs",
            "replace": {
                "shallow_solution": """
def shallow_autoencoder(code_size, activation="relu", output_activation="sigmoid", l1=0.0):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    penalty = keras.regularizers.L1(l1) if l1 > 0 else None
    code = keras.layers.Dense(
        code_size, activation=activation, activity_regularizer=penalty, name="code"
    )(h)
    pixels = keras.layers.Dense(28 * 28, activation="relu")(code)
    outputs = keras.layers.Reshape((28, 28, 1))(pixels)
    return keras.Model(inputs, outputs, name=f"shallow_{code_size}")
""",
                "pca_solution": """
def pca_errors(x_train, x_test, code_sizes):
    test_flat = data.flatten(x_test)
    errors = {}
    for k in code_sizes:
        pca = PCA(n_components=min(k, 784, len(test_flat))).fit(test_flat)
        restored = pca.inverse_transform(pca.transform(test_flat)).reshape(np.shape(x_test))
        errors[k] = metrics.mse(x_test, np.clip(restored, 0.0, 1.0))
    return errors
""",
                "activity_solution": """
def code_activity(encoder, x):
    codes = np.asarray(encoder.predict(x, verbose=0), dtype=np.float64)
    return {"mean_abs": float(codes.mean()), "active_fraction": float((np.abs(codes) > 1e-3).mean())}
""",
            },
            "loses": ["shallow_tests", "pca_tests", "activity_tests"],
            "keeps": [],
        },
        "weight_penalty_unclipped_positive_only": {
            "why": "L1 on the weights, not the code; PCA output not clipped; only "
            "positive activations counted as active",
            "replace": {
                "shallow_solution": """
def shallow_autoencoder(code_size, activation="relu", output_activation="sigmoid", l1=0.0):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    penalty = keras.regularizers.L1(l1) if l1 > 0 else None
    code = keras.layers.Dense(
        code_size, activation=activation, kernel_regularizer=penalty, name="code"
    )(h)
    pixels = keras.layers.Dense(28 * 28, activation=output_activation)(code)
    outputs = keras.layers.Reshape((28, 28, 1))(pixels)
    return keras.Model(inputs, outputs, name=f"shallow_{code_size}")
""",
                "pca_solution": """
def pca_errors(x_train, x_test, code_sizes):
    train_flat, test_flat = data.flatten(x_train), data.flatten(x_test)
    errors = {}
    for k in code_sizes:
        pca = PCA(n_components=min(k, 784)).fit(train_flat)
        restored = pca.inverse_transform(pca.transform(test_flat)).reshape(np.shape(x_test))
        errors[k] = metrics.mse(x_test, restored)
    return errors
""",
                "activity_solution": """
def code_activity(encoder, x):
    codes = np.asarray(encoder.predict(x, verbose=0), dtype=np.float64)
    return {"mean_abs": float(np.abs(codes).mean()), "active_fraction": float((codes > 1e-3).mean())}
""",
            },
            "loses": ["shallow_tests", "pca_tests", "activity_tests"],
            "keeps": [],
        },
        "code_size_off_by_one": {
            "why": "code layer one unit larger than asked",
            "replace": {
                "shallow_solution": """
def shallow_autoencoder(code_size, activation="relu", output_activation="sigmoid", l1=0.0):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    penalty = keras.regularizers.L1(l1) if l1 > 0 else None
    code = keras.layers.Dense(
        code_size + 1, activation=activation, activity_regularizer=penalty, name="code"
    )(h)
    pixels = keras.layers.Dense(28 * 28, activation=output_activation)(code)
    outputs = keras.layers.Reshape((28, 28, 1))(pixels)
    return keras.Model(inputs, outputs, name=f"shallow_{code_size}")
""",
            },
            "loses": ["shallow_tests"],
            "keeps": ["pca_tests", "activity_tests"],
        },
    },
    "04_reconstruction": {
        "variance_psf_lowest_psnr_identity_upscaler": {
            "why": "sigma used as the variance in the PSF; the setting with the lowest PSNR "
            "chosen; upscaler trained to reproduce the original images",
            "replace": {
                "psf_solution": """
def gaussian_psf(sigma, size):
    r = np.arange(size) - size // 2
    profile = np.exp(-(r**2) / (2.0 * sigma))
    psf = np.outer(profile, profile)
    return psf / psf.sum()
""",
                "tune_solution": """
def best_setting(restore, settings, x_clean, x_corrupted):
    scores = {s: metrics.psnr(x_clean, restore(x_corrupted, s)) for s in settings}
    return min(scores, key=scores.get), scores
""",
                "upscale_solution": """
x_train_small = corruptions.downscale(x_train, scale)
upscaler = models.conv_denoiser(filters=(32, 64), name="upscaler")
upscaler.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
training.fit(upscaler, x_train, x_train, epochs=epochs)
""",
            },
            "loses": ["psf_tests", "tune_tests", "upscale_tests"],
            "keeps": [],
        },
        "unnormalised_psf_tuned_on_clean_small_targets": {
            "why": "PSF with peak 1 instead of sum 1; settings scored on restored clean "
            "images; upscaler trained with the downscaled images as targets",
            "replace": {
                "psf_solution": """
def gaussian_psf(sigma, size):
    r = np.arange(size) - size // 2
    profile = np.exp(-(r**2) / (2.0 * sigma**2))
    return np.outer(profile, profile)
""",
                "tune_solution": """
def best_setting(restore, settings, x_clean, x_corrupted):
    scores = {s: metrics.psnr(x_clean, restore(x_clean, s)) for s in settings}
    return max(scores, key=scores.get), scores
""",
                "upscale_solution": """
x_train_small = corruptions.downscale(x_train, scale)
upscaler = models.conv_denoiser(filters=(32, 64), name="upscaler")
upscaler.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
training.fit(upscaler, x_train_small, x_train_small, epochs=epochs)
""",
            },
            "loses": ["psf_tests", "tune_tests", "upscale_tests"],
            "keeps": [],
        },
        "upscaler_trained_on_the_test_images": {
            "why": "upscaler trained on the downscaled test images (the set it is scored on)",
            "replace": {
                "upscale_solution": """
x_train_small = corruptions.downscale(x_train, scale)
upscaler = models.conv_denoiser(filters=(32, 64), name="upscaler")
upscaler.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
history_upscaler = training.fit(
    upscaler, corruptions.downscale(x_test, scale), x_test, epochs=epochs, batch_size=batch_size
)
""",
            },
            "loses": ["upscale_tests"],
            "keeps": ["psf_tests", "tune_tests"],
        },
        "psf_off_centre": {
            "why": "PSF centred at size / 2 instead of size // 2",
            "replace": {
                "psf_solution": """
def gaussian_psf(sigma, size):
    r = np.arange(size) - size / 2
    profile = np.exp(-(r**2) / (2.0 * sigma**2))
    psf = np.outer(profile, profile)
    return psf / psf.sum()
""",
            },
            "loses": ["psf_tests"],
            "keeps": ["tune_tests", "upscale_tests"],
        },
    },
    "06_feature_extraction": {
        "unbalanced_train_accuracy_frozen": {
            "why": "subset drawn at random over all classes; accuracy on the training "
            "features; encoder frozen",
            "replace": {
                "subset_solution": """
def labelled_subset(y, n, seed):
    if n >= len(y):
        return np.arange(len(y))
    return np.random.default_rng(seed).choice(len(y), n, replace=False)
""",
                "probe_solution": """
def probe_accuracy(f_train, y_train, f_test, y_test, C=1.0):
    scale = np.std(f_train)
    classifier = LogisticRegression(C=C, max_iter=1000).fit(f_train / scale, y_train)
    return float(classifier.score(f_train / scale, y_train))
""",
                "finetune_solution": """
def fine_tuned_classifier(encoder, n_classes=10):
    encoder.trainable = False
    inputs = keras.Input(shape=(28, 28, 1))
    probabilities = keras.layers.Dense(n_classes, activation="softmax")(encoder(inputs))
    return keras.Model(inputs, probabilities, name="fine_tuned_classifier")
""",
            },
            "loses": ["subset_tests", "probe_tests", "finetune_tests"],
            "keeps": [],
        },
        "with_replacement_fit_on_test_new_encoder": {
            "why": "subset drawn with replacement; classifier fitted on the test "
            "features; a new, untrained encoder instead of the one given",
            "replace": {
                "subset_solution": """
def labelled_subset(y, n, seed):
    y = np.asarray(y)
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = n // len(classes)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class) for c in classes])
""",
                "probe_solution": """
def probe_accuracy(f_train, y_train, f_test, y_test, C=1.0):
    scale = np.std(f_train)
    classifier = LogisticRegression(C=C, max_iter=1000).fit(f_test / scale, y_test)
    return float(classifier.score(f_test / scale, y_test))
""",
                "finetune_solution": """
def fine_tuned_classifier(encoder, n_classes=10):
    copy = keras.models.clone_model(encoder)
    copy.trainable = True
    inputs = keras.Input(shape=(28, 28, 1))
    probabilities = keras.layers.Dense(n_classes, activation="softmax")(copy(inputs))
    return keras.Model(inputs, probabilities, name="fine_tuned_classifier")
""",
            },
            "loses": ["subset_tests", "probe_tests", "finetune_tests"],
            "keeps": [],
        },
        "first_of_each_class_ignores_c": {
            "why": "the first n // k images of each class, the same for every seed; "
            "the probe's C argument not passed on to the classifier",
            "replace": {
                "probe_solution": """
def probe_accuracy(f_train, y_train, f_test, y_test, C=1.0):
    scale = np.std(f_train)
    classifier = LogisticRegression(max_iter=1000).fit(f_train / scale, y_train)
    return float(classifier.score(f_test / scale, y_test))
""",
                "subset_solution": """
def labelled_subset(y, n, seed):
    y = np.asarray(y)
    if n >= len(y):
        return np.arange(len(y))
    classes = np.unique(y)
    per_class = n // len(classes)
    return np.concatenate([np.flatnonzero(y == c)[:per_class] for c in classes])
""",
            },
            "loses": ["subset_tests", "probe_tests"],
            "keeps": ["finetune_tests"],
        },
    },
    "05_colorization": {
        "grey_lightness_gb_targets_summed_stds": {
            "why": "lightness from rgb2gray; trained to predict the G and B channels; "
            "standard deviations added instead of combined in quadrature",
            "replace": {
                "lab_solution": """
def lightness_and_chroma(x):
    lab = color.rgb2lab(np.asarray(x, dtype=np.float64))
    lightness = color.rgb2gray(np.asarray(x))[..., np.newaxis].astype(np.float32)
    return lightness, (lab[..., 1:] / 128.0).astype(np.float32)
""",
                "chroma_solution": """
chroma_model = models.conv_denoiser(
    input_shape=(32, 32, 1), filters=(32, 64), output_channels=2, output_activation="tanh", name="chroma_colorizer"
)
chroma_model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
history_chroma = training.fit(chroma_model, lightness_train, x_train[..., 1:], epochs=epochs)
""",
                "colourful_solution": """
def colourfulness(x):
    x = np.asarray(x, dtype=np.float64) * 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = (r - g).reshape(len(x), -1)
    yb = (0.5 * (r + g) - b).reshape(len(x), -1)
    spread = rg.std(axis=1) + yb.std(axis=1)
    offset = np.sqrt(rg.mean(axis=1) ** 2 + yb.mean(axis=1) ** 2)
    return spread + 0.3 * offset
""",
            },
            "loses": ["lab_tests", "chroma_tests", "colourful_tests"],
            "keeps": [],
        },
        "swapped_ab_sigmoid_unit_scale": {
            "why": "a and b swapped; sigmoid output for the chroma; colourfulness on the "
            "[0, 1] scale",
            "replace": {
                "lab_solution": """
def lightness_and_chroma(x):
    lab = color.rgb2lab(np.asarray(x, dtype=np.float64))
    lightness = (lab[..., :1] / 100.0).astype(np.float32)
    chroma = (lab[..., [2, 1]] / 128.0).astype(np.float32)
    return lightness, chroma
""",
                "chroma_solution": """
chroma_model = models.conv_denoiser(
    input_shape=(32, 32, 1), filters=(32, 64), output_channels=2, output_activation="sigmoid", name="chroma_colorizer"
)
chroma_model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
history_chroma = training.fit(chroma_model, lightness_train, chroma_train, epochs=epochs)
""",
                "colourful_solution": """
def colourfulness(x):
    x = np.asarray(x, dtype=np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = (r - g).reshape(len(x), -1)
    yb = (0.5 * (r + g) - b).reshape(len(x), -1)
    spread = np.sqrt(rg.std(axis=1) ** 2 + yb.std(axis=1) ** 2)
    offset = np.sqrt(rg.mean(axis=1) ** 2 + yb.mean(axis=1) ** 2)
    return spread + 0.3 * offset
""",
            },
            "loses": ["lab_tests", "chroma_tests", "colourful_tests"],
            "keeps": [],
        },
        "chroma_trained_on_the_test_images": {
            "why": "chroma model trained on the test images (the set it is scored on)",
            "replace": {
                "chroma_solution": """
chroma_model = models.conv_denoiser(
    input_shape=(32, 32, 1), filters=(32, 64), output_channels=2, output_activation="tanh", name="chroma_colorizer"
)
chroma_model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
history_chroma = training.fit(
    chroma_model, lightness_test, chroma_test, epochs=epochs, batch_size=batch_size
)
""",
            },
            "loses": ["chroma_tests"],
            "keeps": ["lab_tests", "colourful_tests"],
        },
        "colourfulness_of_the_whole_batch": {
            "why": "one colourfulness for the whole batch, repeated for every image",
            "replace": {
                "colourful_solution": """
def colourfulness(x):
    x = np.asarray(x, dtype=np.float64) * 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    value = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return np.full(len(x), value)
""",
            },
            "loses": ["colourful_tests"],
            "keeps": ["lab_tests", "chroma_tests"],
        },
    },
    "07_latent_space": {
        "pixel_path_too_many_levels_bytes": {
            "why": "interpolation in pixel space (then encoded and decoded); 2**bits "
            "steps between low and high; JPEG size in bytes, not bits",
            "replace": {
                "interpolate_solution": """
def interpolate(encoder, decoder, a, b, steps):
    t = np.linspace(0.0, 1.0, steps)[:, None, None, None]
    images = (1.0 - t) * np.asarray(a) + t * np.asarray(b)
    codes = encoder.predict(images, verbose=0)
    return np.asarray(decoder.predict(np.asarray(codes, dtype="float32"), verbose=0))
""",
                "quantise_solution": """
def quantise(codes, low, high, bits):
    scaled = (np.asarray(codes, dtype=np.float64) - low) / (np.asarray(high) - low)
    return np.rint(np.clip(scaled, 0.0, 1.0) * 2**bits).astype(np.int64)


def dequantise(indices, low, high, bits):
    return low + np.asarray(indices, dtype=np.float64) / 2**bits * (np.asarray(high) - low)
""",
                "jpeg_solution": """
def jpeg_rate_and_psnr(x, quality):
    sizes, decoded = [], []
    for image in np.round(np.asarray(x)[..., 0] * 255).astype(np.uint8):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality, optimize=True)
        sizes.append(buffer.tell())
        buffer.seek(0)
        decoded.append(np.asarray(Image.open(buffer), dtype=np.float32) / 255.0)
    return float(np.mean(sizes)), metrics.psnr(x, np.stack(decoded)[..., np.newaxis])
""",
            },
            "loses": ["interpolate_tests", "quantise_tests", "jpeg_tests"],
            "keeps": [],
        },
        "short_path_unclipped_unoptimised": {
            "why": "the path stops one step short of b; values outside [low, high] "
            "not clipped; JPEG saved without optimize=True",
            "replace": {
                "interpolate_solution": """
def interpolate(encoder, decoder, a, b, steps):
    codes = np.asarray(encoder.predict(np.stack([a, b]), verbose=0))
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, np.newaxis]
    line = (1.0 - t) * codes[0] + t * codes[1]
    return np.asarray(decoder.predict(line.astype("float32"), verbose=0))
""",
                "quantise_solution": """
def quantise(codes, low, high, bits):
    levels = 2**bits - 1
    scaled = (np.asarray(codes, dtype=np.float64) - low) / (np.asarray(high) - low)
    return np.rint(scaled * levels).astype(np.int64)


def dequantise(indices, low, high, bits):
    levels = 2**bits - 1
    return low + np.asarray(indices, dtype=np.float64) / levels * (np.asarray(high) - low)
""",
                "jpeg_solution": """
def jpeg_rate_and_psnr(x, quality):
    sizes, decoded = [], []
    for image in np.round(np.asarray(x)[..., 0] * 255).astype(np.uint8):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        sizes.append(8 * buffer.tell())
        buffer.seek(0)
        decoded.append(np.asarray(Image.open(buffer), dtype=np.float32) / 255.0)
    return float(np.mean(sizes)), metrics.psnr(x, np.stack(decoded)[..., np.newaxis])
""",
            },
            "loses": ["interpolate_tests", "quantise_tests", "jpeg_tests"],
            "keeps": [],
        },
        "rounds_down": {
            "why": "quantisation rounds down instead of to the nearest level",
            "replace": {
                "quantise_solution": """
def quantise(codes, low, high, bits):
    levels = 2**bits - 1
    scaled = (np.asarray(codes, dtype=np.float64) - low) / (np.asarray(high) - low)
    return np.floor(np.clip(scaled, 0.0, 1.0) * levels).astype(np.int64)


def dequantise(indices, low, high, bits):
    levels = 2**bits - 1
    return low + np.asarray(indices, dtype=np.float64) / levels * (np.asarray(high) - low)
""",
            },
            "loses": ["quantise_tests"],
            "keeps": ["interpolate_tests", "jpeg_tests"],
        },
    },
    "08_variational_autoencoder": {
        "averaged_kl_legacy_sampling_unsigned_kl": {
            "why": "KL averaged over latent dimensions; codes drawn from numpy's legacy "
            "global generator; per-dimension KL without the -1/2",
            "replace": {
                "elbo_solution": """
def negative_elbo(x, reconstruction, z_mean, z_log_var):
    batch = ops.shape(x)[0]
    x = ops.reshape(ops.cast(x, "float32"), (batch, -1))
    r = ops.clip(ops.reshape(reconstruction, (batch, -1)), 1e-7, 1.0 - 1e-7)
    reconstruction_term = -ops.sum(x * ops.log(r) + (1.0 - x) * ops.log(1.0 - r), axis=1)
    kl = -0.5 * ops.mean(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
    return ops.mean(reconstruction_term + kl)
""",
                "sample_solution": """
def sample_prior(decoder, n, latent_dim, seed):
    np.random.seed(seed)
    codes = np.random.randn(n, latent_dim).astype("float32")
    return np.asarray(decoder.predict(codes, verbose=0))
""",
                "kl_solution": """
def kl_per_dimension(encoder, x):
    z_mean, z_log_var = (np.asarray(a, dtype=np.float64) for a in encoder.predict(x, verbose=0))
    return np.mean(1.0 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=0)
""",
            },
            "loses": ["elbo_tests", "sample_tests", "kl_tests"],
            "keeps": [],
        },
        "averaged_pixels_uniform_prior_summed_images": {
            "why": "reconstruction averaged over pixels (Keras' binary cross-entropy); "
            "codes drawn uniformly; KL summed over images",
            "replace": {
                "elbo_solution": """
def negative_elbo(x, reconstruction, z_mean, z_log_var):
    batch = ops.shape(x)[0]
    x = ops.reshape(ops.cast(x, "float32"), (batch, -1))
    r = ops.clip(ops.reshape(reconstruction, (batch, -1)), 1e-7, 1.0 - 1e-7)
    reconstruction_term = keras.losses.binary_crossentropy(x, r)
    kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
    return ops.mean(reconstruction_term + kl)
""",
                "sample_solution": """
def sample_prior(decoder, n, latent_dim, seed):
    codes = np.random.default_rng(seed).uniform(-2, 2, (n, latent_dim)).astype("float32")
    return np.asarray(decoder.predict(codes, verbose=0))
""",
                "kl_solution": """
def kl_per_dimension(encoder, x):
    z_mean, z_log_var = (np.asarray(a, dtype=np.float64) for a in encoder.predict(x, verbose=0))
    return np.sum(-0.5 * (1.0 + z_log_var - z_mean**2 - np.exp(z_log_var)), axis=0)
""",
            },
            "loses": ["elbo_tests", "sample_tests", "kl_tests"],
            "keeps": [],
        },
        "summed_over_the_batch": {
            "why": "loss summed over the batch instead of averaged",
            "replace": {
                "elbo_solution": """
def negative_elbo(x, reconstruction, z_mean, z_log_var):
    batch = ops.shape(x)[0]
    x = ops.reshape(ops.cast(x, "float32"), (batch, -1))
    r = ops.clip(ops.reshape(reconstruction, (batch, -1)), 1e-7, 1.0 - 1e-7)
    reconstruction_term = -ops.sum(x * ops.log(r) + (1.0 - x) * ops.log(1.0 - r), axis=1)
    kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
    return ops.sum(reconstruction_term + kl)
""",
            },
            "loses": ["elbo_tests"],
            "keeps": ["sample_tests", "kl_tests"],
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
        "trained_on_weaker_noise": {
            "why": "denoiser trained on noise of std 0.1, not noise_std: it still gains over 5 dB at 0.4",
            "replace": {
                "train_solution": """
x_train_noisy = add_gaussian_noise(x_train, noise_std, seed=1)
history = training.fit(denoiser, add_gaussian_noise(x_train, 0.1, seed=1), x_train, epochs=epochs)
""",
            },
            "loses": ["train_tests"],
            "keeps": ["noise_tests", "evaluate_tests"],
        },
    },
}
