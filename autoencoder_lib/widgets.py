"""ipywidgets explorers: move a slider, see the model's output change.

Introduced in notebook 02 (the code-size explorer), 03 (the noise-level explorer) and 07
(the latent-space explorer).
Every redraw runs one model once on the whole batch shown, never once per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import metrics, plots


def _middle_slider(options, description: str):
    import ipywidgets as w

    options = list(options)
    return w.SelectionSlider(
        options=options,
        value=options[len(options) // 2],
        description=description,
        continuous_update=False,
    )


class _Explorer:
    """Controls above a figure; every change of a control redraws the figure."""

    def _start(self, header, controls) -> None:
        import ipywidgets as w

        self.output = w.Output()
        self.widget = w.VBox([header, self.output])
        for control in controls:
            control.observe(lambda change: self._redraw(), names="value")
        self._redraw()

    def _show(self, draw_figure: Callable[[], object]) -> None:
        with self.output:
            self.output.clear_output(wait=True)
            draw_figure()
            plt.show()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class CorruptionExplorer(_Explorer):
    """A slider over a corruption level showing corrupted / restored / clean images.

    ``corrupt(x, level)`` makes the corrupted batch; ``model.predict`` restores it. The
    row labels carry the live PSNR against the clean images. ``last`` holds the numbers
    of the latest redraw.
    """

    def __init__(
        self,
        model,
        x_clean,
        corrupt: Callable,
        levels: Sequence[float],
        description: str = "noise std",
        n: int = 8,
    ):
        if len(levels) == 0:
            raise ValueError("levels is empty: give the corruption levels to offer.")
        self.model = model
        self.x_clean = np.asarray(x_clean)[:n]
        self.corrupt = corrupt
        self.last: dict = {}
        self.slider = _middle_slider(levels, description)
        self._start(self.slider, [self.slider])

    def _redraw(self) -> None:
        self.draw(self.slider.value)

    def draw(self, level) -> None:
        corrupted = self.corrupt(self.x_clean, level)
        restored = self.model.predict(corrupted, verbose=0)
        self.last = {
            "level": level,
            "psnr_corrupted": metrics.psnr(self.x_clean, corrupted),
            "psnr_restored": metrics.psnr(self.x_clean, restored),
        }
        self._show(
            lambda: plots.image_rows(
                {
                    f"input\n{self.last['psnr_corrupted']:.1f} dB": corrupted,
                    f"output\n{self.last['psnr_restored']:.1f} dB": restored,
                    "clean": self.x_clean,
                }
            )
        )


class ReconstructionExplorer(_Explorer):
    """A slider over trained models (for example one per code size) on the same images.

    ``models`` maps a label (such as the code size) to a model; moving the slider runs
    the chosen model once on the ``n`` images and shows originals above reconstructions,
    with the reconstruction MSE in the row label. ``last`` holds the latest numbers.
    """

    def __init__(self, models: dict, x, description: str = "code size", n: int = 8):
        if not models:
            raise ValueError(
                "models is empty: pass a dict such as {32: model_32, 128: model_128}."
            )
        self.models = dict(models)
        self.x = np.asarray(x)[:n]
        self.last: dict = {}
        self.slider = _middle_slider(self.models, description)
        self._start(self.slider, [self.slider])

    def _redraw(self) -> None:
        self.draw(self.slider.value)

    def draw(self, label) -> None:
        reconstructed = self.models[label].predict(self.x, verbose=0)
        self.last = {"label": label, "mse": metrics.mse(self.x, reconstructed)}
        self._show(
            lambda: plots.image_rows(
                {
                    "original": self.x,
                    f"{label}\nMSE {self.last['mse']:.4f}": reconstructed,
                }
            )
        )


class LatentExplorer(_Explorer):
    """Two sliders over a 2-D code, decoding the point live next to the codes' map.

    ``decoder`` maps codes shaped (N, 2) to images; ``codes`` and ``labels`` (for
    example the test set's) are drawn once as a scatter, with the current point on top.
    Each redraw decodes one point with a single ``predict`` call. ``last`` holds the
    point and the distance to the nearest code in ``codes``.
    """

    def __init__(self, decoder, codes, labels=None, steps: int = 41):
        import ipywidgets as w

        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(
                f"codes must be shaped (N, 2) for a 2-D explorer, got {codes.shape}. "
                "Train an autoencoder with latent_dim=2."
            )
        self.decoder = decoder
        self.codes = codes
        self.labels = labels
        self.last: dict = {}
        low, high = (
            np.percentile(codes, 0.5, axis=0),
            np.percentile(codes, 99.5, axis=0),
        )
        margin = 0.25 * (high - low)
        self.sliders = [
            w.FloatSlider(
                value=float(np.median(codes[:, i])),
                min=float(low[i] - margin[i]),
                max=float(high[i] + margin[i]),
                step=float((high[i] - low[i] + 2 * margin[i]) / (steps - 1)),
                description=f"z{i + 1}",
                continuous_update=False,
            )
            for i in range(2)
        ]
        self._start(w.HBox(self.sliders), self.sliders)

    def _redraw(self) -> None:
        self.draw()

    def draw(self) -> None:
        point = np.array([[s.value for s in self.sliders]], dtype=np.float32)
        image = np.asarray(self.decoder.predict(point, verbose=0))[0]
        distance = float(np.min(np.linalg.norm(self.codes - point, axis=1)))
        self.last = {"point": point[0].tolist(), "nearest_code_distance": distance}
        self._show(lambda: self._figure(point[0], image, distance))

    def _figure(self, point, image, distance):
        fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6))
        left.scatter(
            self.codes[:, 0], self.codes[:, 1], c=self.labels, cmap="tab10", s=3
        )
        left.scatter(*point, marker="x", s=120, c="black")
        left.set_title("codes of the test images")
        right.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        right.set_title(f"decoded; nearest code {distance:.2f} away")
        right.set_xticks([])
        right.set_yticks([])
        fig.tight_layout()
        return fig
