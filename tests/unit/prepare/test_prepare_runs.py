"""Preparation runs on real videos: records and resume (SIGKILL), shards, several faces, workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfd.datasets.labels import read_label_csv
from dfd.datasets.manifest import frame_paths, ok_rows, read_manifest
from dfd.demo.encode import write_video
from dfd.demo.media import fetch_media
from dfd.prepare.records import RECORDS_DIR
from dfd.prepare.runner import prepare_dataset
from dfd.prepare.settings import PrepareSettings
from dfd.prepare.shards import ShardError, in_shard, merge_shards
from helpers.runs import REPO as REPO_ROOT
from helpers.runs import run_entry_point

FAST = {"num_frames": 3, "face_size": 48}


@pytest.fixture(scope="module")
def media() -> dict[str, Path]:
    return fetch_media(["man_webcam", "cartoon_no_face", "photo_multi_face"])


@pytest.fixture(scope="module")
def group_video(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]) -> Path:
    """A short real video of a group photo of five people, panning slowly."""
    image = np.asarray(Image.open(media["photo_multi_face"]).convert("RGB"))
    height, width = image.shape[:2]
    frames = [image[: height - 8, shift : width - 8 + shift] for shift in range(0, 8, 2)]
    return write_video(tmp_path_factory.mktemp("group") / "group.mp4", frames)


def raw_dir(root: Path, sources: dict[str, Path]) -> Path:
    """A raw folder of symlinked real videos, labelled alternately REAL and FAKE."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    rows = []
    for index, (name, source) in enumerate(sources.items()):
        (raw / name).symlink_to(source)
        rows.append(f"{name},{('REAL', 'FAKE')[index % 2]}")
    (raw / "labels.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
    return raw


def run(raw: Path, prepared: Path, **settings: object):
    labels = read_label_csv(raw / "labels.csv", raw)
    return prepare_dataset(
        labels, raw, prepared, PrepareSettings(**{**FAST, **settings}), show_progress=False
    )


def mtimes(prepared: Path) -> dict[str, int]:
    return {
        str(p.relative_to(prepared)): p.stat().st_mtime_ns
        for p in prepared.rglob("*")
        if p.is_file()
    }


def test_records_make_reruns_free_and_settings_changes_redo(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = raw_dir(
        tmp_path, {"man.mp4": media["man_webcam"], "cartoon.mp4": media["cartoon_no_face"]}
    )
    prepared = tmp_path / "prepared"
    first = run(raw, prepared)
    assert first["status"].tolist() == ["ok", "skipped"]
    assert sorted(p.name for p in (prepared / RECORDS_DIR).iterdir()) == [
        "cartoon.json",
        "man.json",
    ]
    before = mtimes(prepared)

    again = run(raw, prepared)
    assert again.equals(first)
    after = mtimes(prepared)
    assert {k: v for k, v in after.items() if "manifest" not in k} == {
        k: v for k, v in before.items() if "manifest" not in k
    }, "no video redone, no-face video included"

    bigger = run(raw, prepared, face_size=56)  # an output setting changed: everything is redone
    with Image.open(frame_paths(ok_rows(bigger).iloc[0], prepared)[0]) as image:
        assert image.size == (56, 56)
    forced = run(raw, prepared, face_size=56, force=True)
    assert mtimes(prepared)[f"{RECORDS_DIR}/cartoon.json"] > after[f"{RECORDS_DIR}/cartoon.json"]
    assert forced.equals(bigger)


@pytest.mark.slow
def test_a_sigkilled_run_resumes_without_redoing_or_half_written_files(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = raw_dir(tmp_path, {f"v{i}.mp4": media["man_webcam"] for i in range(8)})
    data = tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "dfd.prepare",
        "data=csv",
        f"data.raw_dir={raw}",
        f"paths.data_dir={data}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "prepare.workers=1",
        "prepare.num_frames=6",
        "prepare.face_size=48",
    ]
    records = data / "csv" / "prepared" / RECORDS_DIR
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(records.glob("*.json"))) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = {p.stem: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 3 <= len(done) < 8, "killed mid-run"
    prepared = records.parent
    faces_before = {k: v for k, v in mtimes(prepared).items() if k.startswith("faces/")}

    manifest = run(raw, prepared, num_frames=6)
    assert len(manifest) == 8 and set(manifest["status"]) == {"ok"}
    assert {p.stem: p.stat().st_mtime_ns for p in records.glob("*.json") if p.stem in done} == done
    faces_after = mtimes(prepared)
    for name, stamp in faces_before.items():
        if name.split("/")[1] in done:
            assert faces_after[name] == stamp, f"finished video redone: {name}"
    assert not list(prepared.rglob("*.partial")) and not list(prepared.rglob("*.tmp"))
    for row in manifest.to_dict("records"):
        assert all(path.is_file() for path in frame_paths(row, prepared))


def test_shards_split_the_videos_and_merge_into_one_manifest(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    sources = {f"v{i}.mp4": media["man_webcam"] for i in range(5)} | {
        "cartoon.mp4": media["cartoon_no_face"]
    }
    raw = raw_dir(tmp_path, sources)
    prepared = tmp_path / "prepared"
    with pytest.raises(ShardError, match="2 of 2 shard manifests missing"):
        merge_shards(prepared, 2)
    parts = [run(raw, prepared, shard=shard, num_shards=2) for shard in (0, 1)]
    assert all(len(part) for part in parts), "both shards got videos"
    assert set(parts[0]["video_id"]).isdisjoint(parts[1]["video_id"])
    assert all(in_shard(video_id, 0, 2) for video_id in parts[0]["video_id"])
    assert sorted(p.name for p in prepared.glob("manifest*.csv")) == [
        "manifest.shard-000-of-002.csv",
        "manifest.shard-001-of-002.csv",
    ]
    before = mtimes(prepared)
    assert run(raw, prepared, shard=1, num_shards=2).equals(parts[1])  # idempotent rerun
    assert {k: v for k, v in mtimes(prepared).items() if k.startswith("faces/")} == {
        k: v for k, v in before.items() if k.startswith("faces/")
    }

    merged = merge_shards(prepared, 2)
    assert sorted(merged["video_id"]) == sorted(Path(name).stem for name in sources)
    assert read_manifest(prepared / "manifest.csv").equals(merged)
    whole = run(raw, tmp_path / "whole")
    key = ["video_id", "status", "split", "num_frames", "frame_indices"]
    assert whole.sort_values("video_id")[key].reset_index(drop=True).equals(merged[key])


def test_every_face_of_a_group_video_becomes_its_own_clip(
    tmp_path: Path, group_video: Path, media: dict[str, Path]
) -> None:
    raw = raw_dir(tmp_path, {"group.mp4": group_video, "man.mp4": media["man_webcam"]})
    prepared = tmp_path / "prepared"
    largest = run(raw, prepared)
    assert largest["clip_id"].tolist() == ["group", "man"]
    everyone = run(raw, prepared, faces="all")
    group = everyone[everyone["video_id"] == "group"]
    assert len(group) >= 3, "the group photo has five faces"
    assert group["clip_id"].tolist() == [f"group#{k}" for k in range(len(group))]
    assert group["face"].tolist() == list(range(len(group)))
    assert everyone[everyone["video_id"] == "man"]["clip_id"].tolist() == ["man#0"]
    assert not (prepared / "faces" / "group").exists(), (
        "the largest-only clip of the earlier run is gone"
    )
    crops = [
        np.asarray(Image.open(frame_paths(row, prepared)[0])) for row in group.to_dict("records")
    ]
    assert all(not np.array_equal(crops[0], other) for other in crops[1:]), "different faces"
    assert len(run(raw, prepared, faces="all", max_faces=2).query("video_id == 'group'")) == 2


def test_frames_beyond_the_memory_budget_are_read_twice_in_chunks(
    tmp_path: Path, group_video: Path, media: dict[str, Path]
) -> None:
    """With a budget of one frame, detection reads the searched frames one at a time and the
    crops are cut from a second read: the same clips, boxes and pixels as in one read."""
    raw = raw_dir(tmp_path, {"group.mp4": group_video, "man.mp4": media["man_webcam"]})
    settings = {"num_frames": 5, "detect_every": 2, "faces": "all"}
    whole = run(raw, tmp_path / "whole", **settings)
    chunked = run(raw, tmp_path / "chunked", frame_memory_mb=1, **settings)
    assert len(whole) >= 4 and (whole["status"] == "ok").all()
    assert chunked.equals(whole)
    for row in whole.to_dict("records"):
        for path in frame_paths(row, tmp_path / "whole"):
            twin = tmp_path / "chunked" / path.relative_to(tmp_path / "whole")
            assert twin.read_bytes() == path.read_bytes()


@pytest.mark.slow
def test_two_workers_give_the_same_manifest_as_one(tmp_path: Path, media: dict[str, Path]) -> None:
    sources = {f"v{i}.mp4": media["man_webcam"] for i in range(3)} | {
        "cartoon.mp4": media["cartoon_no_face"]
    }
    raw = raw_dir(tmp_path, sources)
    (raw / "bad.mp4").write_text("not a video")
    with open(raw / "labels.csv", "a") as labels:
        labels.write("bad.mp4,FAKE\n")
    one = run(raw, tmp_path / "one", workers=1)
    two = run(raw, tmp_path / "two", workers=2)
    assert two.equals(one)
    assert one.set_index("video_id").loc["bad", "status"] == "skipped"


@pytest.mark.slow
def test_entry_point_prepares_shards_and_merges_them(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = raw_dir(tmp_path, {f"v{i}.mp4": media["man_webcam"] for i in range(3)})
    common = [
        "data=csv",
        f"data.raw_dir={raw}",
        f"paths.data_dir={tmp_path / 'data'}",
        "prepare.num_frames=2",
        "prepare.face_size=48",
        "prepare.num_shards=2",
        "prepare.workers=1",
    ]
    result = run_entry_point(
        "dfd.prepare", "-m", *common, "prepare.shard=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"
    )
    assert result.stdout.count("prepare summary") == 2
    merged = run_entry_point(
        "dfd.prepare", *common, "merge=true", f"hydra.run.dir={tmp_path / 'merge'}"
    )
    assert "merged 2 shards: 3 rows" in merged.stdout
    assert len(read_manifest(tmp_path / "data" / "csv" / "prepared" / "manifest.csv")) == 3


def _pool_workers() -> list[int]:
    """Process ids of the pool workers: children of the fork server that this process started."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if b"forkserver" in (stat.parent / "cmdline").read_bytes():
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    servers = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return [pid for pid, parent in parents.items() if parent in servers]


@pytest.mark.slow
def test_a_dead_worker_costs_no_video(tmp_path: Path, media: dict[str, Path]) -> None:
    raw = raw_dir(tmp_path, {f"v{i}.mp4": media["man_webcam"] for i in range(6)})
    prepared = tmp_path / "prepared"
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            workers = _pool_workers()
            if workers and list((prepared / RECORDS_DIR).glob("*.json")):
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    manifest = run(raw, prepared, workers=2, num_frames=6)
    killer.join()
    assert killed, "a worker was killed mid-run"
    assert len(manifest) == 6 and set(manifest["status"]) == {"ok"}, manifest["reason"].tolist()


def test_a_video_that_hit_an_unexpected_error_is_tried_again(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = raw_dir(tmp_path, {"man.mp4": media["man_webcam"]})
    prepared = tmp_path / "prepared"
    run(raw, prepared)
    record_file = prepared / RECORDS_DIR / "man.json"
    record = json.loads(record_file.read_text())
    record["clips"] = [
        {**record["clips"][0], "status": "skipped", "reason": "error: OSError: disk full"}
    ]
    record_file.write_text(json.dumps(record))
    assert run(raw, prepared)["status"].tolist() == ["ok"]
