"""Training and inference speed per architecture, and simple_cnn's accuracy on the demo dataset.

Speed (standalone, random data, no database)::

    python benchmarks/bench_train.py [--device cpu|cuda] [--img-size 64] [--batch-size 16] [--batches 3]

prints images/s for a training step (forward + backward + AdamW step; AMP on CUDA) and for inference
(no_grad forward) per architecture, with ratios against simple_cnn measured in the same run.

Accuracy on the demo::

    python benchmarks/bench_train.py --demo DIR [--demo-n 1200 600] [--configs old 64px avg flips default]
        [--epochs 10] [--bias] [--threads N]

generates the 4-class demo dataset of each size under DIR (unless already there), and per
configuration (train's defaults, and each with one lever set to an alternative: ``old`` sets them all)
ingests it into a
throw-away TRUSTLAB_HOME, trains simple_cnn and prints val and test accuracy with the training time.
--bias generates the data with the watermark shortcut (val biased as train is, test not).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trustlab.models import arch as arch_module  # noqa: E402
from trustlab.models.arch import ARCHS, build_model  # noqa: E402

BASELINE = "simple_cnn"
NUM_CLASSES = 4
WARMUP_STEPS = 1
# train's augmentation before the demo changes: mirrored text and crops that can cut it away.
OLD_AUGMENT = "hflip=0.5,rotation_deg=10,crop_scale=0.8"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_arch(arch: str, *, device: torch.device, img_size: int, batch_size: int, batches: int) -> dict:
    """images/s for training steps and inference batches of random images [B, 3, S, S]."""
    torch.manual_seed(0)
    model = build_model(arch, NUM_CLASSES).to(device)
    x = torch.randn(batch_size, 3, img_size, img_size, device=device)
    y = torch.randint(0, NUM_CLASSES, (batch_size,), device=device)
    use_amp = device.type == "cuda"
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    def train_step() -> None:
        with torch.autocast(device.type, enabled=use_amp):
            loss = nn.functional.cross_entropy(model(x).float(), y)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()

    def infer_step() -> None:
        with torch.no_grad(), torch.autocast(device.type, enabled=use_amp):
            model(x)

    out = {"arch": arch, "params_m": sum(p.numel() for p in model.parameters()) / 1e6}
    for label, step, mode in (("train", train_step, model.train), ("infer", infer_step, model.eval)):
        mode()
        for _ in range(WARMUP_STEPS):
            step()
        _sync(device)
        started = time.perf_counter()
        for _ in range(batches):
            step()
        _sync(device)
        out[f"{label}_ips"] = batches * batch_size / (time.perf_counter() - started)
    return out


def run_speed(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda asked for, but torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; img {args.img_size}px, batch {args.batch_size}, {args.batches} timed batches "
          f"(+{WARMUP_STEPS} warm-up); torch {torch.__version__}")
    rows = []
    for arch in args.archs:
        rows.append(bench_arch(arch, device=device, img_size=args.img_size, batch_size=args.batch_size,
                               batches=args.batches))
        if device.type == "cuda":
            torch.cuda.empty_cache()
    base = next((r for r in rows if r["arch"] == BASELINE), rows[0])
    print(f"{'arch':<11} {'params(M)':>9} {'train img/s':>12} {'x base':>7} "
          f"{'infer img/s':>12} {'x base':>7}")
    for r in rows:
        print(f"{r['arch']:<11} {r['params_m']:>9.2f} {r['train_ips']:>12.1f} "
              f"{r['train_ips'] / base['train_ips']:>7.3f} {r['infer_ips']:>12.1f} "
              f"{r['infer_ips'] / base['infer_ips']:>7.3f}")
    print(f"(ratios: images/s divided by {base['arch']}'s in this run)")


@dataclass(frozen=True)
class DemoConfig:
    """One way to train simple_cnn on the demo: None keeps train's default."""

    name: str
    img_size: int | None = None
    pool: str | None = None
    batch_size: int | None = None
    lr: float | None = None
    augment: str | None = None


# The choice behind the defaults, one lever at a time ("default" is train's defaults as they are).
DEMO_CONFIGS = {
    "old": DemoConfig("64 px, average pool, batch 32, lr 1e-3, flips", img_size=64,
                      pool="avg", batch_size=32, lr=1e-3, augment=OLD_AUGMENT),
    "64px": DemoConfig("64 px, else default", img_size=64),
    "avg": DemoConfig("average pool, else default", pool="avg"),
    "flips": DemoConfig("flips as augmentation, else default", augment=OLD_AUGMENT),
    "geometric": DemoConfig("5 deg rotations, 0.9 crops, else default",
                            augment="rotation_deg=5,crop_scale=0.9"),
    "batch32": DemoConfig("batch 32, lr 1e-3, else default", batch_size=32, lr=1e-3),
    "default": DemoConfig("default (96 px, max pool, batch 8, lr 2e-3, colour jitter)"),
}


