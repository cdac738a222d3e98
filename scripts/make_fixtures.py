#!/usr/bin/env python3
"""Generate videx's synthetic fixtures, deterministically (fixed seeds).

Writes into fixtures/ (or --out DIR):

- cameras.csv: ~60 city cameras with view geometry and ~70 connected private doorbells, in a
  synthetic city modelled on Hartford, CT (real neighborhood names, coordinates inside the real
  city bounds 41.72-41.81 N, 72.72-72.64 W; every camera, address and owner is invented);
- cameras-registered.geojson: registered-only private cameras (7-60 day retention);
- incidents.csv: 419 synthetic shootings 2019-2023 (local times in America/New_York);
- clips/CAMERA_ID/...: a dozen tiny H.264 clips (160x120, 10 fps, moving box, burned-in
  camera clock) around the demo incident, named in the supported export styles, some with
  sidecars, one corrupt, one truncated, one with no time source, one not a video;
- clips/truth.json: ground truth for each clip (camera, true start, clock offset, motion spans).
- real/: tables in the shapes real exports come in (see fixtures/README.md): an open-data
  camera list, a newspaper-style homicide list saved by Excel (cp1252, CRLF), a `;`-separated
  records-unit export.

Nothing here describes a real person, camera or case.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import ffmpeg
import numpy as np

SEED = 20230501
TZ = ZoneInfo("America/New_York")
BOUNDS = (41.72, -72.72, 41.81, -72.64)
NEIGHBORHOODS = {
    "Downtown": (41.7658, -72.6734), "Northeast": (41.7905, -72.6745),
    "Clay Arsenal": (41.7760, -72.6835), "Upper Albany": (41.7800, -72.6985),
    "Blue Hills": (41.7985, -72.7065), "Asylum Hill": (41.7705, -72.6925),
    "Frog Hollow": (41.7600, -72.6855), "South Green": (41.7560, -72.6760),
    "Barry Square": (41.7480, -72.6820), "South End": (41.7335, -72.6830),
    "Behind the Rocks": (41.7435, -72.6995), "Parkville": (41.7580, -72.7045),
    "Sheldon-Charter Oak": (41.7585, -72.6680), "North Meadows": (41.7880, -72.6640),
    "West End": (41.7650, -72.7085), "Southwest": (41.7305, -72.7055),
}
# Weight of each neighborhood in the synthetic shootings (higher: more incidents).
SHOOTING_WEIGHT = {"Northeast": 8, "Clay Arsenal": 6, "Upper Albany": 6, "Frog Hollow": 5,
                   "South Green": 4, "Barry Square": 4, "Blue Hills": 3, "Asylum Hill": 3,
                   "Downtown": 2, "Behind the Rocks": 2, "Parkville": 2, "South End": 2,
                   "Sheldon-Charter Oak": 2, "North Meadows": 1, "West End": 1, "Southwest": 1}
STREETS = ["Main St", "Albany Ave", "Park St", "Broad St", "Wethersfield Ave", "Franklin Ave",
           "Capitol Ave", "Farmington Ave", "Homestead Ave", "Barbour St", "Garden St",
           "Enfield St", "Zion St", "Washington St", "Maple Ave", "Vine St", "Wooster St"]

# The demo incident and the cameras around it (Frog Hollow, near Park St).
DEMO_ID = "HPD-23-004120"
DEMO_LAT, DEMO_LON = 41.76020, -72.68560
DEMO_LOCAL = datetime(2023, 5, 1, 14, 30, 0)
DEMO_CAMERAS = [
    # id, source, integration, kind, bearing from incident (deg), distance (m), heading toward
    # the incident?, fov, range, clock offset (s), retention (days)
    ("CITY-001", "city", "connected", "fixed", 20, 60, True, 70, 150, 0.0, 30),
    ("CITY-002", "city", "connected", "ptz", 200, 120, True, 90, 200, 0.0, 30),
    ("CITY-003", "city", "connected", "fixed", 300, 90, False, 60, 120, 0.0, 30),
    ("CITY-004", "city", "connected", "fixed", 110, 180, True, 60, 250, 0.0, 30),
    ("RING-001", "private", "connected", "doorbell", 70, 35, True, 160, 40, 0.0, 60),
    ("RING-002", "private", "connected", "doorbell", 160, 45, True, 160, 60, 90.0, 60),
    ("RING-003", "private", "connected", "doorbell", 250, 70, True, 160, 80, 0.0, 60),
    ("BIZ-001", "private", "connected", "dvr", 340, 110, True, 100, 150, -42.0, 14),
    ("PRIV-001", "private", "registered", "doorbell", 90, 80, None, None, None, 0.0, 30),
    ("PRIV-002", "private", "registered", "dvr", 230, 150, None, None, None, 0.0, 7),
    ("PRIV-003", "private", "registered", "doorbell", 10, 200, None, None, None, 0.0, 60),
]


def offset_point(lat, lon, bearing_deg, dist_m):
    """Point ``dist_m`` metres from (lat, lon) along ``bearing_deg`` (small distances)."""
    b = math.radians(bearing_deg)
    dlat = dist_m * math.cos(b) / 111_320.0
    dlon = dist_m * math.sin(b) / (111_320.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def clamp_to_city(lat, lon):
    s, w, n, e = BOUNDS
    return min(max(lat, s + 0.002), n - 0.002), min(max(lon, w + 0.002), e - 0.002)


def make_cameras(rng: random.Random):
    city, private, registered = [], [], []
    names = list(NEIGHBORHOODS)
    for i in range(60 - 4):
        hood = names[i % len(names)]
        lat, lon = clamp_to_city(*offset_point(*NEIGHBORHOODS[hood], rng.uniform(0, 360),
                                               rng.uniform(50, 900)))
        city.append({"id": f"CITY-{i + 101:03d}", "name": f"{hood} pole {i + 1}",
                     "source": "city", "integration": "connected",
                     "kind": rng.choice(["fixed", "fixed", "ptz"]), "lat": lat, "lon": lon,
                     "heading_deg": rng.randrange(0, 360), "fov_deg": rng.choice([60, 70, 90]),
                     "range_m": rng.choice([120, 150, 200]),
                     "address": f"{rng.randrange(10, 999)} {rng.choice(STREETS)}",
                     "neighborhood": hood, "retention_days": 30, "clock_offset_s": 0,
                     "tz": "America/New_York"})
    for i in range(70 - 4):
        hood = rng.choices(names, weights=[SHOOTING_WEIGHT[h] for h in names])[0]
        lat, lon = clamp_to_city(*offset_point(*NEIGHBORHOODS[hood], rng.uniform(0, 360),
                                               rng.uniform(30, 1000)))
        private.append({"id": f"RING-{i + 101:03d}", "name": f"Doorbell {i + 1}",
                        "source": "private", "integration": "connected", "kind": "doorbell",
                        "lat": lat, "lon": lon, "heading_deg": rng.randrange(0, 360),
                        "fov_deg": 160, "range_m": 40,
                        "address": f"{rng.randrange(10, 999)} {rng.choice(STREETS)}",
                        "neighborhood": hood, "owner_name": f"Resident {i + 1}",
                        "owner_contact": f"resident{i + 1}@example.org", "retention_days": 60,
                        "clock_offset_s": rng.choice([0, 0, 0, 12, -7, 95]),
                        "tz": "America/New_York"})
    for i in range(20):
        hood = rng.choice(names)
        lat, lon = clamp_to_city(*offset_point(*NEIGHBORHOODS[hood], rng.uniform(0, 360),
                                               rng.uniform(30, 1000)))
        registered.append({"id": f"PRIV-{i + 101:03d}", "name": f"Registered camera {i + 1}",
                           "source": "private", "integration": "registered",
                           "kind": rng.choice(["doorbell", "dvr", "fixed"]), "lat": lat,
                           "lon": lon, "address": f"{rng.randrange(10, 999)} "
                           f"{rng.choice(STREETS)}", "neighborhood": hood,
                           "owner_name": f"Owner {i + 1}",
                           "owner_contact": f"owner{i + 1}@example.org",
                           "retention_days": rng.choice([7, 14, 30, 60]), "clock_offset_s": 0,
                           "tz": "America/New_York"})
    for cid, source, integ, kind, bearing, dist, facing, fov, rng_m, offset, ret in DEMO_CAMERAS:
        lat, lon = offset_point(DEMO_LAT, DEMO_LON, bearing, dist)
        row = {"id": cid, "name": f"{cid.split('-')[0].title()} camera near Park St",
               "source": source, "integration": integ, "kind": kind, "lat": lat, "lon": lon,
               "address": f"{rng.randrange(300, 700)} Park St", "neighborhood": "Frog Hollow",
               "retention_days": ret, "clock_offset_s": offset, "tz": "America/New_York"}
        if facing is not None:
            back = (bearing + 180) % 360
            row.update(heading_deg=back if facing else (back + 180) % 360, fov_deg=fov,
                       range_m=rng_m)
        if source == "private":
            row.update(owner_name=f"Owner of {cid}", owner_contact=f"{cid.lower()}@example.org")
        (registered if integ == "registered" else city if source == "city" else private).append(
            row)
    return city + private, registered


CAMERA_FIELDS = ["id", "name", "source", "integration", "kind", "lat", "lon", "heading_deg",
                 "fov_deg", "range_m", "address", "neighborhood", "owner_name", "owner_contact",
                 "retention_days", "clock_offset_s", "tz"]
INCIDENT_FIELDS = ["id", "occurred_at", "time_uncertainty_s", "lat", "lon", "address",
                   "neighborhood", "category", "victims", "shotspotter", "cleared", "cleared_at",
                   "clearance_type"]


def make_incidents(rng: random.Random):
    """419 synthetic shootings in 2019-2023, local wall times in America/New_York."""
    names = list(NEIGHBORHOODS)
    rows = []
    per_year = {2019: 78, 2020: 92, 2021: 91, 2022: 82, 2023: 76}
    seq = 0
    for year, count in per_year.items():
        for _ in range(count - (1 if year == 2023 else 0)):
            seq += 1
            while True:
                day = datetime(year, 1, 1) + timedelta(days=rng.randrange(365))
                hour = rng.choices(range(24), weights=[6, 6, 5, 4, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                                       3, 3, 4, 5, 6, 7, 8, 8, 7, 7])[0]
                local = day.replace(hour=hour, minute=rng.randrange(60), second=0)
                fold0 = local.replace(tzinfo=TZ, fold=0)
                if fold0.utcoffset() == local.replace(tzinfo=TZ, fold=1).utcoffset():
                    break  # never write a DST-ambiguous or missing wall time
            hood = rng.choices(names, weights=[SHOOTING_WEIGHT[h] for h in names])[0]
            lat, lon = clamp_to_city(*offset_point(*NEIGHBORHOODS[hood], rng.uniform(0, 360),
                                                   rng.uniform(0, 700)))
            rows.append(incident_row(rng, f"HPD-{year % 100:02d}-{seq * 7 + 1000:06d}", local,
                                     lat, lon, hood))
    demo = incident_row(rng, DEMO_ID, DEMO_LOCAL, DEMO_LAT, DEMO_LON, "Frog Hollow")
    demo.update(category="non-fatal", victims=1, shotspotter="yes", time_uncertainty_s=60,
                cleared="no", cleared_at="", clearance_type="", address="Park St at Broad St")
    rows.append(demo)
    rows.sort(key=lambda r: r["occurred_at"])
    return rows


def incident_row(rng, case_id, local, lat, lon, hood):
    category = rng.choices(["fatal", "non-fatal", "shots-fired"], weights=[15, 60, 25])[0]
    cleared = rng.random() < {"fatal": 0.5, "non-fatal": 0.25, "shots-fired": 0.15}[category]
    cleared_at = (local + timedelta(days=rng.randrange(1, 200))) if cleared else None
    return {"id": case_id, "occurred_at": local.strftime("%Y-%m-%d %H:%M:%S"),
            "time_uncertainty_s": rng.choice([0, 0, 60, 120, 300]), "lat": lat, "lon": lon,
            "address": f"{rng.randrange(10, 999)} {rng.choice(STREETS)}", "neighborhood": hood,
            "category": category, "victims": 0 if category == "shots-fired" else
            rng.choice([1, 1, 1, 2, 3]), "shotspotter": rng.choice(["yes", "no"]),
            "cleared": "yes" if cleared else "no",
            "cleared_at": cleared_at.strftime("%Y-%m-%d %H:%M:%S") if cleared_at else "",
            "clearance_type": (rng.choice(["arrest"] * 9 + ["exceptional"]) if cleared else "")}


def write_csv(path: Path, rows, fields):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


def write_geojson(path: Path, rows):
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
              "properties": {k: v for k, v in r.items() if k not in ("lat", "lon")}}
             for r in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, indent=1) + "\n")


# ------------------------------------------------------------------------------ clips
W, H, FPS = 160, 120, 10
NOISE_SIGMA = 4.0  # grey levels of per-frame sensor noise
CRF = 24  # keeps most of the sensor noise, so a live static scene differs from a frozen feed
UTC = timezone.utc
DEMO_UTC = DEMO_LOCAL.replace(tzinfo=TZ).astimezone(UTC)

# name (relative to clips/), camera, true start offset from the moment (s), duration (s),
# motion spans (s from clip start), how the start is given, extra
CLIPS = [
    ("CITY-001/20230501_142956.mp4", "CITY-001", -4, 10, [(2.0, 7.0)], "filename", {}),
    ("CITY-002/ch02_20230501142952.mp4", "CITY-002", -8, 10, [(6.0, 9.5)], "filename", {}),
    ("CITY-003/2023-05-01 14-30-05.mp4", "CITY-003", 5, 8, [(1.0, 4.0)], "filename", {}),
    ("CITY-004/20230501_142300.mp4", "CITY-004", -420, 6, [], "filename", {}),
    ("RING-001/FrontDoor_2023-05-01T18-29-58Z.mp4", "RING-001", -2, 8, [(1.0, 6.0)],
     "filename", {}),
    ("RING-002/FrontDoor_2023-05-01T18-31-27Z.mp4", "RING-002", -3, 8, [(0.5, 3.5)],
     "filename", {}),
    ("RING-003/motion_event_0413.mp4", "RING-003", -5, 8, [(3.0, 7.5)], "sidecar",
     {"sidecar": {"start": "2023-05-01T14:29:55-04:00", "device": "Front porch"}}),
    ("RING-003/motion_event_0414.mp4", "RING-003", 40, 6, [(0.0, 2.0)], "sidecar",
     {"sidecar": {"start": "2023-05-01 14:30:40", "tz": "America/New_York"}}),
    ("BIZ-001/export.mp4", "BIZ-001", -6, 10, [(4.0, 8.0)], "metadata", {}),
    ("CITY-001/static_20230501_143006.mp4", "CITY-001", 6, 6, [], "filename",
     {"static": True}),
    ("CITY-002/ch02_20230501143002.mp4", "CITY-002", 2, 6, [], "filename", {"frozen": True}),
    ("BIZ-001/untimed.mp4", "BIZ-001", 0, 4, [(1.0, 3.0)], "none", {}),
]
BAD_FILES = ["RING-001/corrupt.mp4", "RING-002/truncated.mp4", "RING-003/notes.txt"]

# Video as detectives receive it (issue 9): a phone's variable-frame-rate clip with a 2 s freeze,
# a phone clip recorded upright (portrait) with a 90-degree display matrix, a DVR export with one
# keyframe every 10 s named by an NVR (IP, channel, time with milliseconds), and an MJPEG AVI.
# name, camera, true start offset from the moment (s; NVR: with its milliseconds), duration (s),
# motion spans, how the start is given, and how the file is made.
PHONE_DVR_CLIPS = [
    ("PRIV-003/VID_20230501_142957.mp4", "PRIV-003", -3, 10, [(1.0, 3.5), (6.5, 9.5)],
     "filename", {"vfr_freeze": (4.0, 6.0)}),
    ("PRIV-003/IMG_0413.MOV", "PRIV-003", -1, 6, [(1.0, 5.0)], "metadata",
     {"rotate": 90}),
    ("CITY-004/192.168.1.64_01_20230501143500250.mp4", "CITY-004", 300.25, 24,
     [(2.0, 6.0), (12.0, 15.0), (21.0, 23.0)], "filename", {"gop_s": 10}),
    ("CITY-003/ch03_20230501143020.avi", "CITY-003", 20, 6, [(1.0, 4.0)], "filename",
     {"mjpeg": True}),
]


def render_clip(path: Path, camera_clock_start: datetime, duration_s: int, motion, seed: int,
                static=False, frozen=False, creation_time: str | None = None):
    """Encode a tiny H.264 clip: noisy street-grey background, a box moving during ``motion``
    spans, and the camera's clock burned in at the top left."""
    rs = np.random.default_rng(seed)
    background = np.full((H, W, 3), 90, np.uint8)
    background[80:, :] = 60  # "road"
    background = np.clip(background + rs.integers(-8, 8, background.shape), 0, 255).astype(
        np.uint8)
    frames = []
    for n in range(duration_s * FPS):
        t = n / FPS
        if frozen and t >= 1.0:
            frames.append(frames[FPS - 1])
            continue
        # sensor noise: a live camera never sends two identical frames
        frame = np.clip(background.astype(np.int16) + rs.normal(0, NOISE_SIGMA, background.shape),
                        0, 255).astype(np.uint8)
        for a, b in motion:
            if a <= t < b:
                x = int(10 + (W - 40) * (t - a) / (b - a))
                cv2.rectangle(frame, (x, 70), (x + 24, 100), (40, 40, 200), -1)
        if not static:
            stamp = (camera_clock_start + timedelta(seconds=int(t))).strftime("%H:%M:%S")
        else:
            stamp = camera_clock_start.strftime("%H:%M:%S")
        cv2.putText(frame, stamp, (4, 14), cv2.FONT_HERSHEY_PLAIN, 0.9, (255, 255, 255), 1)
        frames.append(frame)
    out_kwargs = {"vcodec": "libx264", "pix_fmt": "yuv420p", "preset": "veryfast", "crf": CRF,
                  "g": FPS * 2, "movflags": "+faststart", "map_metadata": -1,
                  "fflags": "+bitexact", "threads": 1}
    if creation_time:
        out_kwargs["metadata"] = f"creation_time={creation_time}"
    proc = (ffmpeg.input("pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{W}x{H}",
                         framerate=FPS)
            .output(str(path), **out_kwargs)
            .overwrite_output()
            .global_args("-loglevel", "error")
            .run_async(pipe_stdin=True))
    proc.stdin.write(b"".join(f.tobytes() for f in frames))
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"ffmpeg failed writing {path}")


