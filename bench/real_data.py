"""Where the shared real data lives: `../shared/data/real` next to the repository (CI), or one
level further up for a worktree under `/work/wt/`; `EV_REAL_DATA` overrides both."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def real_data_dir() -> Path | None:
    candidates = [Path(os.environ["EV_REAL_DATA"])] if os.environ.get("EV_REAL_DATA") else []
    candidates += [_REPO.parent / "shared" / "data" / "real",
                   _REPO.parent.parent / "shared" / "data" / "real"]
    return next((c for c in candidates if c.is_dir()), None)
