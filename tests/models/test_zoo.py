"""Architectures by name: torchvision:NAME, timm:NAME and python:module:factory, trained through the
real train path, saved and loaded back; local weights files; clear errors; nothing touches the network."""

from __future__ import annotations

import socket
import textwrap

import pytest
import torch

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.models.arch import (
    build_kwargs,
    build_model,
    cam_target_layer,
    check_arch,
    head_module,
    head_prefix,
    model_family,
)
from trustlab.models.checkpoint import ModelSpec, load_model, register_model
from trustlab.models.errors import ArchError
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD
from trustlab.models.train import TrainConfig, train_model

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_network")

SIZE = 64
CLASSES = ("square", "disc")
TINY = {"train": 4, "val": 2, "test": 2}
FAST = {"img_size": SIZE, "batch_size": 4, "epochs": 1}
VIT = "timm:vit_tiny_patch16_224"
MOBILENET = "torchvision:mobilenet_v3_small"
USER_MODULE = "tl_user_nets_for_tests.vision.classifiers"
USER_ARCH = f"python:{USER_MODULE}:build_classifier"
USER_CODE = """
from torch import nn


def build_classifier(num_classes):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, num_classes))


not_a_model = 42


def returns_a_string(num_classes):
    return "no"
"""


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection (a download) fails the test."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's own model package on sys.path: tl_user_nets_for_tests/vision/classifiers.py."""
    folder = tmp_path / "user_code" / "tl_user_nets_for_tests" / "vision"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "classifiers.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.syspath_prepend(str(tmp_path / "user_code"))
    yield USER_ARCH


def _items(settings, split):
    with unit_of_work(settings) as s:
        return list_items(s, dataset_id=1, split=split)


def _val_accuracy(settings, name):
    loaded = load_model(settings, name, device="cpu")
    items = _items(settings, "val")
    probs = loaded.predict_proba(loaded.load_items(items))
    truth = torch.tensor([loaded.class_names.index(item.original_label) for item in items])
    return loaded, float((probs.argmax(1) == truth).float().mean())


@pytest.mark.parametrize("arch", [MOBILENET, VIT])
def test_library_models_train_save_and_load_back(sqlite_settings, arch):
    s = sqlite_settings
    make_image_dataset(s, classes=CLASSES, per_class=TINY, size=SIZE)
    version = train_model(s, TrainConfig.of(dataset="shapes", arch=arch, name="m", **FAST), progress=False)
    assert version.arch == arch
    loaded, val_acc = _val_accuracy(s, "m")
    # The loaded model is the trained one: it scores the val accuracy training recorded.
    assert val_acc == pytest.approx(version.history["val_acc"][version.history["best_epoch"] - 1])
    assert loaded.features(loaded.load_items(_items(s, "test"))).shape[0] == len(CLASSES) * TINY["test"]


def test_a_vit_is_built_for_the_image_size_and_rebuilt_from_its_checkpoint(sqlite_settings):
    torch.manual_seed(0)
    module = build_model(VIT, len(CLASSES), img_size=SIZE).eval()
    assert build_kwargs(module) == {"img_size": SIZE}
    assert model_family(module) == "vit" and head_prefix(module, VIT) == "head."
    assert head_module(module, VIT).out_features == len(CLASSES)
    with pytest.raises(ArchError, match="is a vit model, not a CNN"):
        cam_target_layer(module, VIT)
    dataset_id = make_image_dataset(sqlite_settings, classes=CLASSES, per_class={"test": 2}, size=SIZE)
    register_model(sqlite_settings, name="vit", dataset_id=dataset_id, module=module,
                   spec=ModelSpec(arch=VIT, class_names=CLASSES, img_size=SIZE, mean=IMAGENET_MEAN,
                                  std=IMAGENET_STD))
    loaded = load_model(sqlite_settings, "vit", device="cpu")
    x = loaded.load_items(_items(sqlite_settings, "test"))
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), module(x), atol=1e-5)
    assert loaded.features(x).shape == (len(x), 192)  # the CLS embedding, the head's input


def test_a_user_factory_trains_and_loads_back_under_a_long_arch_name(sqlite_settings, user_module):
    assert len(user_module) > 50  # wider than the arch column before migration 0007
    s = sqlite_settings
    make_image_dataset(s, classes=CLASSES, per_class=TINY, size=SIZE)
    version = train_model(s, TrainConfig.of(dataset="shapes", arch=user_module, name="mine", **FAST),
                                            progress=False)
    loaded, val_acc = _val_accuracy(s, "mine")
    assert loaded.arch == user_module and version.arch == user_module
    assert val_acc == pytest.approx(version.history["val_acc"][version.history["best_epoch"] - 1])
    assert model_family(loaded.module) == "cnn"
    layer = cam_target_layer(loaded.module, user_module)
    assert isinstance(layer, torch.nn.Conv2d | torch.nn.ReLU)


def test_user_factories_that_do_not_fit_are_clear_errors(user_module):
    module = USER_MODULE
    with pytest.raises(ArchError, match=r"has no function 'build_clasifier'.*did you mean build_classifier"):
        check_arch(f"python:{module}:build_clasifier")
    with pytest.raises(ArchError, match="returned a str, not a torch nn.Module"):
        build_model(f"python:{module}:returns_a_string", 2)
    with pytest.raises(ArchError, match="cannot import module 'no_such_pkg.nets'.*PYTHONPATH"):
        check_arch("python:no_such_pkg.nets:build")
    with pytest.raises(ArchError, match="not of the form python:package.module:factory"):
        check_arch("python:just_a_module")


