"""Defaults live in conf/: a typed settings object that repeats them (for library callers) must
repeat them exactly, and the command lines without a config take theirs from the object."""

from __future__ import annotations

from dataclasses import fields

import pytest
from omegaconf import OmegaConf

from dfd.datasets.folds import CvSettings
from dfd.prepare.settings import PrepareSettings
from dfd.serve.__main__ import parser as serve_parser
from dfd.serve.settings import ServeSettings
from dfd.serve.worker import parser as worker_parser
from helpers.runs import CONF


@pytest.mark.parametrize(
    ("settings", "config", "block"),
    [
        (PrepareSettings, "prepare.yaml", "prepare"),
        (CvSettings, "data/cv/default.yaml", None),
    ],
)
def test_settings_defaults_are_the_yaml_values(settings: type, config: str, block: str) -> None:
    loaded = OmegaConf.load(CONF / config)
    values = OmegaConf.to_container(loaded[block] if block else loaded, resolve=True)
    names = {field.name for field in fields(settings)}
    assert set(values) == names, "every field is configured in the YAML, and nothing else"
    assert {name: getattr(settings(), name) for name in names} == values


def test_serve_and_worker_command_lines_take_the_serve_settings_defaults() -> None:
    defaults = ServeSettings()
    served = serve_parser().parse_args(["model.ckpt"])
    assert (
        served.device,
        served.batch_size,
        served.max_upload_mb,
        served.max_duration,
        served.max_in_flight,
    ) == (
        defaults.device,
        defaults.batch_size,
        defaults.max_upload_mb,
        defaults.max_duration_s,
        defaults.max_in_flight,
    )
    worker = worker_parser().parse_args(
        ["model.ckpt", "--queue", "redis://127.0.0.1:6379/0", "--upload-dir", "up"]
    )
    assert (worker.device, worker.batch_size) == (defaults.device, defaults.batch_size)
