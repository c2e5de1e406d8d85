"""Batch precompute of explanations for stored items: ``explain_items`` and ``explain_split``.

Resumable (an explanation already stored with the same method and parameters is skipped), and
shardable: ``--shard i/n`` keeps the items with ``item_id % n == i``, so n workers on one PostgreSQL
database share the work without overlap; were two to overlap anyway, the unique constraint on
(prediction, method, params_key) keeps one row and the loser reuses it.

Missing predictions: items with no holdout Prediction of the model get one first (plain inference,
the same rows ``trustlab predict`` writes), so the app can explain any item on demand.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.explanations import add_explanation, find_explanations
from trustlab.db.queries.items import items_by_ids, list_items
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.predictions import add_predictions_if_missing, predictions_for_items
from trustlab.db.schema import Explanation, Item, ModelVersion, Prediction
from trustlab.explain.base import Explainer, ExplainError, get_explainer, params_key
from trustlab.explain.faithfulness import faithfulness_scores
from trustlab.explain.gallery import train_gallery
from trustlab.explain.gradcam import CamExplainer
from trustlab.explain.record import ExplainedBatch, build_explanation
from trustlab.job_progress import progress as progress_bar
from trustlab.models.checkpoint import LoadedModel, load_model
from trustlab.models.errors import ModelError
from trustlab.models.imported_kinds import layers_message, methods_it_cannot_run
from trustlab.models.infer import iter_probabilities
from trustlab.models.predict import HOLDOUT, prediction_rows

DEFAULT_BATCH_SIZE = 16
# Model evaluations per forward pass inside LIME / captum perturbation loops.
PERTURBATION_BATCH = 64
MASK_THRESHOLD = 127


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def keeps(self, item_id: int) -> bool:
        return item_id % self.count == self.index


def parse_shard(text: str | None) -> Shard | None:
    """``"i/n"`` -> Shard(i, n); None or "" -> None. Raises ExplainError naming the format."""
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ExplainError(f"--shard {text!r} must look like I/N, e.g. 0/4 (workers 0/4 … 3/4)") from None
    if count < 1 or not 0 <= index < count:
        raise ExplainError(f"--shard {text!r}: need N >= 1 and 0 <= I < N")
    return Shard(index, count)


def shard_items(item_ids: list[int], shard: Shard | None) -> list[int]:
    """The ids this shard owns, in the given order (all of them without a shard)."""
    return list(item_ids) if shard is None else [i for i in item_ids if shard.keeps(i)]


def resolve_params(method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The method's full parameter dict: its defaults updated by ``params[method]``.

    ``params`` maps method names to dicts, e.g. ``{"lime": {"num_samples": 500}}``."""
    cls = get_explainer(method)
    given = dict((params or {}).get(method, {}))
    unknown = sorted(set(given) - set(cls.default_params) - set(cls.optional_params))
    if unknown:
        allowed = ", ".join(sorted({*cls.default_params, *cls.optional_params})) or "none"
        raise ExplainError(f"--params for {method}: unknown {unknown}; allowed: {allowed}")
    return {**cls.default_params, **given}


def with_target_layer(
    methods: list[str], params: dict[str, dict[str, Any]] | None, target_layer: str | None
) -> dict[str, dict[str, Any]] | None:
    """``params`` with ``{"target_layer": target_layer}`` added for each of ``methods`` that takes
    one (the CAM family but fullgrad): what ``--target-layer NAME`` means. None/"": unchanged."""
    if not target_layer:
        return params
    out = {method: dict(values) for method, values in (params or {}).items()}
    takers = [m for m in methods if "target_layer" in get_explainer(m).optional_params]
    if not takers:
        raise ExplainError(
            f"--target-layer {target_layer!r}: none of {', '.join(methods)} takes a target layer"
        )
    for method in takers:
        out.setdefault(method, {}).setdefault("target_layer", target_layer)
    return out