def scene(w: int, h: int, t: float, motion, stamp: str, background: np.ndarray,
          rs: np.random.Generator, vertical: bool = False) -> np.ndarray:
    """One frame: noisy background, the box during motion spans, the clock at the top left."""
    frame = np.clip(background.astype(np.int16) + rs.normal(0, NOISE_SIGMA, background.shape),
                    0, 255).astype(np.uint8)
    for a, b in motion:
        if a <= t < b:
            k = (t - a) / (b - a)
            if vertical:
                y = int(24 + (h - 60) * k)
                cv2.rectangle(frame, (30, y), (60, y + 24), (0, 230, 230), -1)
            else:   # a yellow box: bright in grey too, on the road and off it
                x = int(10 + (w - 40) * k)
                cv2.rectangle(frame, (x, h - 50), (x + 24, h - 20), (0, 230, 230), -1)
    cv2.putText(frame, stamp, (4, 14), cv2.FONT_HERSHEY_PLAIN, 0.9 if w > 100 else 0.7,
                (255, 255, 255), 1)
    return frame


def render_phone_dvr(path: Path, camera_clock_start: datetime, duration_s: int, motion,
                     seed: int, spec: dict, creation_time: str | None) -> dict:
    """Encode one of PHONE_DVR_CLIPS; returns its ground-truth facts."""
    import tempfile
    rs = np.random.default_rng(seed)
    portrait = bool(spec.get("rotate"))
    w, h = (96, 160) if portrait else (W, H)
    background = np.full((h, w, 3), 90, np.uint8)
    background[int(h * 0.66):, :] = 60
    background = np.clip(background + rs.integers(-8, 8, background.shape), 0, 255).astype(
        np.uint8)
    freeze = spec.get("vfr_freeze")
    times: list[float] = []
    for k in range(duration_s * FPS):
        ts = k / FPS
        if freeze:
            if freeze[0] < ts < freeze[1]:
                continue                        # the phone held the frame at 4.0 s for 2 s
            if freeze[0] != ts and k % 3:       # and its frame spacing wanders around 10 fps
                ts += 0.02 if k % 3 == 1 else -0.02
        times.append(round(ts, 3))
    facts = {"frames": len(times)}
    stamp0 = camera_clock_start
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for i, ts in enumerate(times):
            img = scene(w, h, ts, motion, (stamp0 + timedelta(seconds=int(ts))).strftime(
                "%H:%M:%S"), background, rs, vertical=portrait)
            if portrait:   # the sensor records landscape; the display matrix turns it upright
                img = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
            name = Path(tmp) / f"f{i:04d}.png"
            cv2.imwrite(str(name), img)
            nxt = times[i + 1] if i + 1 < len(times) else duration_s
            lines += [f"file '{name}'", f"duration {nxt - ts:.3f}"]
        lines.append(f"file '{Path(tmp) / f'f{len(times) - 1:04d}.png'}'")
        (Path(tmp) / "list.txt").write_text("\n".join(lines) + "\n")
        args = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                str(Path(tmp) / "list.txt"), "-map_metadata", "-1", "-fflags", "+bitexact",
                "-threads", "1"]
        if spec.get("mjpeg"):
            args += ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p", "-r", str(FPS),
                     "-f", "avi"]
        else:
            args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf",
                     str(CRF)]
            if freeze:
                args += ["-fps_mode", "vfr", "-g", str(FPS * 2)]
            else:
                args += ["-r", str(FPS)]
            if spec.get("gop_s"):
                gop = int(spec["gop_s"] * FPS)
                args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
            elif not freeze:
                args += ["-g", str(FPS * 2)]
        if creation_time:
            args += ["-metadata", f"creation_time={creation_time}"]
        import subprocess
        if portrait:   # ffmpeg 5 writes the display matrix only when stream-copying
            coded = Path(tmp) / "coded.mov"
            subprocess.run(args + ["-f", "mov", str(coded)], check=True)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(coded), "-c", "copy",
                            "-map_metadata", "0", "-fflags", "+bitexact", "-metadata:s:v",
                            f"rotate={spec['rotate']}", "-f", "mov", str(path)], check=True)
        else:
            subprocess.run(args + [str(path)], check=True)
    if portrait:
        facts.update({"coded_size": [h, w], "display_size": [w, h], "rotation": spec["rotate"]})
    if freeze:
        facts.update({"vfr": True, "freeze_s": list(freeze)})
    if spec.get("gop_s"):
        facts["keyframe_interval_s"] = spec["gop_s"]
    if spec.get("mjpeg"):
        facts.update({"codec": "mjpeg", "container": "avi"})
    return facts


