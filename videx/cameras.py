"""The camera registry: city cameras and private (connected or registered) cameras.

``import_cameras`` validates a whole CSV/GeoJSON file before writing anything; with
``skip_bad`` it writes the good rows and reports the bad ones. A re-import adds new ids and
never silently rewrites a camera: a row that would change an existing camera is refused
(named with its fields) unless ``update``. A camera within ``DUPLICATE_M`` metres of an
existing camera of the same source and kind under another id is refused as a likely
duplicate (the same list imported under other ids would double every canvass) unless
``allow_duplicates``. A changed clock offset re-corrects the camera's clips, and is refused
if that would put any of them outside 1970-2100.
"""

from __future__ import annotations

from pathlib import Path

from videx import limits
from videx.errors import InputError, VidexError
from videx.records import Cells, ImportReport, ReadOptions, parse_file, swapped_hints, write_import
from videx.timeutil import get_zone, iso_utc, read_when

FIELDS = ["id", "name", "source", "integration", "kind", "lat", "lon", "point", "heading_deg",
          "fov_deg", "range_m", "address", "neighborhood", "owner_name", "owner_contact",
          "retention_days", "clock_offset_s", "tz", "active_from", "active_to"]
REQUIRED = ["id", "source", "lat", "lon"]
SOURCES = ("city", "private")
INTEGRATIONS = ("connected", "registered")
DUPLICATE_M = 5.0      # a camera this close to another of the same source and kind: a duplicate


def parse_row(cells: Cells, bounds, default_tz: str | None) -> dict:
    """Validate one registry row into a camera record (raises InputError)."""
    source = cells.choice("source", SOURCES, required=True)
    integration = cells.choice("integration", INTEGRATIONS)
    if integration is None:
        if source == "private":
            raise cells.error("integration", "private cameras need integration: connected "
                              "(footage reaches the city) or registered (owner must be asked)")
        integration = "connected"
    lat, lon = cells.point(bounds)
    fov = cells.number("fov_deg", lo=0, hi=360)
    if fov == 0:
        raise cells.error("fov_deg", "0 is outside the allowed range (0..360]")
    tz = cells.text("tz")
    if tz:
        try:
            get_zone(tz)
        except VidexError as err:
            raise cells.error("tz", str(err)) from err
    owner_contact = cells.text("owner_contact")
    if owner_contact and source != "private":
        raise cells.error("owner_contact", "owner contact is for private cameras only")
    record = {
        "id": cells.text("id", required=True),
        "name": cells.text("name"),
        "source": source,
        "integration": integration,
        "kind": cells.text("kind"),
        "lat": lat,
        "lon": lon,
        "heading_deg": cells.number("heading_deg", lo=0, hi=360),
        "fov_deg": fov,
        "range_m": cells.number("range_m", lo=0, hi=limits.MAX_RANGE_M, above=True),
        "address": cells.text("address"),
        "neighborhood": cells.text("neighborhood"),
        "owner_name": cells.text("owner_name"),
        "owner_contact": owner_contact,
        "retention_days": cells.number("retention_days", lo=0,
                                       hi=limits.MAX_RETENTION_DAYS),
        "clock_offset_s": cells.number("clock_offset_s", lo=-limits.MAX_CLOCK_OFFSET_S,
                                       hi=limits.MAX_CLOCK_OFFSET_S) or 0.0,
        "tz": tz,
    }
    if (record["heading_deg"] is None) != (fov is None):
        raise cells.error("fov_deg" if fov is None else "heading_deg",
                          "view geometry needs both heading_deg and fov_deg")
    zone = get_zone(tz or default_tz) if (tz or default_tz) else None
    for column in ("active_from", "active_to"):
        value = cells.text(column)
        try:
            when = read_when(value, zone, cells.options.date_format) if value else None
        except VidexError as err:
            raise cells.error(column, str(err)) from err
        # a date alone: active from the start of that local day, to the end of it
        at = None if when is None else (
            when.end if column == "active_to" and when.precision == "day" else when.start)
        problem = at and limits.instant_problem(at.timestamp(), column.replace("_", " "))
        if problem:
            raise cells.error(column, problem)
        record[column] = None if at is None else iso_utc(at)
    return record


