"""``trackstore demo``: log a short, training-like run and show what was stored."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from . import fluent
from .client import TrackingClient
from .entities import Dataset, Run


@dataclass
class DemoResult:
    run: Run
    points: int
    seconds: float


def run_demo(tracking_uri: str | None, experiment: str, epochs: int, steps_per_epoch: int,
             seed: int = 0) -> DemoResult:
    """Train a pretend model: log params, per-step loss/accuracy, per-epoch validation."""
    if tracking_uri:
        from .tracking_uri import set_tracking_uri

        set_tracking_uri(tracking_uri)
    rng = random.Random(seed)
    fluent.set_experiment(experiment)
    started = time.perf_counter()
    points = 0
    with fluent.start_run(run_name=f"demo-{time.strftime('%Y%m%d-%H%M%S')}",
                          description="A pretend training run logged by `trackstore demo`.") as run:
        fluent.log_params({"learning_rate": 0.01, "batch_size": 64, "epochs": epochs,
                           "optimizer": "adam", "seed": seed})
        fluent.set_tags({"model": "tiny-mlp", "dataset": "synthetic"})
        fluent.log_input(Dataset("synthetic", "d41d8cd9", "code", '{"generator": "demo"}'),
                         context="training")
        step = 0
        for epoch in range(epochs):
            for _ in range(steps_per_epoch):
                progress = step / max(1, epochs * steps_per_epoch - 1)
                loss = 2.5 * math.exp(-3.0 * progress) + 0.05 * rng.random()
                accuracy = min(1.0, 0.35 + 0.6 * (1 - math.exp(-4.0 * progress))
                               + 0.02 * rng.random())
                fluent.log_metrics({"train/loss": loss, "train/accuracy": accuracy}, step=step)
                points += 2
                step += 1
            fluent.log_metric("val/loss", 2.6 * math.exp(-3.0 * (epoch + 1) / epochs) + 0.08,
                              step=step)
            points += 1
    seconds = time.perf_counter() - started
    stored = TrackingClient(tracking_uri).get_run(run.info.run_id)
    return DemoResult(stored, points, seconds)
