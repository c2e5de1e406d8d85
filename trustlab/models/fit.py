"""The training loop: mini-batches with augmentation, AMP on CUDA, early stopping on val loss."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trustlab.job_progress import note
from trustlab.job_progress import progress as progress_bar
from trustlab.models.config import FitConfig
from trustlab.models.datasets import batches, prepare


@dataclass
class FitResult:
    history: dict[str, Any]
    best_epoch: int
    seconds: float


def _train_mode(model: nn.Module) -> None:
    """Train mode, except frozen BatchNorm layers keep their (pretrained) running statistics."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.eval()


def _evaluate(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, *, mean, std,
              device: torch.device, batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on uint8 images [N, 3, S, S]."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for idx in batches(len(images), batch_size, shuffle=False):
            logits = model(prepare(images[idx], mean, std, device)).float()
            y = targets[idx].to(device)
            total_loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(images), correct / len(images)


@dataclass
class _Run:
    """What every step of one fit shares: the model, its optimiser and how batches are prepared."""

    model: nn.Module
    config: FitConfig
    mean: Sequence[float]
    std: Sequence[float]
    device: torch.device
    generator: torch.Generator
    optimiser: torch.optim.Optimizer
    scaler: torch.amp.GradScaler

    @classmethod
    def start(cls, model: nn.Module, config: FitConfig, *, mean, std, device: torch.device) -> _Run:
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
        return cls(model, config, mean, std, device, torch.Generator().manual_seed(config.seed), optimiser,
                   scaler)

    def train_epoch(self, images: torch.Tensor, targets: torch.Tensor, bar) -> tuple[float, float]:
        """One shuffled pass over the training images; (mean loss, accuracy) of the batches seen."""
        _train_mode(self.model)
        use_amp = self.device.type == "cuda"
        seen, loss_sum, correct = 0, 0.0, 0
        for idx in batches(len(images), self.config.batch_size, shuffle=True, generator=self.generator):
            if len(idx) < 2 and len(images) > 1:
                continue  # a batch of one breaks BatchNorm's statistics
            x = prepare(images[idx], self.mean, self.std, self.device, cfg=self.config.augment,
                        generator=self.generator)
            y = targets[idx].to(self.device)
            with torch.autocast(self.device.type, enabled=use_amp):
                logits = self.model(x)
                loss = nn.functional.cross_entropy(logits.float(), y)
            self.optimiser.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimiser)
            self.scaler.update()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        return loss_sum / max(seen, 1), correct / max(seen, 1)

    def evaluate(self, val: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
        return _evaluate(self.model, *val, mean=self.mean, std=self.std, device=self.device,
                         batch_size=self.config.batch_size)


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    config: FitConfig,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device,
    label: str | None = "train",
) -> FitResult:
    """Train ``model`` in place on (uint8 images [N, 3, S, S], class indices [N]).

    With ``val``, stops after ``config.patience`` epochs without a lower val loss and restores the
    weights of the best epoch; without it, trains all epochs and keeps the last weights.
    ``label`` names the run in the progress bars and per-epoch notes; None shows neither.
    Returns per-epoch history: epoch, train_loss, train_acc, val_loss, val_acc (lists), best_epoch.
    """
    run = _Run.start(model, config, mean=mean, std=std, device=device)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(run.optimiser, T_max=max(config.epochs, 1))
    images, targets = train
    history: dict[str, Any] = {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    best_loss, best_epoch, best_state = float("inf"), 0, None
    started = time.perf_counter()
    n_batches = -(-len(images) // config.batch_size)
    for epoch in range(1, config.epochs + 1):
        where = f"{label} epoch {epoch}/{config.epochs}"
        with progress_bar(total=n_batches, desc=where, enabled=label is not None, leave=False, unit="batch",
                          log_every=None) as bar:
            train_loss, train_acc = run.train_epoch(images, targets, bar)
        scheduler.step()
        val_loss, val_acc = run.evaluate(val) if val is not None else (None, None)
        for key, value in zip(("epoch", "train_loss", "train_acc", "val_loss", "val_acc"),
                              (epoch, train_loss, train_acc, val_loss, val_acc), strict=True):
            history[key].append(value)
        if label is not None:
            scores = "" if val is None else f" | val loss {val_loss:.3f} acc {val_acc:.3f}"
            note(f"{where}: train loss {train_loss:.3f} acc {train_acc:.3f}{scores}")
        if val is None:
            best_epoch = epoch
        elif val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    history["best_epoch"] = best_epoch
    history["stopped_early"] = len(history["epoch"]) < config.epochs
    model.eval()
    return FitResult(history=history, best_epoch=best_epoch, seconds=time.perf_counter() - started)