def make_clips(out: Path, cameras: list[dict]):
    clips_dir = out / "clips"
    if clips_dir.exists():
        shutil.rmtree(clips_dir)
    offsets = {c["id"]: float(c["clock_offset_s"] or 0) for c in cameras}
    truth = []
    for i, (name, cam, rel, dur, motion, how, extra) in enumerate(CLIPS):
        path = clips_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        true_start = DEMO_UTC + timedelta(seconds=rel)
        camera_clock = true_start + timedelta(seconds=offsets[cam])
        creation = (camera_clock.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
                    if how == "metadata" else None)
        render_clip(path, camera_clock.astimezone(TZ), dur, motion, SEED + i,
                    static=extra.get("static", False), frozen=extra.get("frozen", False),
                    creation_time=creation)
        if "sidecar" in extra:
            path.with_suffix(".json").write_text(json.dumps(extra["sidecar"], indent=1) + "\n")
        truth.append({"path": name, "camera_id": cam, "true_start": iso(true_start),
                      "camera_clock_start": iso(camera_clock),
                      "clock_offset_s": offsets[cam], "duration_s": dur,
                      "time_source": how, "motion_spans_s": motion,
                      "static": extra.get("static", False), "frozen_after_s":
                      1.0 if extra.get("frozen") else None,
                      "contains_moment": 0 <= -rel < dur})
    for i, (name, cam, rel, dur, motion, how, spec) in enumerate(PHONE_DVR_CLIPS):
        path = clips_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        true_start = DEMO_UTC + timedelta(seconds=rel)
        camera_clock = true_start + timedelta(seconds=offsets[cam])
        creation = (camera_clock.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
                    if how == "metadata" else None)
        facts = render_phone_dvr(path, camera_clock.astimezone(TZ), dur, motion,
                                 SEED + 100 + i, spec, creation)
        truth.append({"path": name, "camera_id": cam, "true_start": iso(true_start),
                      "camera_clock_start": iso(camera_clock),
                      "clock_offset_s": offsets[cam], "duration_s": dur,
                      "time_source": how, "motion_spans_s": motion, "static": False,
                      "frozen_after_s": None, "contains_moment": 0 <= -rel < dur, **facts})
    rs = random.Random(SEED)
    corrupt = clips_dir / BAD_FILES[0]
    corrupt.write_bytes(bytes(rs.randrange(256) for _ in range(4096)))
    good = (clips_dir / CLIPS[5][0]).read_bytes()
    (clips_dir / BAD_FILES[1]).write_bytes(good[: int(len(good) * 0.6)])
    (clips_dir / BAD_FILES[2]).write_text("Owner said the camera faces the driveway.\n")
    truth_doc = {"moment_utc": iso(DEMO_UTC), "incident_id": DEMO_ID, "clips": truth,
                 "rejected": {BAD_FILES[0]: "corrupt", BAD_FILES[1]: "truncated",
                              BAD_FILES[2]: "not a video", "BIZ-001/untimed.mp4": "no time"}}
    (clips_dir / "truth.json").write_text(json.dumps(truth_doc, indent=1) + "\n")