@contextmanager
def _simple_cnn_pool(pool: str | None):
    """simple_cnn built with ``pool`` while inside (the benchmark's lever; train has no flag for it)."""
    old = arch_module.SIMPLE_CNN_POOL
    arch_module.SIMPLE_CNN_POOL = pool or old
    try:
        yield
    finally:
        arch_module.SIMPLE_CNN_POOL = old


def _train_and_score(data_dir: Path, config: DemoConfig, args: argparse.Namespace) -> dict:
    from trustlab.config import load_settings
    from trustlab.data.ingest import ingest
    from trustlab.db.engine import dispose_engines
    from trustlab.models.datasets import AugmentConfig
    from trustlab.models.evaluate import evaluate_model
    from trustlab.models.train import TrainConfig, train_model

    given = {k: getattr(config, k) for k in ("img_size", "batch_size", "lr") if getattr(config, k)}
    if config.augment is not None:
        given["augment"] = AugmentConfig.parse(config.augment)
    with tempfile.TemporaryDirectory() as home, _simple_cnn_pool(config.pool):
        settings = load_settings(home=home, db_url="")
        ingest(settings, data_dir, dataset="demo", manifest=data_dir / "manifest.csv")
        started, cpu_started = time.perf_counter(), time.process_time()
        version = train_model(settings, TrainConfig.of(dataset="demo", arch="simple_cnn", name="demo_cnn",
                              epochs=args.epochs, seed=args.seed, **given), progress=False)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        val = evaluate_model(settings, model="demo_cnn", split="val", progress=False).metrics["accuracy"]
        test = evaluate_model(settings, model="demo_cnn", split="test", progress=False).metrics["accuracy"]
        dispose_engines()
    return {"epochs": len(version.history["epoch"]), "best": version.history["best_epoch"],
            "img": version.img_size, "seconds": seconds, "cpu": cpu_seconds, "val": val, "test": test}


def run_demo(args: argparse.Namespace) -> None:
    from trustlab.data.demo import generate_demo

    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.demo)
    bias = "watermark" if args.bias else None
    print(f"simple_cnn on the 4-class demo, {args.epochs} epochs, CPU threads {torch.get_num_threads()}"
          f"{', --bias watermark (val biased like train, test not)' if bias else ''}; shared machine: "
          "wall times are upper bounds", flush=True)
    print(f"{'images':>6} {'configuration':<60} {'img':>4} {'epochs':>6} {'best':>4} {'wall s':>7} "
          f"{'CPU s':>6} {'val acc':>7} {'test acc':>8}", flush=True)
    for n in args.demo_n:
        data_dir = root / f"4-class-n{n}-seed{args.seed}{'-' + bias if bias else ''}"
        if not (data_dir / "manifest.csv").is_file():
            generate_demo(data_dir, n=n, seed=args.seed, bias=bias, progress=False)
        for key in args.configs:
            r = _train_and_score(data_dir, DEMO_CONFIGS[key], args)
            print(f"{n:>6} {DEMO_CONFIGS[key].name:<60} {r['img']:>4} {r['epochs']:>6} {r['best']:>4} "
                  f"{r['seconds']:>7.1f} {r['cpu']:>6.1f} {r['val']:>7.3f} {r['test']:>8.3f}", flush=True)
    print("(wall s: training time on this machine as it was loaded; CPU s: process CPU time, user + "
          "system, of the training; val/test: accuracy on the dataset's val and test splits)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=3, help="timed batches per arch and mode")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--demo", metavar="DIR", help="accuracy run on the demo dataset under DIR")
    parser.add_argument("--demo-n", type=int, nargs="+", default=[1200, 600], help="demo: dataset sizes")
    parser.add_argument("--configs", nargs="+", default=list(DEMO_CONFIGS), choices=list(DEMO_CONFIGS),
                        help="demo: training configurations to compare")
    parser.add_argument("--bias", action="store_true", help="demo: generate with --bias watermark")
    parser.add_argument("--epochs", type=int, default=10, help="demo: epochs (train's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.demo:
        run_demo(args)
    else:
        run_speed(args)


if __name__ == "__main__":
    main()
