"""The video-impact study: clearance of shootings with and without relevant video.

Usable from Python::

    from videx.study import build_spec, run_study, write_report
    result = run_study(build_spec({"cases": "cases.csv", "exposure": "video=yes",
                                   "covariates": ("category",)}))
    print(result.summary())
"""

from videx.study.run import StudyResult, run_study
from videx.study.spec import StudySpec, build_spec, load_spec

__all__ = ["StudyResult", "StudySpec", "build_spec", "load_spec", "run_study"]
