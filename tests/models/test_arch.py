"""Architectures: what a checkpoint restores."""

from __future__ import annotations


def test_simple_cnn_checkpoints_from_before_the_pooling_was_recorded_load_as_average():
    """Older checkpoints have no "pool.is_max" and were always average-pooled."""
    import torch

    from trustlab.models.arch import SimpleCNN

    torch.manual_seed(0)
    old = SimpleCNN(num_classes=3, pool="avg").eval()
    state = {k: v for k, v in old.state_dict().items() if k != "pool.is_max"}
    restored = SimpleCNN(num_classes=3)  # the default is max pooling
    restored.load_state_dict(state)  # strict: nothing missing
    restored.eval()
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(restored(x), old(x))
    assert bool(restored.state_dict()["pool.is_max"]) is False
