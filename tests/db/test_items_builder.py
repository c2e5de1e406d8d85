from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset, split_counts
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names


def test_builder_writes_rows_and_files(settings):
    dataset_id = make_image_dataset(settings, per_class={"train": 3, "test": 2})
    with unit_of_work(settings) as s:
        assert get_dataset(s, name="shapes").id == dataset_id
        assert class_names(s, dataset_id=dataset_id) == ["square", "disc"]
        assert split_counts(s, dataset_id=dataset_id) == {"train": {"square": 3, "disc": 3},
                                                          "test": {"square": 2, "disc": 2}}
        items = list_items(s, dataset_id=dataset_id, split="test")
        assert len(items) == 4
        assert all((settings.images_dir / item.path).is_file() for item in items)