def validate_file(cat, path: str | Path, options: ReadOptions | None = None
                  ) -> tuple[list[tuple[int, dict]], list[InputError]]:
    """Parse and check every row of a registry file; return ((row, good record) pairs,
    errors)."""
    bounds = cat.bounds
    zone = cat.zone_name
    good, errors = parse_file(path, FIELDS, REQUIRED,
                              lambda cells: parse_row(cells, bounds, zone), options,
                              {"lat": "point", "lon": "point"}, kind="cameras")
    good, far = swapped_hints(path, good, bounds)
    return good, errors + far


def import_cameras(cat, path: str | Path, skip_bad: bool = False,
                   options: ReadOptions | None = None, *, update: bool = False,
                   dry_run: bool = False, allow_duplicates: bool = False) -> ImportReport:
    """Validate and import a registry file (see module docstring): nothing is written when
    rows are refused unless ``skip_bad`` (which never implies ``update``); ``dry_run``
    reports what would happen and writes nothing. A changed ``clock_offset_s`` re-corrects
    that camera's catalogued clips."""
    options = options or ReadOptions()
    good, errors = validate_file(cat, path, options)

    def vet(cat, candidates) -> list[InputError]:
        out = []
        for row, rec, old in candidates:
            problem = _offset_problem(cat, rec, old) or (
                None if allow_duplicates else _duplicate_of(cat, rec))
            if problem:
                out.append(InputError(problem[1], file=str(path), row=row, column=problem[0]))
        return out

    def on_changed(old: dict, new: dict) -> None:
        if old["clock_offset_s"] != new["clock_offset_s"]:
            cat.cameras.recorrect_clips(new["id"], new["clock_offset_s"])

    return write_import(cat, "cameras", path, good, errors, skip_bad, "cameras import",
                        {"options": options.to_dict(), "allow_duplicates": allow_duplicates},
                        on_changed, update=update, dry_run=dry_run, vet=vet, noun="camera")


def _duplicate_of(cat, rec: dict) -> tuple[str, str] | None:
    """(column, reason) when an existing camera of the same source and kind under another id
    is within DUPLICATE_M metres."""
    for other in cat.cameras.near(rec["lat"], rec["lon"], DUPLICATE_M, rec["source"]):
        if other["id"] != rec["id"] and other["kind"] == rec["kind"]:
            return ("id", f"likely a duplicate of camera {other['id']!r} ({other['distance_m']:g} "
                          f"m away, same source and kind): pass --allow-duplicates if it is "
                          "another camera")
    return None


def _offset_problem(cat, rec: dict, old: dict | None) -> tuple[str, str] | None:
    """(column, reason) when a changed clock offset would put the camera's clips outside
    1970-2100."""
    if old is None or old["clock_offset_s"] == rec["clock_offset_s"]:
        return None
    span = cat.cameras.raw_span(rec["id"])
    if span is None:
        return None
    for raw in span:
        problem = limits.instant_problem(raw - rec["clock_offset_s"],
                                         "a corrected clip time")
        if problem:
            return ("clock_offset_s", f"{rec['clock_offset_s']:g} s: {problem}")
    return None


def list_cameras(cat, near: tuple[float, float] | None = None, radius_m: float | None = None,
                 source: str | None = None, integration: str | None = None) -> list[dict]:
    """All cameras (optionally near a point / of a source or integration), ordered by id, or
    by distance (metres) when ``near`` is given."""
    if near:
        rows = cat.cameras.near(near[0], near[1], radius_m or 300.0, source)
        return [r for r in rows if not integration or r["integration"] == integration]
    return cat.cameras.all(source, integration)
