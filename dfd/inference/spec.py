"""Everything a trained detector needs besides its weights, and where each setting came from.

The same record describes a checkpoint (read from it and its run folder) and an exported
model (read from its JSON sidecar), so `dfd predict` treats both alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dfd.eval.scoring import ScoringSettings
from dfd.prepare.settings import PrepareSettings

# preparation fields that describe one machine or one run, not how crops are made
MACHINE_FIELDS = ("device", "workers", "shard", "num_shards", "force")


@dataclass(frozen=True)
class Threshold:
    """The decision threshold: fake when the video score is at least `value`."""

    value: float
    rule: str
    chosen_on: str
    source: str


@dataclass(frozen=True)
class DetectorSpec:
    """Clip settings, threshold, scoring settings and preparation of one trained detector.

    `scoring` is how the run's evaluation scored (test-time views, precision, batch size,
    aggregation), the settings its threshold was chosen with; `frame_scores` says whether the
    detector also scores every frame alone (frame backbones).
    `provenance` holds facts about the weights (source checkpoint, config hash, dfd version);
    `notes` are warnings worth printing (a fallback taken, say).
    """

    clip_len: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_margin: float
    threshold: Threshold
    scoring: ScoringSettings
    scoring_source: str
    prepare: PrepareSettings
    prepare_source: str
    frame_scores: bool
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The spec as the plain values a sidecar stores."""
        return {
            "clip_len": self.clip_len,
            "image_size": self.image_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "crop_margin": self.crop_margin,
            "threshold": asdict(self.threshold),
            "scoring": {"settings": self.scoring.to_json(), "source": self.scoring_source},
            "prepare": {"settings": portable_prepare(self.prepare), "source": self.prepare_source},
            "frame_scores": self.frame_scores,
            **self.provenance,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], base: PrepareSettings, source: str) -> DetectorSpec:
        """A spec from sidecar values; machine fields of preparation come from `base`."""
        known = {f.name for f in fields(PrepareSettings)} - set(MACHINE_FIELDS)
        stored = {k: v for k, v in data["prepare"]["settings"].items() if k in known}
        prepare = PrepareSettings(**{**asdict(base), **stored})
        provenance_keys = set(data) - {f.name for f in fields(cls)} - {"aggregation"}
        scoring, scoring_source = stored_scoring(data)
        return cls(
            clip_len=int(data["clip_len"]),
            image_size=int(data["image_size"]),
            mean=tuple(data["mean"]),
            std=tuple(data["std"]),
            crop_margin=float(data["crop_margin"]),
            threshold=Threshold(**data["threshold"]),
            scoring=scoring,
            scoring_source=f"{source}: {scoring_source}",
            prepare=prepare,
            prepare_source=f"{source}: {data['prepare']['source']}",
            frame_scores=bool(data["frame_scores"]),
            provenance={key: data[key] for key in sorted(provenance_keys)},
        )


def portable_prepare(settings: PrepareSettings) -> dict[str, Any]:
    """Preparation settings without the machine-specific fields (device, workers, shards)."""
    return {k: v for k, v in asdict(settings).items() if k not in MACHINE_FIELDS}


def stored_scoring(data: dict[str, Any]) -> tuple[ScoringSettings, str]:
    """(scoring settings, where they came from) of a sidecar; one written before sidecars kept
    them has only its aggregation (scored without test-time views, in float32)."""
    if "scoring" in data:
        return ScoringSettings.from_json(data["scoring"]["settings"]), data["scoring"]["source"]
    old = data["aggregation"]
    return (
        ScoringSettings(aggregation=old["strategy"], aggregation_options=old["options"]),
        f"{old['source']} (an older sidecar: aggregation only)",
    )