def make_explainer(
    method: str, loaded: LoadedModel, params: dict[str, Any], *, gallery=None, module: nn.Module | None = None
) -> Explainer:
    """An explainer of ``method`` for a stored model (its normalisation, CAM layer and features).

    module: explain this module instead of ``loaded.module`` (the sanity check's randomised copy).
    The CAM target layer is ``params["target_layer"]`` when given, else found for the model
    (:func:`trustlab.explain.cam_target.cam_target`: the same layer as ``loaded.cam_layer`` for the
    built-in CNNs, and any timm / torchvision CNN or transformer)."""
    cls = get_explainer(method)
    if methods_it_cannot_run(loaded.arch, [method]):  # an imported program has no layers to hook
        raise ModelError(layers_message(loaded.name, loaded.arch, method))
    kwargs: dict[str, Any] = {"mean": loaded.mean, "std": loaded.std, **params}
    if issubclass(cls, CamExplainer):
        kwargs["input_size"] = loaded.img_size
    if cls.kind == "examples":
        kwargs.update(gallery=gallery, features=None if params.get("feature_layer") else loaded.features)
    if "batch_size" in inspect.signature(cls.__init__).parameters:
        kwargs["batch_size"] = PERTURBATION_BATCH
    return cls(loaded.module if module is None else module, **kwargs)


def _ensure_predictions(settings: Settings, loaded: LoadedModel, items: list[Item]) -> dict[int, Prediction]:
    ids = [item.id for item in items]
    with unit_of_work(settings) as session:
        found = predictions_for_items(session, model_version_id=loaded.model_version_id, item_ids=ids)
    missing = [item for item in items if item.id not in found]
    for chunk, probs in iter_probabilities(loaded, missing, progress=False):
        rows = prediction_rows(
            loaded.model_version_id, [i.id for i in chunk], probs, loaded.class_names, kind=HOLDOUT
        )
        with unit_of_work(settings) as session:
            add_predictions_if_missing(session, predictions=rows)
    if missing:
        with unit_of_work(settings) as session:
            found = predictions_for_items(session, model_version_id=loaded.model_version_id, item_ids=ids)
    return found


def _evidence(settings: Settings, item: Item, size: int) -> np.ndarray | None:
    """bool [size, size] ground-truth evidence mask at model-input resolution, or None."""
    if not item.mask_path:
        return None
    with Image.open(settings.images_dir / item.mask_path) as mask:
        small = mask.convert("L").resize((size, size), Image.Resampling.NEAREST)
    return np.asarray(small) > MASK_THRESHOLD


@dataclass(frozen=True)
class ExplainOptions:
    """How the methods run: ``params`` {method: {param: value}} overrides, the CAM methods'
    ``target_layer`` (a dotted module name, see :func:`with_target_layer`; default: found for the
    model), the ``device``, images per explainer call, and whether saliency maps get faithfulness
    scores (deletion / insertion AUC, ROAD, pointing game where the item has an evidence mask)."""

    params: dict[str, dict[str, Any]] | None = None
    target_layer: str | None = None
    device: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    faithfulness: bool = True

    def method_params(self, methods: list[str]) -> dict[str, dict[str, Any]]:
        """Each method's parameters: its defaults, the overrides, the target layer."""
        params = with_target_layer(methods, self.params, self.target_layer)
        return {method: resolve_params(method, params) for method in methods}


@dataclass
class _MethodJob:
    """One method, its resolved parameters and their key, and the items it has not explained yet."""

    method: str
    params: dict[str, Any]
    key: str
    items: list[Item]