def test_unknown_names_list_the_forms_and_close_matches():
    with pytest.raises(ArchError) as caught:
        check_arch("vit_tiny")
    message = str(caught.value)
    assert "unknown architecture 'vit_tiny'" in message and "timm:vit_tiny_patch16_224" in message
    for form in ("torchvision:NAME", "timm:NAME", "python:package.module:factory", "simple_cnn"):
        assert form in message
    with pytest.raises(ArchError,
                       match=r"not a torchvision classification model.*torchvision:efficientnet_b0,"):
        check_arch("torchvision:efficientnet_b00")
    with pytest.raises(ArchError, match=r"not a timm model.*timm:deit_tiny_patch16_224"):
        check_arch("timm:deit_tiny")
    with pytest.raises(ArchError,
                       match=r"'efficientnet_b0'.*torchvision:efficientnet_b0, timm:efficientnet_b0"):
        build_model("efficientnet_b0", 2)
    assert check_arch("timm:vit_tiny_patch16_224.augreg_in21k") == "timm:vit_tiny_patch16_224.augreg_in21k"


@pytest.mark.parametrize("arch", ["torchvision:efficientnet_b0", "torchvision:convnext_tiny",
                                  "timm:resnet18", "timm:convnext_atto"])
def test_cnns_from_the_libraries_get_a_spatial_cam_layer(arch):
    model = build_model(arch, 3).eval()
    assert model_family(model) == "cnn"
    maps = []
    handle = cam_target_layer(model, arch).register_forward_hook(lambda _m, _i, out: maps.append(out))
    with torch.no_grad():
        logits = model(torch.randn(1, 3, SIZE, SIZE))
    handle.remove()
    assert logits.shape == (1, 3) and maps[0].ndim == 4 and maps[0].shape[2] * maps[0].shape[3] >= 1


@pytest.mark.parametrize("arch,family",
                         [("torchvision:swin_t", "swin"), ("timm:deit_tiny_patch16_224", "vit")])
def test_transformers_have_a_family_and_no_cnn_layer(arch, family):
    model = build_model(arch, 2, img_size=SIZE)
    assert model_family(model) == family
    with pytest.raises(ArchError, match=f"is a {family} model, not a CNN"):
        cam_target_layer(model, arch)


def test_timm_weights_drop_the_head_of_another_class_count_and_resample_positions(tmp_path):
    import timm

    torch.manual_seed(1)
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # 1000 classes, 224 px
    path = tmp_path / "vit_tiny.pth"
    torch.save({"model": source.state_dict(), "epoch": 3}, path)  # timm's train.py checkpoint layout
    notes: list[str] = []
    model = build_model(VIT, 2, weights=path, img_size=SIZE, notes=notes)
    assert torch.equal(model.blocks[3].attn.qkv.weight, source.blocks[3].attn.qkv.weight)
    assert model.pos_embed.shape == (1, 1 + (SIZE // 16) ** 2, 192)  # resampled from 14x14 to 4x4
    assert model.head.out_features == 2
    assert len(notes) == 1 and "dropped the classifier head" in notes[0]
    assert "head.weight (1000, 192)" in notes[0]
    # A head of the dataset's class count is kept.
    same = build_model(VIT, 2, img_size=SIZE)
    torch.save({"state_dict": same.state_dict()}, path)
    notes.clear()
    again = build_model(VIT, 2, weights=path, img_size=SIZE, notes=notes)
    assert notes == [] and torch.equal(again.head.weight, same.head.weight)


def test_torchvision_weights_from_safetensors_drop_the_head(tmp_path, sqlite_settings):
    from safetensors.torch import save_file
    from torchvision.models import mobilenet_v3_small

    source = mobilenet_v3_small(weights=None)
    path = tmp_path / "mobilenet.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    notes: list[str] = []
    model = build_model(MOBILENET, 2, weights=path, notes=notes)
    assert torch.equal(model.features[0][0].weight, source.features[0][0].weight)
    assert model.classifier[3].out_features == 2 and "classifier.3.weight (1000, 1024)" in notes[0]
    # Through training, the note is recorded with the model.
    make_image_dataset(sqlite_settings, classes=CLASSES, per_class=TINY, size=SIZE)
    version = train_model(sqlite_settings, TrainConfig.of(dataset="shapes", arch=MOBILENET, name="tuned",
                                                          weights=path,
                          freeze=True, **FAST), progress=False)
    assert version.training_config["weights_notes"] == notes
    with pytest.raises(ArchError, match=r"does not fit architecture 'timm:resnet18'.*missing keys"):
        build_model("timm:resnet18", 2, weights=path)


def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"not safetensors")
    with pytest.raises(ArchError, match="not a readable safetensors file"):
        build_model(MOBILENET, 2, weights=path)
    listing = tmp_path / "list.pt"
    torch.save([1, 2], listing)
    with pytest.raises(ArchError, match="does not hold a state dict"):
        build_model(MOBILENET, 2, weights=listing)


def test_building_never_opens_a_connection(monkeypatch):
    """The no_network fixture is active: every build above would have failed on a download."""
    with pytest.raises(AssertionError, match="network connection was attempted"):
        socket.create_connection(("example.org", 80))
    for arch in (MOBILENET, VIT, "timm:resnet18"):
        build_model(arch, 2, img_size=SIZE)
