"""Training and inference speed per architecture, and simple_cnn's accuracy on the demo dataset.

Speed (standalone, random data, no database)::

    python benchmarks/bench_train.py [--device cpu|cuda] [--img-size 64] [--batch-size 16] [--batches 3]

prints images/s for a training step (forward + backward + AdamW step; AMP on CUDA) and for inference
(no_grad forward) per architecture, with ratios against simple_cnn measured in the same run.

Accuracy (the issue's "done when")::

    python benchmarks/bench_train.py --demo DIR [--demo-n 1200] [--epochs 15]

generates the demo dataset under DIR (binary and 4-class, unless already there), ingests each into a
throw-away TRUSTLAB_HOME, trains simple_cnn and prints test accuracy and training time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trustlab.models.arch import ARCHS, build_model  # noqa: E402

BASELINE = "simple_cnn"
NUM_CLASSES = 4
WARMUP_STEPS = 1
# The demo's evidence is text near the edges: no mirrored text, and crops too small to cut it away.
DEMO_AUGMENT = "hflip=0,rotation_deg=5,crop_scale=0.9"


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


def run_demo(args: argparse.Namespace) -> None:
    from trustlab.config import load_settings
    from trustlab.data.demo import generate_demo
    from trustlab.data.ingest import ingest
    from trustlab.db.engine import dispose_engines
    from trustlab.models.datasets import AugmentConfig
    from trustlab.models.evaluate import evaluate_model
    from trustlab.models.train import train_model

    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.demo)
    rows = []
    for setting, binary in (("binary", True), ("4-class", False)):
        if args.only and setting != args.only:
            continue
        data_dir = root / setting
        if not (data_dir / "manifest.csv").is_file():
            generate_demo(data_dir, n=args.demo_n, seed=args.seed, binary=binary, progress=False)
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(home=home, db_url="")
            ingest(settings, data_dir, dataset="demo", manifest=data_dir / "manifest.csv")
            started, cpu_started = time.perf_counter(), time.process_time()
            version = train_model(settings, dataset="demo", arch="simple_cnn", name="demo_cnn",
                                  epochs=args.epochs, img_size=args.img_size, batch_size=args.batch_size,
                                  lr=args.lr, patience=args.patience, seed=args.seed, progress=False,
                                  augment=AugmentConfig.parse(args.augment))
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            result = evaluate_model(settings, model="demo_cnn", split="test", progress=False)
            dispose_engines()
        h = version.history
        rows.append((setting, len(version.class_names), h["n_train"], len(h["epoch"]), h["best_epoch"],
                     seconds, cpu_seconds, result.metrics["accuracy"], result.metrics["macro_f1"]))
        print(f"{setting}: test accuracy {result.metrics['accuracy']:.3f} in {seconds:.0f} s "
              f"({cpu_seconds:.0f} s CPU)", flush=True)
    print(f"simple_cnn on the demo dataset (n={args.demo_n}, img {args.img_size}px, "
          f"CPU threads {torch.get_num_threads()}; shared machine: times are upper bounds)")
    print(f"{'setting':<8} {'classes':>7} {'train':>6} {'epochs':>6} {'best':>4} {'wall s':>8} "
          f"{'CPU s':>7} {'test acc':>8} {'macro F1':>8}")
    for row in rows:
        print(f"{row[0]:<8} {row[1]:>7} {row[2]:>6} {row[3]:>6} {row[4]:>4} {row[5]:>8.1f} "
              f"{row[6]:>7.1f} {row[7]:>8.3f} {row[8]:>8.3f}")
    print("(wall s: training time on this machine as it was loaded; CPU s: process CPU time, "
          "user + system, of the training)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    parser.add_argument("--img-size", type=int, default=None, help="default 64 (speed), 96 (demo)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 16 (speed), 32 (demo)")
    parser.add_argument("--batches", type=int, default=3, help="timed batches per arch and mode")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--demo", metavar="DIR", help="accuracy run on the demo dataset under DIR")
    parser.add_argument("--only", choices=("binary", "4-class"), help="demo: one setting only")
    parser.add_argument("--demo-n", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", default=DEMO_AUGMENT, help="demo: augmentation settings (see train)")
    args = parser.parse_args(argv)
    if args.demo:
        args.img_size = args.img_size or 96
        args.batch_size = args.batch_size or 32
        run_demo(args)
    else:
        args.img_size = args.img_size or 64
        args.batch_size = args.batch_size or 16
        run_speed(args)


if __name__ == "__main__":
    main()
