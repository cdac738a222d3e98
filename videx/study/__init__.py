"""The video-impact study: an outcome (clearance by default) of cases with and without an
exposure (relevant video by default), with the labels the analyst gives both.

Usable from Python::

    from videx.study import build_spec, run_study
    result = run_study(build_spec({"cases": "cases.csv", "exposure": "video=yes",
                                   "covariates": ("category",)}))
    print(result.summary())

The statistics modules (pandas, statsmodels) load only when one of these names is used, so
``videx.study.dataset`` (the case table from the catalog) stays light.
"""

from importlib import import_module

_NAMES = {"StudyResult": "videx.study.run", "run_study": "videx.study.run",
          "StudySpec": "videx.study.spec", "build_spec": "videx.study.spec",
          "load_spec": "videx.study.spec"}

__all__ = list(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'videx.study' has no attribute {name!r}")
