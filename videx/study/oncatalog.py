"""The study on the catalog itself, as the web's study page runs it: the case table from the
catalog (``dataset``), the run and the report, in one folder."""

from __future__ import annotations

from pathlib import Path

from videx.canvass import RADIUS_M
from videx.errors import OptionError


def run_on_catalog(cat, folder: str | Path, exposure: str = "probative",
                   covariates: tuple[str, ...] = (), radius_m: float = RADIUS_M):
    """Build the case table into ``folder/cases.csv``, run the study and write its report
    into ``folder/out``; (the result, the report's paths)."""
    from videx.study.dataset import EXPOSURES, exposure_label, write_dataset
    from videx.study.report import write_report
    from videx.study.run import run_study
    from videx.study.spec import build_spec
    if exposure not in EXPOSURES:
        raise OptionError(f"unknown exposure {exposure!r} (use {', '.join(EXPOSURES)})",
                          "exposure")
    folder = Path(folder)
    write_dataset(cat, folder / "cases.csv", exposure, radius_m)
    spec = build_spec({"cases": str(folder / "cases.csv"), "outcome": "cleared=yes",
                       "exposure": "video=yes", "covariates": tuple(covariates),
                       "exposure_label": exposure_label(exposure, radius_m)})
    result = run_study(spec)
    return result, write_report(result, folder / "out")
