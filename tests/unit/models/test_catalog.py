"""The catalog builds a detector as training would, the recipe's overrides included."""

from __future__ import annotations

from dfd.models.catalog import build


def test_build_takes_the_recipes_shape_where_a_config_reads_it() -> None:
    """F3Net's frequency filters are made for `datamodule.image_size`: a benchmark at 112 px
    trains it at 112 px, not at the default 160."""
    default, (_, default_size) = build("f3net")
    assert default.input_spec.image_size == default_size == 160
    detector, (clip_len, image_size) = build(
        "f3net", overrides=["datamodule.image_size=112", "datamodule.clip_len=2"]
    )
    assert (clip_len, image_size) == (2, 112)
    assert detector.input_spec.nearest(clip_len, image_size) == (2, 112)
