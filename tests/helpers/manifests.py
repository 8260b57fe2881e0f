"""Manifest rows made by hand for the split, fold and protocol tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def people_rows() -> pd.DataFrame:
    """14 people: p00-p11 in swap pairs (p00<->p01, ...), each with 1 to 3 source videos (its
    own group) and, per source, a real, an sbi fake and a swap fake with the partner's face;
    p12 and p13 only real; two anonymous groups without identity; video r_p00_0 has two faces."""
    rng = np.random.default_rng(0)
    rows = []
    for person in range(14):
        name, partner = f"p{person:02d}", f"p{person ^ 1:02d}"
        for source in range(int(rng.integers(1, 4))):
            group = f"{name}_src{source}"
            rows.append((f"r_{name}_{source}", 0, group, name, "real"))
            if person < 12:
                rows.append((f"s_{name}_{source}", 1, group, name, "sbi"))
                rows.append((f"w_{name}_{source}", 1, group, f"{name};{partner}", "swap"))
    for anonymous in ("anon_a", "anon_b"):
        rows += [
            (f"r_{anonymous}", 0, anonymous, "", ""),
            (f"f_{anonymous}", 1, anonymous, "", "sbi"),
        ]
    frame = pd.DataFrame(rows, columns=["video_id", "label", "group", "identity", "method"])
    frame["face"] = 0
    extra_face = frame[frame["video_id"] == "r_p00_0"].assign(face=1)
    frame = pd.concat([frame, extra_face], ignore_index=True)
    return frame.assign(clip_id=frame["video_id"] + "#" + frame["face"].astype(str), split="train")
