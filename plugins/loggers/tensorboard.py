"""TensorBoard: the run's scalars (losses, per-term means, weights, validation terms, learning rate) per epoch,
its options as text and its plots as images, in event files under the run directory (``tensorboard --logdir``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from surrogate.contracts import RunLogger
from surrogate.options import Option
from surrogate.table import file_sha256

from . import INSTALL



class TensorBoardLogger(RunLogger):
    """Event files written with ``torch.utils.tensorboard``. TensorBoard keeps no files: a PNG is shown as an
    image (tab IMAGES), any other file (model, ONNX) is recorded as text by its path, size and SHA-256."""

    description = "TensorBoard event files in the run directory: scalars per epoch, options, plots as images"
    options = (Option("log_dir", "tensorboard", "Folder of the event files, relative to the run directory "
                      "(or absolute)."),)

    def __init__(self, run_dir: Path, *, log_dir: str):
        super().__init__(run_dir)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError(f"needs the tensorboard package ({INSTALL})") from None
        if not log_dir.strip():
            raise ValueError("log_dir '': expected a folder")
        self.log_dir = self.run_dir / log_dir
        self.writer_class = SummaryWriter
        self.writer: Any = None
        self.step = 0

    def start(self, config: Mapping[str, Any], resumed: bool) -> None:
        if not resumed:  # a new run in this directory (--overwrite): the discarded run's curves would mix in
            for old in self.log_dir.glob("events.out.tfevents.*"):
                old.unlink()
        self.writer = self.writer_class(log_dir=str(self.log_dir))
        if not resumed:
            self.writer.add_text("options", "```\n" + json.dumps(config, indent=1, default=str) + "\n```", 0)

    def log_epoch(self, row: Mapping[str, float]) -> None:
        self.step = int(row["epoch"])
        for name, value in row.items():
            if name != "epoch" and math.isfinite(float(value)):
                self.writer.add_scalar(name, float(value), self.step)
        self.writer.flush()

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        for name, value in metrics.items():
            if math.isfinite(value):
                self.writer.add_scalar(f"final/{name}", value, self.step)

    def log_artifact(self, path: Path) -> None:
        if path.suffix.lower() == ".png":
            import matplotlib.image

            image = matplotlib.image.imread(path)
            self.writer.add_image(f"plots/{path.stem}", image[..., :3], self.step, dataformats="HWC")
        else:
            self.writer.add_text(f"files/{path.name}", f"`{path}`: {path.stat().st_size} bytes, SHA-256 "
                                 f"{file_sha256(path)}", self.step)

    def close(self) -> None:
        self.writer.close()
