"""`dfd models` lists the zoo from the real configs: composed through Hydra, built, counted and
timed; a config that fails to build is a row with its error; a user's own config folder counts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dfd.cli.models import main
from dfd.errors import UsageError
from helpers.runs import run_dfd

# Meso4 at its paper's 256 px: four 'same' convolutions on maps halved in turn, then two dense
# layers; a multiply-add counts 2 FLOPs
MESO4_FLOPS = 2 * (
    3 * 3 * 3 * 8 * 256**2
    + 5 * 5 * 8 * 8 * 128**2
    + 5 * 5 * 8 * 16 * 64**2
    + 5 * 5 * 16 * 16 * 32**2
    + 16 * 8 * 8 * 16
    + 16
)


def rows_of(text: str) -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in csv.DictReader(io.StringIO(text))}


def test_dfd_models_lists_real_configs_as_csv() -> None:
    result = run_dfd(
        "models", "--only", "meso4,resnet18,r3d_18", "--format", "csv", "--repeats", "1"
    )
    assert result.returncode == 0, result.stderr
    rows = rows_of(result.stdout)
    assert list(rows) == ["meso4", "resnet18", "r3d_18"]
    meso4 = rows["meso4"]
    assert meso4["input"] == "frames 256px (image_size >= 64)"
    assert int(meso4["parameters"]) == 27_977
    assert float(meso4["gflops"]) == pytest.approx(MESO4_FLOPS / 1e9, rel=1e-3)
    assert float(meso4["cpu_ms"]) > 0
    assert meso4["pretrained"] == "none" and "MesoNet" in meso4["paper"]
    assert rows["resnet18"]["pretrained"] == "timm:resnet18"
    assert rows["resnet18"]["input"] == "frames 160px (any size and length)"  # datamodule's
    assert rows["r3d_18"]["pretrained"] == "torchvision:r3d_18"
    assert rows["r3d_18"]["input"].startswith("clips 4x160px")
    assert "error" not in meso4


def test_a_config_that_fails_to_build_is_a_row_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "broken.yaml").write_text(
        "_target_: dfd.models.zoo.mesonet.Meso4\nwidth: 3\n"
    )
    argv = ["--only", "broken,meso4", "--format", "markdown", "--no-timing"]
    assert main([*argv, "--config-dir", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| name | input | parameters | GFLOPs | pretrained | paper | error |"
    broken, meso4 = lines[2:]
    assert broken.startswith("| broken |") and "width" in broken and "Error" in broken
    assert meso4.startswith("| meso4 | frames 256px") and "| 27,977 |" in meso4


def test_an_unknown_name_is_a_usage_error_naming_the_options() -> None:
    with pytest.raises(UsageError, match=r"no model config named fly \(options: .*meso4"):
        main(["--only", "fly", "--no-timing"])
