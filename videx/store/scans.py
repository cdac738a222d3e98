"""Stored activity scans: one summary row per clip, one score per clip-second."""

from __future__ import annotations

import json
import math


class ScanStore:
    """Reads and writes ``scans`` and ``activity``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def scanned(self) -> dict[int, str]:
        """{clip id: scan mode} of every scanned clip."""
        return {r[0]: r[1] for r in self.db.rows("SELECT clip_id, mode FROM scans")}

    def store(self, clip_id: int, mode: str, frames: int, width: int, height: int,
              mask_top: float, peak: float, flags: list[dict], scores: list[float],
              luma: list[float | None], frozen: list[bool], at: str,
              note: str | None = None) -> None:
        """Replace a clip's stored scan (inside the open write transaction)."""
        self.cat.require_tx()
        self.db.execute("DELETE FROM activity WHERE clip_id = ?", [clip_id])
        self.db.executemany(
            "INSERT INTO activity (clip_id, second, score, luma, frozen) VALUES (?, ?, ?, ?, ?)",
            [(clip_id, i, s, luma[i], int(frozen[i])) for i, s in enumerate(scores)])
        self.db.execute(
            "INSERT INTO scans (clip_id, mode, scanned_at, frames, width, height, mask_top, "
            "peak, flags, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (clip_id) DO "
            "UPDATE SET mode = excluded.mode, scanned_at = excluded.scanned_at, frames = "
            "excluded.frames, width = excluded.width, height = excluded.height, mask_top = "
            "excluded.mask_top, peak = excluded.peak, flags = excluded.flags, note = "
            "excluded.note",
            [clip_id, mode, at, frames, width, height, mask_top, peak, json.dumps(flags), note])

    def activity_near(self, clip_id: int, second: float, window_s: float = 10.0):
        """(peak score within ``window_s`` of ``second``, overall peak, scan mode), or
        (None, None, None) for a clip that was not scanned."""
        row = self.db.execute("SELECT peak, mode FROM scans WHERE clip_id = ?",
                              [clip_id]).fetchone()
        if row is None:
            return None, None, None
        near = self.db.scalar("SELECT max(score) FROM activity WHERE clip_id = ? AND second "
                              "BETWEEN ? AND ?", [clip_id, int(math.floor(second - window_s)),
                                                  int(math.ceil(second + window_s))])
        return near, row[0], row[1]

    def peak_near(self, clip_id: int, second: float, window_s: float = 10.0) -> float | None:
        """Peak score within ``window_s`` of ``second`` of a scanned clip (None: no scores)."""
        return self.db.scalar("SELECT max(score) FROM activity WHERE clip_id = ? AND second "
                              "BETWEEN ? AND ?", [clip_id, int(math.floor(second - window_s)),
                                                  int(math.ceil(second + window_s))])

    def scores(self, clip_id: int) -> list[float]:
        """Per-second scores of a scanned clip (empty when not scanned)."""
        return [r[0] for r in self.db.rows("SELECT score FROM activity WHERE clip_id = ? "
                                           "ORDER BY second", [clip_id])]
