"""Tensor augmentation and the decoded image cache."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.models.datasets import AugmentConfig, ItemImages, augment
from trustlab.models.errors import DataError


def test_augment_is_seeded_keeps_shape_and_does_not_mutate_its_input():
    batch = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    before = batch.clone()
    a = augment(batch, AugmentConfig(), torch.Generator().manual_seed(1))
    b = augment(batch, AugmentConfig(), torch.Generator().manual_seed(1))
    c = augment(batch, AugmentConfig(), torch.Generator().manual_seed(2))
    assert torch.equal(batch, before)
    assert a.shape == (6, 3, 32, 32) and a.dtype == torch.float32
    assert 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    off = augment(batch, AugmentConfig(enabled=False), torch.Generator())
    assert torch.equal(off, batch.float() / 255)


def test_flip_only_mirrors_each_image_horizontally():
    batch = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    flip_all = AugmentConfig(hflip=1.0, rotation_deg=0, crop_scale=1.0,
                             brightness=0, contrast=0, saturation=0)
    out = augment(batch, flip_all, torch.Generator().manual_seed(0))
    assert torch.allclose(out, batch.float().flip(-1) / 255, atol=1e-5)


def test_item_images_decodes_a_split_once_with_labels_in_class_order(sqlite_settings):
    make_image_dataset(sqlite_settings, size=32, per_class={"train": 3})
    with unit_of_work(sqlite_settings) as s:
        items = list_items(s, dataset_id=1, split="train")
    data = ItemImages(sqlite_settings, items, ["disc", "square"], img_size=24)
    assert data.images.shape == (6, 3, 24, 24) and data.images.dtype == torch.uint8
    assert data.targets.tolist() == [1, 1, 1, 0, 0, 0]
    image, target = data[0]
    assert image.shape == (3, 24, 24) and target == 1


def test_augment_settings_parse_from_text_and_refuse_unknown_keys():
    cfg = AugmentConfig.parse("hflip=0, rotation_deg=5,crop_scale=0.9")
    assert (cfg.hflip, cfg.rotation_deg, cfg.crop_scale, cfg.brightness) == (0, 5, 0.9, 0.2)
    assert AugmentConfig.parse("off").enabled is False and AugmentConfig.parse("") == AugmentConfig()
    with pytest.raises(DataError, match="'blur=1' is not KEY=NUMBER"):
        AugmentConfig.parse("blur=1")
    with pytest.raises(DataError, match="must be a number"):
        AugmentConfig.parse("hflip=often")