def explain_items(
    settings: Settings,
    *,
    model: str,
    item_ids: list[int],
    methods: list[str],
    options: ExplainOptions = ExplainOptions(),
    progress: bool = False,
    loaded: LoadedModel | None = None,
) -> list[Explanation]:
    """Explain ``item_ids`` with each of ``methods``; compute only what is not stored yet.

    model: ModelVersion name. item_ids: Item ids (any dataset items the model can read).
    methods: registry names (see ``EXPLAINERS``). loaded: an already loaded model (the app's worker
    keeps one), else ``load_model``. Returns the Explanation rows, ordered by item then method (stored
    and newly computed alike).
    """
    resolved = options.method_params(methods)
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        items_map = items_by_ids(session, item_ids=item_ids)
    unknown = [i for i in item_ids if i not in items_map]
    if unknown:
        raise ExplainError(f"item ids {unknown[:5]} do not exist; pass ids of stored items")
    items = [items_map[i] for i in dict.fromkeys(item_ids)]
    loaded = loaded or load_model(settings, model, device=options.device)
    predictions = _ensure_predictions(settings, loaded, items)
    done: dict[tuple[int, str], Explanation] = {}
    total = len(items) * len(methods)
    with progress_bar(total=total, desc=f"explain {model}", unit="expl", enabled=progress) as bar:
        for method in methods:
            job = _MethodJob(method, resolved[method], params_key(method, resolved[method]), [])
            pred_ids = [predictions[item.id].id for item in items]
            with unit_of_work(settings) as session:
                stored = find_explanations(session, prediction_ids=pred_ids, method=method,
                                           params_key=job.key)
            for item in items:
                if predictions[item.id].id in stored:
                    done[(item.id, method)] = stored[predictions[item.id].id]
                else:
                    job.items.append(item)
            bar.update(len(items) - len(job.items))
            if job.items:
                done.update(_explain_method(settings, loaded, version, job, predictions, options=options,
                                            bar=bar))
    return [done[(item.id, method)] for item in items for method in methods]


def _explain_method(
    settings: Settings,
    loaded: LoadedModel,
    version: ModelVersion,
    job: _MethodJob,
    predictions: dict[int, Prediction],
    *,
    options: ExplainOptions,
    bar,
) -> dict[tuple[int, str], Explanation]:
    gallery, gallery_items = (None, None)
    if get_explainer(job.method).kind == "examples":
        gallery, gallery_items = train_gallery(
            settings, loaded, version, feature_layer=job.params.get("feature_layer")
        )
    index = {name: i for i, name in enumerate(loaded.class_names)}
    out: dict[tuple[int, str], Explanation] = {}
    with make_explainer(job.method, loaded, job.params, gallery=gallery) as explainer:
        for start in range(0, len(job.items), options.batch_size):
            chunk = job.items[start : start + options.batch_size]
            x = loaded.load_items(chunk)
            targets = [index[predictions[item.id].predicted_label] for item in chunk]
            began = time.perf_counter()
            attribution = explainer.explain(x, targets)
            if loaded.device.type == "cuda":
                torch.cuda.synchronize(loaded.device)
            per_image_ms = (time.perf_counter() - began) * 1000 / len(chunk)  # batch time, amortised
            scores = [None] * len(chunk)
            if options.faithfulness and attribution.maps is not None:
                evidence = [_evidence(settings, item, loaded.img_size) for item in chunk]
                scores = faithfulness_scores(loaded.module, x, attribution.maps, targets, evidence=evidence)
            batch = ExplainedBatch(job.method, job.params, job.key, attribution, loaded.class_names,
                                   per_image_ms, gallery_items)
            for i, item in enumerate(chunk):
                row = build_explanation(settings, batch, i, prediction=predictions[item.id], item=item,
                                        faithfulness=scores[i])
                with unit_of_work(settings) as session:
                    out[(item.id, job.method)] = add_explanation(session, explanation=row)
            bar.update(len(chunk))
    return out


def explain_split(
    settings: Settings,
    *,
    model: str,
    methods: list[str],
    split: str | None = "test",
    shard: Shard | None = None,
    **kwargs: Any,
) -> list[Explanation]:
    """``trustlab explain``: explain the items of one split (None: all) of the model's dataset,
    or this shard's part of them. Other keyword arguments go to :func:`explain_items`."""
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        ids = [item.id for item in list_items(session, dataset_id=version.dataset_id, split=split)]
    if not ids:
        raise ExplainError(f"the dataset of model {model!r} has no items in split {split!r}")
    return explain_items(settings, model=model, item_ids=shard_items(ids, shard), methods=methods, **kwargs)
