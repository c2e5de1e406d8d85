"""Score-CAM and Ablation-CAM do not write pytorch-grad-cam's own tqdm bars into a job's log."""

from __future__ import annotations

import torch

from trustlab.explain.base import get_explainer
from trustlab.models.arch import build_model


def test_scorecam_and_ablationcam_write_no_progress_bars(capfd):
    torch.manual_seed(0)
    model = build_model("simple_cnn", 2).eval()
    x = torch.rand(2, 3, 32, 32)
    for method in ("scorecam", "ablationcam"):
        explainer = get_explainer(method)(model, target_layer=model.features[-1])
        maps = explainer.attribute(x, [0, 1]).maps
        assert maps.shape == (2, 32, 32)
    captured = capfd.readouterr()
    assert "it/s" not in captured.err and "%|" not in captured.err, captured.err[:300]