# ------------------------------------------------------------------------------ study
# The synthetic study table. Category confounds: fatal cases get video far more often (more
# investigative effort) and are cleared more often. Within each category the true risk ratio of
# clearance by arrest with vs without video is STUDY_TRUE_RR; pooled, the crude ratio is about
# 2.23 (a 123% higher proportion cleared), like the department's figure.
STUDY_TRUE_RR = 1.6
STUDY_STRATA = {  # category: (cases, share with video, clearance without video)
    "fatal": (70, 0.80, 0.35),
    "non-fatal": (260, 0.35, 0.20),
    "shots-fired": (89, 0.15, 0.08),
}
STUDY_EXTRA_BLANKS = {"video": 3, "clearance": 2, "category": 2}


def make_study_cases(rng: random.Random):
    """419 analysable cases plus a few messy rows that a careful analysis must drop."""
    names = list(NEIGHBORHOODS)
    rows = []
    for category, (n, share, base) in STUDY_STRATA.items():
        exposed = round(n * share)
        for with_video, size, rate in ((True, exposed, min(base * STUDY_TRUE_RR, 0.95)),
                                       (False, n - exposed, base)):
            cleared = round(size * rate)
            for i in range(size):
                rows.append(study_row(rng, names, category, with_video, i < cleared))
    rng.shuffle(rows)
    # Messy but analysable: spelling variants that normalise, unparseable clearance dates.
    for r in rows[:6]:
        r["category"] = r["category"].title() if rng.random() < 0.5 else " " + r["category"]
    for r in [r for r in rows if r["clearance"] == "Cleared by arrest"][:2]:
        r["cleared_at"] = "unknown"
    extras = []
    for column, count in STUDY_EXTRA_BLANKS.items():
        for _ in range(count):
            r = study_row(rng, names, rng.choice(list(STUDY_STRATA)), rng.random() < 0.4,
                          rng.random() < 0.3)
            r[column] = ""
            if column == "category":   # and no video recorded: a dropped row, as in the
                r["video"] = ""        # department's 419-case analysis
            extras.append(r)
    rows = rows + extras
    rows.sort(key=lambda r: r["occurred_at"])
    for i, r in enumerate(rows, start=1):
        r["case_id"] = f"SYN-{r['occurred_at'][:4]}-{i:04d}"
    return rows


