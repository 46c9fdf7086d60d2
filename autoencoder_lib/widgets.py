"""ipywidgets explorers: move a slider, see the model's output change.

Introduced in notebook 02 (the code-size explorer) and 03 (the noise-level explorer).
Every redraw runs one model once on the whole batch shown, never once per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import metrics, plots


class CorruptionExplorer:
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
        import ipywidgets as w

        if len(levels) == 0:
            raise ValueError("levels is empty: give the corruption levels to offer.")
        self.model = model
        self.x_clean = np.asarray(x_clean)[:n]
        self.corrupt = corrupt
        self.last: dict = {}
        self.slider = w.SelectionSlider(
            options=list(levels),
            value=list(levels)[len(levels) // 2],
            description=description,
            continuous_update=False,
        )
        self.output = w.Output()
        self.widget = w.VBox([self.slider, self.output])
        self.slider.observe(lambda change: self.draw(change["new"]), names="value")
        self.draw(self.slider.value)

    def draw(self, level) -> None:
        corrupted = self.corrupt(self.x_clean, level)
        restored = self.model.predict(corrupted, verbose=0)
        self.last = {
            "level": level,
            "psnr_corrupted": metrics.psnr(self.x_clean, corrupted),
            "psnr_restored": metrics.psnr(self.x_clean, restored),
        }
        with self.output:
            self.output.clear_output(wait=True)
            plots.image_rows(
                {
                    f"input\n{self.last['psnr_corrupted']:.1f} dB": corrupted,
                    f"output\n{self.last['psnr_restored']:.1f} dB": restored,
                    "clean": self.x_clean,
                }
            )
            plt.show()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class ReconstructionExplorer:
    """A slider over trained models (for example one per code size) on the same images.

    ``models`` maps a label (such as the code size) to a model; moving the slider runs
    the chosen model once on the ``n`` images and shows originals above reconstructions,
    with the reconstruction MSE in the row label. ``last`` holds the latest numbers.
    """

    def __init__(self, models: dict, x, description: str = "code size", n: int = 8):
        import ipywidgets as w

        if not models:
            raise ValueError(
                "models is empty: pass a dict such as {32: model_32, 128: model_128}."
            )
        self.models = dict(models)
        self.x = np.asarray(x)[:n]
        self.last: dict = {}
        labels = list(self.models)
        self.slider = w.SelectionSlider(
            options=labels,
            value=labels[len(labels) // 2],
            description=description,
            continuous_update=False,
        )
        self.output = w.Output()
        self.widget = w.VBox([self.slider, self.output])
        self.slider.observe(lambda change: self.draw(change["new"]), names="value")
        self.draw(self.slider.value)

    def draw(self, label) -> None:
        reconstructed = self.models[label].predict(self.x, verbose=0)
        self.last = {"label": label, "mse": metrics.mse(self.x, reconstructed)}
        with self.output:
            self.output.clear_output(wait=True)
            plots.image_rows(
                {
                    "original": self.x,
                    f"{label}\nMSE {self.last['mse']:.4f}": reconstructed,
                }
            )
            plt.show()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
