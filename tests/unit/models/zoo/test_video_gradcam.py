"""Grad-CAM explains every video detector of the zoo: its default layer and layout give one map
per frame of a real face clip (tiny configs)."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from dfd.report.gradcam import gradcam_maps
from helpers.face_clips import face_clips

TINY_VIT = {
    "image_size": 64,
    "patch_size": 16,
    "num_frames": 4,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
DETECTORS = {
    "tall": {
        "_target_": "dfd.models.zoo.tall.TALL",
        "backbone": "swin_tiny_patch4_window7_224",
        "thumbnail_size": 64,
        "backbone_kwargs": {
            "embed_dim": 24,
            "depths": [1, 1],
            "num_heads": [1, 2],
            "window_size": 4,
        },
    },
    "ftcn": {"_target_": "dfd.models.zoo.ftcn.FTCN", "depths": [1, 1], "width": 8, "head_dim": 32},
    "i3d": {"_target_": "dfd.models.zoo.i3d.I3D", "depths": [1, 1], "width": 8},
    "altfreezing": {"_target_": "dfd.models.zoo.altfreezing.AltFreezing"},
    "timesformer": {"_target_": "dfd.models.zoo.hf_video.TimeSformer", "config": TINY_VIT},
    "videomae": {"_target_": "dfd.models.zoo.hf_video.VideoMAE", "config": TINY_VIT},
    "xclip": {
        "_target_": "dfd.models.zoo.hf_video.XCLIP",
        "vision_config": {**TINY_VIT, "mit_hidden_size": 16, "mit_num_attention_heads": 2},
        "projection_dim": 16,
    },
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_grad_cam_gives_each_frame_a_map(name: str) -> None:
    detector = instantiate(DETECTORS[name]).eval()
    maps = gradcam_maps(detector, face_clips(64, clip_len=4, batch=1)[0])
    # the layout's reshape gives one map per frame (a random network's maps may be all 0)
    assert maps.shape == (4, 64, 64) and np.isfinite(maps).all()