def study_row(rng, names, category, with_video, cleared):
    year = rng.choice([2019, 2020, 2021, 2022, 2023])
    occurred = datetime(year, 1, 1, rng.randrange(24), rng.randrange(60)) + timedelta(
        days=rng.randrange(365))
    cleared_at = occurred + timedelta(days=rng.randrange(2, 400)) if cleared else None
    obtained = None
    if with_video:
        obtained = occurred + timedelta(hours=rng.randrange(2, 24 * 20))
        if cleared_at and obtained > cleared_at:
            obtained = cleared_at - timedelta(hours=1)
        if cleared_at and rng.random() < 0.05:  # logged after the arrest
            obtained = cleared_at + timedelta(days=rng.randrange(1, 30))
    clearance = "Cleared by arrest" if cleared else (
        "Exceptionally cleared" if rng.random() < 0.05 else "Open")
    return {"case_id": "", "occurred_at": occurred.strftime("%Y-%m-%d %H:%M"),
            "category": category, "neighborhood": rng.choice(names),
            "victims": 0 if category == "shots-fired" else rng.choice([1, 1, 1, 2, 3]),
            "shotspotter": rng.choice(["Yes", "No"]),
            "video": rng.choice(["Yes", "Yes", "yes", "Y"]) if with_video else
            rng.choice(["No", "No", "no", "N"]),
            "video_obtained_at": obtained.strftime("%Y-%m-%d %H:%M") if obtained else "",
            "clearance": clearance,
            "cleared_at": cleared_at.strftime("%Y-%m-%d") if cleared_at else ""}


