"""Explanation speed per method, our LIME against the reference `lime`, Grad-CAM against a forward pass;
and, with --demo, Grad-CAM's pointing game and the watermark bias report on the demo dataset.

Speed (standalone, random-init resnet18, no database)::

    python benchmarks/bench_explain.py [--device cpu|cuda] [--size 224] [--batch 8] [--lime-samples 200]

prints ms per image and images/s for every method, then in the same run:
- our batched LIME vs ``lime_image.LimeImageExplainer`` at equal num_samples, same segmentation, same
  model (reference at its default batch_size 10 and at ours);
- Grad-CAM over a batch vs the plain forward pass over the same batch (the floor), and vs
  pytorch-grad-cam's GradCAM without our graph cut.

Every comparison runs its contenders interleaved (one of each per round, ``--repeats`` rounds, 5 by
default, after one warm-up call each) and prints median [min-max] times and the per-round ratio as
median [min-max]: on a shared machine a single best-of-N is not a figure.

Demo (the watermark shortcut, and whether the explanations show it)::

    python benchmarks/bench_explain.py --demo DIR [--demo-n 1200] [--epochs 10] [--gallery PNG]

generates the demo dataset (4-class by default, or --demo-classes binary) with the spurious watermark
under DIR (unless there), ingests it into a throw-away TRUSTLAB_HOME, trains simple_cnn, explains the
test split with Grad-CAM and HiResCAM, and prints val and test accuracy (val carries the shortcut,
test does not), the pointing game on correctly classified contact images, the watermark bias report,
and how many misclassified test images carry the logo; --gallery saves their Grad-CAMs as one PNG.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trustlab.explain.base import ExplainError, get_explainer  # noqa: E402
from trustlab.explain.cam_target import TokensToMap, cam_target  # noqa: E402
from trustlab.explain.layers import penultimate_features  # noqa: E402
from trustlab.explain.twins import build_gallery  # noqa: E402
from trustlab.explanation_methods import METHOD_NAMES, names_where  # noqa: E402
from trustlab.models.arch import ArchError, build_model  # noqa: E402
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402

NUM_CLASSES = 4
# One forward per channel (512 on resnet18): too slow for a CPU run unless asked for.
SLOW_ON_CPU = ("scorecam", "ablationcam")
# Methods with many forward passes per image (sampling, integration steps, one per channel) are timed
# on fewer images (ms/image is the measure).
MANY_PASSES = names_where(many_passes=True)
GALLERY_SIZE = 64
# Fewest interleaved runs whose median is worth quoting on a shared machine.
MIN_REPEATS = 5


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _once(fn, device: torch.device) -> float:
    started = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - started


def _interleaved(runs: dict, device: torch.device, repeats: int) -> dict[str, list[float]]:
    """Wall seconds of every run, ``repeats`` rounds, the runs taking turns within each round (after
    one warm-up call each), so that load drifting on a shared machine hits all of them alike."""
    for fn in runs.values():
        fn()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(_once(fn, device))
    return times


def _spread(values) -> str:
    """'median [min-max]' of a list of numbers, as the tables print them."""
    v = np.asarray(values, dtype=float)
    return f"{np.median(v):.2f} [{v.min():.2f}-{v.max():.2f}]"


def _images(size: int, n: int) -> torch.Tensor:
    """Real-looking images (SLIC needs structure), normalised [n, 3, size, size]."""
    from skimage import data
    from skimage.transform import resize

    pictures = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    stack = np.stack(
        [resize(pictures[i % len(pictures)], (size, size), anti_aliasing=True) for i in range(n)]
    )
    x = torch.from_numpy(stack.astype(np.float32)).permute(0, 3, 1, 2)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _build(arch: str, size: int) -> torch.nn.Module:
    """A random-init classifier for ``NUM_CLASSES`` classes from any ``--arch`` form, through
    ``trustlab.models.arch.build_model`` (at ``size`` px where it takes an image size); ``timm:NAME``
    and ``torchvision:NAME`` straight from those libraries while ``build_model`` does not know them."""
    import inspect

    sized = {"img_size": size} if "img_size" in inspect.signature(build_model).parameters else {}
    try:
        return build_model(arch, NUM_CLASSES, **sized)
    except ArchError:
        if arch.startswith("torchvision:"):
            import torchvision

            return torchvision.models.get_model(arch.split(":", 1)[1], weights=None, num_classes=NUM_CLASSES)
        if not arch.startswith("timm:"):
            raise
    import timm

    try:
        return timm.create_model(arch[5:], pretrained=False, num_classes=NUM_CLASSES, img_size=size)
    except TypeError:  # CNNs take any size and have no img_size argument
        return timm.create_model(arch[5:], pretrained=False, num_classes=NUM_CLASSES)


def bench_methods(model, x, args, device) -> list[tuple[str, int, list[float]]]:
    """Per method: (name, images per call, wall seconds per call over the repeats)."""
    norm = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    gallery = build_gallery(
        lambda t: penultimate_features(model, t),
        [torch.randn(GALLERY_SIZE, *x.shape[1:], device=device)],
        [i % NUM_CLASSES for i in range(GALLERY_SIZE)],
        list(range(GALLERY_SIZE)),
    )
    rows = []
    for method in args.methods:
        if method in SLOW_ON_CPU and device.type == "cpu" and not args.include_slow:
            continue
        cls = get_explainer(method)
        kwargs = dict(norm)
        if method == "lime":
            kwargs["num_samples"] = args.lime_samples
        if method == "kernel_shap":
            kwargs["n_samples"] = args.lime_samples
        if cls.kind == "examples":
            kwargs["gallery"] = gallery
        batch = x[: args.perturb_images] if method in MANY_PASSES else x
        try:
            explainer = cls(model, **kwargs)
        except ExplainError as exc:  # e.g. fullgrad or cam on a transformer
            print(f"  {method:<22} refused: {str(exc)[:90]}", flush=True)
            continue
        with explainer:
            repeats = args.method_repeats if method in MANY_PASSES else args.repeats
            times = _interleaved({method: lambda e=explainer, b=batch: e.explain(b, targets=[0] * len(b))},
                                 device, repeats)[method]
        rows.append((method, len(batch), times))
        print(f"  {method:<22} {np.median(times) * 1000 / len(batch):>9.1f} ms/img (median of {len(times)})",
              flush=True)
    return rows


def bench_lime_vs_reference(model, x, args, device) -> list[tuple[str, float]]:
    from lime import lime_image

    from trustlab.explain.lime import LimeExplainer, segment_image

    ours = LimeExplainer(
        model,
        num_samples=args.lime_samples,
        hide_color=0.0,
        batch_size=64,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    image = x[:1]
    pixels = ours.to_pixels(image.to(device))[0].permute(1, 2, 0).cpu().numpy().astype(np.float64)
    segments = segment_image(pixels)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def classify(batch: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.asarray(batch, dtype=np.float32)).to(device).permute(0, 3, 1, 2)
        with torch.no_grad():
            return torch.softmax(model((t - mean) / std), dim=1).cpu().numpy()

    # lime 0.2 has a progress bar to switch off; older releases have no such argument.
    arguments = lime_image.LimeImageExplainer.explain_instance.__code__.co_varnames
    quiet = {"progress_bar": False} if "progress_bar" in arguments else {}

    def reference(batch_size: int) -> None:
        lime_image.LimeImageExplainer(random_state=0).explain_instance(
            pixels,
            classify,
            labels=(0,),
            top_labels=None,
            hide_color=0,
            num_samples=args.lime_samples,
            batch_size=batch_size,
            segmentation_fn=lambda _img: segments,
            **quiet,
        )

    runs = {
        "ours (batch 64, segmentation given)": lambda: ours.explain_segments(
            image[0].to(device), 0, segments
        ),
        "lime_image (batch 10, its default)": lambda: reference(10),
        "lime_image (batch 64)": lambda: reference(64),
    }
    return _interleaved(runs, device, args.repeats)


def bench_gradcam_vs_forward(model, x, device, repeats: int) -> dict[str, list[float]]:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    def forward() -> None:
        with torch.no_grad():
            model(x)

    explainer = get_explainer("gradcam")(model, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    target = cam_target(model, example=x[:1])
    if isinstance(target.reshape, TokensToMap):
        target.reshape.set_input(x)
    plain = GradCAM(model, [target.layer], reshape_transform=target.reshape)
    targets = [ClassifierOutputTarget(0)] * len(x)
    try:
        return _interleaved({
            "plain forward (no_grad)": forward,
            "our gradcam (graph cut at target layer)": lambda: explainer.explain(x, [0] * len(x)),
            "pytorch-grad-cam GradCAM as is": lambda: plain(input_tensor=x, targets=targets),
        }, device, repeats)
    finally:
        explainer.close()
        plain.activations_and_grads.release()


def _ratio_table(times: dict[str, list[float]], base: str, *, unit: float, unit_name: str,
                 invert: bool) -> None:
    """One line per run: median [min-max] time, and the ratio to ``base`` taken round by round
    (runs of one round ran back to back, so their ratio is less exposed to drifting load), as
    median [min-max]. invert: ratio = base / run (>1: run is faster); else run / base."""
    base_times = np.asarray(times[base])
    for name, values in times.items():
        v = np.asarray(values)
        ratio = base_times / v if invert else v / base_times
        print(f"  {name:<40} {_spread(v * unit):>24} {unit_name}   ratio {_spread(ratio)}")


def run_speed(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = _build(args.arch, args.size).to(device).eval()
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    x = _images(args.size, args.batch).to(device)
    print(
        f"{args.arch} (random init, {params_m:.1f} M parameters), {args.size}px, device {device}, "
        f"CPU threads {torch.get_num_threads()}; "
        f"LIME/KernelSHAP samples {args.lime_samples}",
        flush=True,
    )
    rows = bench_methods(model, x, args, device)
    print(f"\n{'method':<22} {'images':>6} {'ms/image median [min-max]':>28} {'images/s':>9} {'runs':>4}")
    for method, n, times in rows:
        ms = np.asarray(times) * 1000 / n
        print(f"{method:<22} {n:>6} {_spread(ms):>28} {n / np.median(times):>9.2f} {len(times):>4}")

    lime_times = bench_lime_vs_reference(model, x, args, device)
    print(
        f"\nLIME, one image, {args.lime_samples} samples, {args.repeats} interleaved runs: seconds "
        "median [min-max]; ratio = lime_image at batch 10 / this, per round (>1: faster)"
    )
    _ratio_table(lime_times, "lime_image (batch 10, its default)", unit=1.0, unit_name="s", invert=True)

    cam_times = bench_gradcam_vs_forward(model, x, device, args.repeats)
    print(f"\nGrad-CAM over a batch of {len(x)}, {args.repeats} interleaved runs: ms median [min-max]; "
          "ratio = time / plain forward, per round (target <= 4)")
    _ratio_table(cam_times, "plain forward (no_grad)", unit=1000.0, unit_name="ms", invert=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arch", default="resnet18",
                        help="resnet18 (a built-in name), timm:NAME, torchvision:NAME or python:MOD:FACTORY")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--perturb-images", type=int, default=2, help="images for the many-pass methods")
    parser.add_argument("--lime-samples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5,
                        help="interleaved timed runs per comparison (medians need at least 5)")
    parser.add_argument("--method-repeats", type=int, default=1,
                        help="timed runs of the many-pass methods (LIME, occlusion, ...) in the table")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--methods", type=lambda s: s.split(","), default=list(METHOD_NAMES))
    parser.add_argument("--include-slow", action="store_true", help="also scorecam on CPU")
    parser.add_argument("--demo", metavar="DIR", help="pointing game + watermark bias on the demo dataset")
    parser.add_argument("--demo-n", type=int, default=1200)
    parser.add_argument(
        "--demo-classes",
        choices=("binary", "4-class"),
        default="4-class",
        help="binary: the logo follows 'contact'; 4-class: it follows 'email'",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--img-size", type=int, default=None, help="demo: default train's")
    parser.add_argument("--gallery", metavar="PNG", help="demo: save Grad-CAMs of misclassified test images")
    args = parser.parse_args(argv)
    if args.repeats < MIN_REPEATS and not args.demo:
        print(f"note: --repeats {args.repeats} < {MIN_REPEATS}: medians of so few runs are not figures "
              "to quote")
    if args.demo:
        from explain_demo_gallery import run_demo

        run_demo(args)
    else:
        run_speed(args)


if __name__ == "__main__":
    main()
