"""BackboneUnits: a timm CNN cut into units computes what the whole network computes, widens its
first convolution by timm's rule, stops early when asked, and loads a weights file the way every
dfd backbone does (an offline file, the ImageNet RGB layout, widened after loading)."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from dfd.models.zoo.units import BackboneUnits


def test_units_chain_to_the_whole_networks_features() -> None:
    torch.manual_seed(0)
    units = BackboneUnits("resnet18").eval()
    torch.manual_seed(0)
    whole = timm.create_model("resnet18", num_classes=0).eval()  # the same initial weights
    assert len(units.units) == 5 and units.channels == [64, 64, 128, 256, 512]
    assert units.reductions == [4, 4, 8, 16, 32]
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(units(images), whole.forward_features(images), atol=1e-5)
    shallow = BackboneUnits("resnet18", depth=2)
    assert len(shallow.units) == 2 and shallow.channels == [64, 64]


def test_a_weights_file_loads_then_the_first_conv_is_widened(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = timm.create_model("resnet18", num_classes=0)
    torch.save(source.state_dict(), tmp_path / "resnet18.pth")
    units = BackboneUnits("resnet18", in_chans=4, weights=str(tmp_path / "resnet18.pth")).eval()
    rgb = source.conv1.weight
    # timm's rule: RGB kernels repeated over the new channels, scaled by 3 / in_chans
    expected = torch.cat([rgb, rgb[:, :1]], dim=1) * 3 / 4
    assert torch.allclose(units.units[0][0].weight, expected)
    assert torch.equal(units.units[4][0][0].conv1.weight, source.layer4[0].conv1.weight)
    with pytest.raises(ValueError, match="do not fit timm 'resnet34'"):
        BackboneUnits("resnet34", weights=str(tmp_path / "resnet18.pth"))