STUDY_FIELDS = ["case_id", "occurred_at", "category", "neighborhood", "victims", "shotspotter",
                "video", "video_obtained_at", "clearance", "cleared_at"]

STUDY_SPEC = """# The department's video-impact study on the synthetic case table (see README.md).
title = "Video-impact study (synthetic Hartford data, 2019-2023)"
cases = "cases.csv"
outcome = "clearance=Cleared by arrest"
exposure = "video=yes,y"
covariates = ["category", "shotspotter", "victims", "year"]
categorical = ["year"]
cluster = "neighborhood"
stratify = ["category"]
subgroups = ["category", "year"]
occurred = "occurred_at"
cleared_at = "cleared_at"
exposure_time = "video_obtained_at"
censor_date = "2024-12-31"
bootstrap = 500
seed = 20230501
"""


# ------------------------------------------------------------------ real-export shapes
FIRST = ["José", "Andre", "Luis", "Marcus", "Ángel", "Tyrell", "Kevin", "Jamal", "Héctor",
         "Dominic", "Carlos", "Devon", "Raúl", "Isaiah", "Brandon", "Nuñez"]
LAST = ["Rivera", "Johnson", "Peña", "Williams", "Ortiz", "Brown", "Colón", "Davis", "Santiago",
        "Miller", "Rodríguez", "Jones", "Muñiz", "Taylor", "Vázquez", "Harris"]


