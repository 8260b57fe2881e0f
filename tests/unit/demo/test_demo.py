"""The demo manipulations and the demo builder, on real media from registry packages."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import decord
import numpy as np
import pytest
from PIL import Image

from dfd.data.selfblend.blend import (
    sample_blend_params,
    sample_sbi_params,
    self_blend,
    self_blend_clip,
    self_blend_frames,
)
from dfd.data.selfblend.masks import MaskParams, face_ellipse, face_mask, sample_mask_params
from dfd.data.selfblend.online import OnlineSelfBlend
from dfd.demo.animate import animate_photo, sample_motion
from dfd.demo.build import (
    TRACK_MAX_GAP,
    build_demo,
    crop_photo_face,
    detect_photo_faces,
    read_video,
    track_face,
)
from dfd.demo.encode import write_video
from dfd.demo.media import fetch_media
from dfd.demo.roster import load_roster
from dfd.demo.swap import (
    Donor,
    face_extent,
    render,
    rendered_size,
    sample_swap_params,
    swap_face,
)


@pytest.fixture(scope="module")
def media() -> dict[str, Path]:
    return fetch_media(["photo_f1", "photo_f13", "carphone"])


def _photo(path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(Image.open(path).convert("RGB"))
    faces = detect_photo_faces(image)
    assert len(faces.boxes) == 1
    return crop_photo_face(image, faces.boxes[0], faces.points[0])


@pytest.fixture(scope="module")
def face_a(media) -> tuple[np.ndarray, np.ndarray]:
    return _photo(media["photo_f1"])


@pytest.fixture(scope="module")
def face_b(media) -> tuple[np.ndarray, np.ndarray]:
    return _photo(media["photo_f13"])


def test_mask_is_soft_and_centred(face_a):
    image, points = face_a
    for seed in range(5):
        mask = face_mask(image.shape, points, sample_mask_params(np.random.default_rng(seed)))
        assert mask.dtype == np.float32 and mask.min() >= 0.0 and mask.max() <= 1.0
        cx, cy = np.round(face_ellipse(points).centre).astype(int)
        assert mask[cy, cx] > 0.99
        assert mask[0, 0] == 0.0 and mask[-1, -1] == 0.0
        steps = max(np.abs(np.diff(mask, axis=0)).max(), np.abs(np.diff(mask, axis=1)).max())
        assert steps < 0.2, "the mask edge must be feathered, not a hard step"
        assert 0.05 < mask.mean() < 0.6


def test_self_blend_changes_face_only_with_one_draw_per_clip(face_a):
    image, points = face_a
    frames, moved = animate_photo(image, points, 6, sample_motion(np.random.default_rng(0)))
    out, params = self_blend_clip(frames, moved, np.random.default_rng(1))
    assert out.shape == frames.shape and out.dtype == np.uint8
    for frame, pts, fake in zip(frames, moved, out):
        mask = face_mask(frame.shape, pts, params.mask)
        assert np.array_equal(fake[mask == 0], frame[mask == 0])
        inside = mask > 0.9
        assert np.abs(fake[inside].astype(int) - frame[inside]).mean() > 2.0
        assert np.array_equal(self_blend(frame, pts, params), fake), (
            "one parameter draw for the clip"
        )


def test_blending_a_stack_at_once_equals_blending_frame_by_frame(face_a):
    """The online blend does a clip in one go (one mask, vectorised colour and blur)."""
    image, points = face_a
    frames, _ = animate_photo(image, points, 4, sample_motion(np.random.default_rng(0)))
    for seed in range(6):
        params = sample_blend_params(np.random.default_rng(seed))
        stacked = self_blend_frames(frames, points, params)
        assert np.array_equal(stacked, np.stack([self_blend(f, points, params) for f in frames]))
        assert not np.array_equal(stacked, frames)


def test_swap_pastes_colour_matched_donor(face_a, face_b):
    target, target_points = face_a
    donor_image, donor_points = face_b
    params = sample_swap_params(np.random.default_rng(3))
    out = swap_face(target, target_points, Donor("f13", donor_image, donor_points), params)
    mask = face_mask(target.shape, target_points, params.mask)
    assert np.array_equal(out[mask == 0], target[mask == 0])
    core = (
        face_mask(target.shape, target_points, MaskParams(scale_x=0.6, scale_y=0.6, feather=0.01))
        > 0.5
    )
    assert np.abs(out[core].astype(int) - target[core]).mean() > 8.0, "the face region must change"
    donor_mean = donor_image[
        face_mask(donor_image.shape, donor_points, MaskParams(0.6, 0.6, feather=0.01)) > 0.5
    ].mean(0)
    target_mean, out_mean = target[core].mean(0), out[core].mean(0)
    assert np.abs(out_mean - target_mean).sum() < np.abs(donor_mean - target_mean).sum()


def test_a_swap_renders_the_donor_face_at_a_generator_s_size(face_b):
    donor_image, donor_points = face_b
    donor = Donor("f13", donor_image, donor_points)
    rendered = render(donor, 64.0)
    assert face_extent(rendered.points) == pytest.approx(64.0, rel=0.02)
    assert rendered.image.shape[0] < donor_image.shape[0]
    # the landmarks still sit on the face: the rendered eye region is the original, smaller
    (ex, ey) = rendered.points[0].round().astype(int)
    (ox, oy) = np.asarray(donor_points[0]).round().astype(int)
    assert np.abs(rendered.image[ey, ex].astype(int) - donor_image[oy, ox]).max() < 60
    assert render(donor, 10 * face_extent(donor_points)) is donor, "never scaled up"


def test_a_swap_is_rendered_at_a_fraction_of_the_target_s_face(face_a):
    """A person filmed twice as large gets a swap rendered twice as large: how soft a swap is
    does not depend on how large its target was filmed."""
    _, points = face_a
    clip = np.repeat(np.asarray(points, np.float32)[None], 4, axis=0)
    params = sample_swap_params(np.random.default_rng(0))
    small, large = rendered_size(clip, params), rendered_size(clip * 2.0, params)
    assert large == pytest.approx(2 * small)
    assert 0.3 <= small / face_extent(points) <= 0.5


def test_encode_roundtrip_keeps_size_count_and_colour(tmp_path):
    frames = np.zeros((17, 91, 120, 3), np.uint8)
    frames[:] = (30, 140, 30)
    frames[:, 20:70, 30:90] = (220, 20, 20)
    path = write_video(tmp_path / "red.mp4", frames)
    reader = decord.VideoReader(str(path))
    assert len(reader) == 17
    decoded = reader.get_batch(list(range(17))).asnumpy()
    assert decoded.shape == (17, 90, 120, 3)
    assert np.abs(decoded[:, 40, 60].astype(int) - (220, 20, 20)).max() < 12
    assert np.abs(decoded[:, 5, 5].astype(int) - (30, 140, 30)).max() < 12


def test_video_track_finds_the_face_everywhere(media):
    frames = read_video(media["carphone"])
    assert frames.shape[1:] == (144, 176, 3) and len(frames) == 100
    track = track_face(frames[:40])
    assert track is not None and track.covered(TRACK_MAX_GAP, np.arange(40)).all()
    eyes = track.points[:, :2].mean(1)
    assert np.all((eyes > 0) & (eyes < (176, 144)))


def test_small_build_layout_groups_and_provenance(tmp_path):
    out = tmp_path / "raw"
    labels = build_demo(
        out,
        seed=0,
        clip_seconds=0.6,
        clips_per_photo=1,
        max_clips_per_video=1,
        groups=["pair02", "pair03"],
    )
    rows = list(csv.DictReader(labels.read_text().splitlines()))
    assert {r["label"] for r in rows} == {"REAL", "FAKE"}
    for row in rows:
        assert (out / row["file"]).is_file()
    reals = [r for r in rows if r["label"] == "REAL" and r["group"] != "control"]
    assert len(reals) == 5  # pair02's two people and pair03's trio, one clip each
    assert any(r["file"] == "real/cartoon_no_face.mp4" and r["group"] == "control" for r in rows)
    provenance = json.loads((out / "provenance.json").read_text())
    groups = load_roster().groups
    assert all(r["split"] == groups[r["group"]].split for r in rows if r["group"] != "control")
    group_of = {r["file"]: r["group"] for r in rows}
    for name, fake in provenance["fake"].items():
        assert group_of[name] == group_of[fake["source_clip"]]
        if fake["method"] == "face_swap":
            assert fake["donor"] in groups[group_of[name]].members
            assert fake["donor"] != provenance["real"][fake["source_clip"]]["identity"]
    identity = {r["file"]: (r["identity"], r["method"]) for r in rows}
    for name, real in provenance["real"].items():
        assert identity[name] == (real["identity"] or "", "real")
    for name, fake in provenance["fake"].items():  # a swap: the filmed person, then the donor
        filmed = provenance["real"][fake["source_clip"]]["identity"]
        assert identity[name] == (
            (filmed, "sbi")
            if fake["method"] == "self_blend"
            else (f"{filmed};{fake['donor']}", "swap")
        )
    assert provenance["seed"] == 0 and "carphone" in provenance["sources"]
    assert provenance["sources"]["carphone"]["licence"]
    source = decord.VideoReader(str(out / "real/carphone_00.mp4"))
    twin = decord.VideoReader(str(out / "fake/carphone_00_swap.mp4"))
    assert len(source) == len(twin) == 15 and source[0].shape == twin[0].shape == (144, 176, 3)
    assert build_demo(out, groups=["pair02"]) == labels, "an existing build is kept"
    assert len(list(csv.DictReader(labels.read_text().splitlines()))) == len(rows)


def test_sbi_style_alters_the_face_or_the_frame_around_it(face_a):
    """The paper's source-target generator: half the draws alter the face, half the frame."""
    image, points = face_a
    frames = np.stack([image, image])
    seen = {True: 0, False: 0}
    ratios = set()
    for seed in range(40):
        params = sample_sbi_params(np.random.default_rng(seed))
        out = self_blend_frames(frames, points, params)
        mask = face_mask(image.shape, points, params.mask)
        outside = mask == 0
        changed_outside = not np.array_equal(out[0][outside], image[outside])
        assert changed_outside == params.alter_target
        assert np.array_equal(out[0], out[1]), "one draw for the whole clip"
        seen[params.alter_target] += 1
        ratios.add(params.ratio)
    assert min(seen.values()) >= 10 and ratios <= {0.25, 0.5, 0.75, 1.0} and len(ratios) >= 3


def test_online_blend_style_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown self-blend style 'paper'"):
        OnlineSelfBlend(style="paper")
