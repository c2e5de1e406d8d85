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


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    config: FitConfig,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device,
    progress: bool = True,
    desc: str = "train",
) -> FitResult:
    """Train ``model`` in place on (uint8 images [N, 3, S, S], class indices [N]).

    With ``val``, stops after ``config.patience`` epochs without a lower val loss and restores the
    weights of the best epoch; without it, trains all epochs and keeps the last weights.
    Returns per-epoch history: epoch, train_loss, train_acc, val_loss, val_acc (lists), best_epoch.
    """
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(config.epochs, 1))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    images, targets = train
    history: dict[str, Any] = {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    best_loss, best_epoch, best_state = float("inf"), 0, None
    started = time.perf_counter()
    n_batches = -(-len(images) // config.batch_size)
    for epoch in range(1, config.epochs + 1):
        _train_mode(model)
        seen, loss_sum, correct = 0, 0.0, 0
        bar = progress_bar(total=n_batches, desc=f"{desc} epoch {epoch}/{config.epochs}", enabled=progress,
                           leave=False, unit="batch", log_every=None)
        for idx in batches(len(images), config.batch_size, shuffle=True, generator=generator):
            if len(idx) < 2 and len(images) > 1:
                continue  # a batch of one breaks BatchNorm's statistics
            x = prepare(images[idx], mean, std, device, cfg=config.augment, generator=generator)
            y = targets[idx].to(device)
            with torch.autocast(device.type, enabled=use_amp):
                logits = model(x)
                loss = nn.functional.cross_entropy(logits.float(), y)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        scheduler.step()
        history["epoch"].append(epoch)
        history["train_loss"].append(loss_sum / max(seen, 1))
        history["train_acc"].append(correct / max(seen, 1))
        if val is None:
            history["val_loss"].append(None)
            history["val_acc"].append(None)
            best_epoch = epoch
            if progress:
                note(f"{desc} epoch {epoch}/{config.epochs}: train loss {history['train_loss'][-1]:.3f} "
                     f"acc {history['train_acc'][-1]:.3f}")
            continue
        val_loss, val_acc = _evaluate(model, *val, mean=mean, std=std, device=device,
                                      batch_size=config.batch_size)
        history["val_loss"].append(val_loss)
        history["val_acc"].append(val_acc)
        if progress:
            note(f"{desc} epoch {epoch}/{config.epochs}: train loss {history['train_loss'][-1]:.3f} "
                 f"acc {history['train_acc'][-1]:.3f} | val loss {val_loss:.3f} acc {val_acc:.3f}")
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    history["best_epoch"] = best_epoch
    history["stopped_early"] = len(history["epoch"]) < config.epochs
    seconds = time.perf_counter() - started
    model.eval()
    return FitResult(history=history, best_epoch=best_epoch, seconds=seconds)