def write_text(path: Path, text: str, encoding: str = "utf-8", crlf: bool = False) -> None:
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(text.encode(encoding))


def csv_text(rows: list[list], delimiter: str = ",") -> str:
    import io
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def make_real_exports(out: Path, rng: random.Random) -> None:
    """Tables shaped like the exports analysts receive (the README says which quirk is where).

    - opendata-cameras.csv: a city open-data portal's camera list: its own column names, a WKT
      ``the_geom`` column, no source column, one row with 0,0 coordinates;
    - homicides-cp1252.csv: a newspaper's homicide list saved by Excel (cp1252, CRLF): case
      numbers that restart every year, a continuation row with a blank case number for a
      second victim, ``XXX`` and ``???`` placeholders, ``01/02/20`` dates with a separate
      time column that is often blank, -1,-1 and blank coordinates, ages like ``26, pic`` and
      ``Unknown``, blank cells meaning no, notes with commas;
    - rms-semicolon.csv: a records-unit export separated by ``;`` with ``20230501`` and
      ``2023-05-01`` dates and no time of day.
    """
    real = out / "real"
    real.mkdir(exist_ok=True)
    hoods = list(NEIGHBORHOODS)
    rows = [["ID", "CameraName", "Latitude", "Longitude", "Neighborhood", "District", "Zip",
             "the_geom"]]
    for i in range(1, 31):
        hood = hoods[i % len(hoods)]
        lat0, lon0 = NEIGHBORHOODS[hood]
        lat, lon = offset_point(lat0, lon0, rng.uniform(0, 360), rng.uniform(20, 400))
        name = f"{rng.choice(STREETS).upper()} & {rng.choice(STREETS).upper()}"
        rows.append([f"{1000 + i}", name, f"{lat:.6f}", f"{lon:.6f}", hood,
                     f"D{1 + i % 5}", f"061{i % 9:02d}", f"POINT ({lon:.6f} {lat:.6f})"])
    rows[17][2:4] = ["0", "0"]                       # an ungeocoded camera
    rows[17][7] = "POINT (0 0)"
    # the demo corner: an open-data camera at Park St, so a canvass finds it
    rows.append(["1099", "PARK ST & BROAD ST", "41.760400", "-72.685700", "Frog Hollow", "D3",
                 "06106", "POINT (-72.685700 41.760400)"])
    write_text(real / "opendata-cameras.csv", csv_text(rows))

    rows = [["Case No.", "Year", "Date", "Time", "Victim", "Age", "Address", "Latitude",
             "Longitude", "Neighborhood", "Camera at intersection", "Case Closed", "Notes"]]
    for year in (2020, 2021):
        for n in range(1, 13):
            hood = rng.choices(hoods, weights=[SHOOTING_WEIGHT[h] for h in hoods])[0]
            lat0, lon0 = NEIGHBORHOODS[hood]
            lat, lon = offset_point(lat0, lon0, rng.uniform(0, 360), rng.uniform(10, 300))
            day = datetime(year, 1, 1) + timedelta(days=rng.randrange(0, 360))
            clock = rng.choice(["", "", f"{rng.randrange(0, 24):02d}:{rng.randrange(0, 60):02d}"])
            age = rng.choice([str(rng.randrange(15, 60)), str(rng.randrange(15, 60)),
                              f"{rng.randrange(15, 60)}, pic", "Unknown"])
            rows.append([f"{n:03d}", str(year), f"{day:%m/%d/%y}", clock,
                         f"{rng.choice(FIRST)} {rng.choice(LAST)}", age,
                         f"{rng.randrange(10, 999)} {rng.choice(STREETS)}", f"{lat:.5f}",
                         f"{lon:.5f}", hood, rng.choice(["Y", "", "", "N"]),
                         rng.choice(["Y", "", "Y", ""]),
                         rng.choice(["", "drive-by, two cars", "see follow-up; witness",
                                     "victim found nearby"])])
    rows[3][7:9] = ["-1", "-1"]                      # not geocoded
    rows[8][7:9] = ["", ""]                          # not geocoded either
    rows.insert(6, ["", "2020", rows[5][2], rows[5][3], "second victim", "19",
                    rows[5][6], rows[5][7], rows[5][8], rows[5][9], rows[5][10], rows[5][11],
                    "same incident as the row above"])
    rows[12][0] = "XXX"
    rows[20][0] = "???"
    # the demo incident: 05/01/23 with a time of day, at Park St
    rows.append(["007", "2023", "05/01/23", "14:30", "Kevin Peña", "22", "Park St",
                 "41.76020", "-72.68560", "Frog Hollow", "Y", "", "camera at the corner"])
    rows.append(["008", "2023", "05/01/23", "", "Luis Ortiz", "31", "Park St", "41.76020",
                 "-72.68560", "Frog Hollow", "", "", "date only"])
    write_text(real / "homicides-cp1252.csv", csv_text(rows), "cp1252", crlf=True)

    rows = [["INCIDENT_NO", "OCC_DATE", "X_COORD", "Y_COORD", "BEAT", "WEAPON", "STATUS"]]
    for i in range(1, 16):
        hood = hoods[(i * 3) % len(hoods)]
        lat0, lon0 = NEIGHBORHOODS[hood]
        lat, lon = offset_point(lat0, lon0, rng.uniform(0, 360), rng.uniform(10, 300))
        day = datetime(2023, 1, 1) + timedelta(days=rng.randrange(0, 300))
        rows.append([f"RMS-23-{i:04d}", f"{day:%Y%m%d}" if i % 2 else f"{day:%Y-%m-%d}",
                     f"{lon:.6f}", f"{lat:.6f}", f"B{i % 7}", rng.choice(["HANDGUN", "RIFLE"]),
                     rng.choice(["OPEN", "CLOSED", "CLEARED BY ARREST"])])
    write_text(real / "rms-semicolon.csv", csv_text(rows, ";"))


def iso(dt: datetime) -> str:
    if dt.microsecond:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fixtures"))
    parser.add_argument("--no-clips", action="store_true", help="Only the tables.")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    cams, registered = make_cameras(rng)
    write_csv(out / "cameras.csv", cams, CAMERA_FIELDS)
    write_geojson(out / "cameras-registered.geojson", registered)
    write_csv(out / "incidents.csv", make_incidents(rng), INCIDENT_FIELDS)
    (out / "study").mkdir(exist_ok=True)
    write_csv(out / "study" / "cases.csv", make_study_cases(random.Random(SEED + 1)),
              STUDY_FIELDS)
    (out / "study" / "study.toml").write_text(STUDY_SPEC)
    make_real_exports(out, random.Random(SEED + 2))
    if not args.no_clips:
        if shutil.which("ffmpeg") is None:
            raise SystemExit("ffmpeg not found: install it (apt-get install ffmpeg)")
        make_clips(out, cams + registered)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"fixtures written to {out} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
