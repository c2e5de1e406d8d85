"""Architectures, weights files and checkpoints: build, load, round-trip and every refusal."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torchvision.models import resnet18

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version
from trustlab.models.arch import build_model, cam_target_layer, head_module
from trustlab.models.checkpoint import ModelSpec, file_sha256, load_model, pick_device, register_model
from trustlab.models.errors import ArchError, CheckpointError, DuplicateModelError, ModelError
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD

CLASSES = ("square", "disc")
SIZE = 32


@pytest.mark.parametrize("arch", ["simple_cnn", "resnet18"])
def test_build_model_gives_logits_and_exposes_head_and_cam_layer(arch):
    model = build_model(arch, 3).eval()
    out = model(torch.randn(2, 3, SIZE, SIZE))
    assert out.shape == (2, 3)
    assert head_module(model, arch).out_features == 3
    assert isinstance(cam_target_layer(model, arch), torch.nn.Module)


def test_unknown_arch_and_one_class_are_refused():
    with pytest.raises(ArchError, match="unknown architecture 'alexnet'"):
        build_model("alexnet", 2)
    with pytest.raises(ArchError, match="at least 2 classes"):
        build_model("simple_cnn", 1)


def test_resnet18_loads_backbone_weights_from_a_local_file(tmp_path):
    source = resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model = build_model("resnet18", 2, weights=path)
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, source.layer4[1].bn2.running_var)
    assert model.fc.out_features == 2  # the 1000-class head was not loaded


def test_weights_for_another_arch_name_the_keys_that_do_not_fit(tmp_path):
    path = tmp_path / "simple.pth"
    torch.save(build_model("simple_cnn", 2).state_dict(), path)
    with pytest.raises(ArchError, match=r"does not fit architecture 'resnet18'.*missing keys: .*unexpected"):
        build_model("resnet18", 2, weights=path)
    with pytest.raises(ArchError, match="does not exist"):
        build_model("resnet18", 2, weights=tmp_path / "nope.pth")


def _register(settings, name="m1", arch="simple_cnn"):
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"test": 2}, size=SIZE)
    torch.manual_seed(0)
    module = build_model(arch, len(CLASSES)).eval()
    version = register_model(settings, name=name, dataset_id=dataset_id, module=module,
                             spec=ModelSpec(arch=arch, class_names=CLASSES, img_size=SIZE, mean=IMAGENET_MEAN,
                                            std=IMAGENET_STD))
    return version, module, dataset_id


def test_checkpoint_round_trip_gives_the_same_outputs(settings):
    version, module, dataset_id = _register(settings)
    loaded = load_model(settings, "m1", device="cpu")
    assert loaded.class_names == list(CLASSES) and loaded.model_version_id == version.id
    assert not loaded.module.training
    with unit_of_work(settings) as s:
        items = list_items(s, dataset_id=dataset_id, split="test")
    x = loaded.load_items(items)
    assert x.shape == (len(items), 3, SIZE, SIZE)
    with Image.open(settings.images_dir / items[0].path) as image:
        assert torch.allclose(loaded.preprocess([image])[0], x[0])
    probs = loaded.predict_proba(x)
    assert probs.shape == (len(items), 2) and torch.allclose(probs.sum(1), torch.ones(len(items)))
    with torch.no_grad():
        assert torch.allclose(torch.softmax(module(x), 1), probs, atol=1e-6)
    assert loaded.features(x).shape == (len(items), head_module(module, "simple_cnn").in_features)
    with pytest.raises(DuplicateModelError, match="'m1' exists already"):
        register_model(settings, name="m1", dataset_id=dataset_id, module=module,
                       spec=ModelSpec(arch="simple_cnn", class_names=CLASSES, img_size=SIZE,
                                      mean=IMAGENET_MEAN, std=IMAGENET_STD))


def test_unknown_model_name_lists_known_models(settings):
    _register(settings)
    with unit_of_work(settings) as s, pytest.raises(NotFound, match=r"'nope'.*known: m1"):
        get_model_version(s, name="nope")


def test_altered_checkpoint_is_refused_by_sha256(sqlite_settings):
    version, _, _ = _register(sqlite_settings)
    path = sqlite_settings.models_dir / version.checkpoint_path
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(CheckpointError, match="sha256"):
        load_model(sqlite_settings, "m1")


def _rewrite_version(settings, name, **changes):
    from trustlab.db.schema import ModelVersion
    with unit_of_work(settings) as s:
        version = s.get(ModelVersion, get_model_version(s, name=name).id)
        for key, value in changes.items():
            setattr(version, key, value)
        s.commit()


def test_checkpoint_of_another_arch_is_refused(sqlite_settings):
    _register(sqlite_settings)
    _rewrite_version(sqlite_settings, "m1", arch="resnet18")
    with pytest.raises(CheckpointError, match="'simple_cnn' model but model 'm1' is recorded as 'resnet18'"):
        load_model(sqlite_settings, "m1")


def test_checkpoint_whose_weights_do_not_fit_the_arch_is_refused(sqlite_settings):
    version, _, _ = _register(sqlite_settings)
    path = sqlite_settings.models_dir / version.checkpoint_path
    payload = torch.load(path, weights_only=True)
    torch.save({"state_dict": build_model("resnet18", 2).state_dict(), "meta": payload["meta"]}, path)
    _rewrite_version(sqlite_settings, "m1", checkpoint_sha256=file_sha256(path))
    with pytest.raises(CheckpointError, match=r"not fit architecture 'simple_cnn' \(missing keys: feat"):
        load_model(sqlite_settings, "m1")
    path.write_bytes(b"not a checkpoint")
    _rewrite_version(sqlite_settings, "m1", checkpoint_sha256=file_sha256(path))
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_model(sqlite_settings, "m1")


def test_checkpoint_with_another_class_count_is_refused(sqlite_settings):
    _register(sqlite_settings)
    _rewrite_version(sqlite_settings, "m1", class_names=["a", "b", "c"])
    with pytest.raises(CheckpointError, match="has 2 classes but model 'm1' lists 3"):
        load_model(sqlite_settings, "m1")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal only happens without CUDA")
def test_asking_for_cuda_without_one_is_a_clear_error():
    with pytest.raises(ModelError, match="no CUDA device"):
        pick_device("cuda")
    assert pick_device("auto") == torch.device("cpu") and pick_device(None) == torch.device("cpu")
