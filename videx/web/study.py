"""The analyst's page: the video-impact study on the catalog."""

from __future__ import annotations

from videx.errors import NotFound


async def study_page(web, request, user):
    """Choose the exposure and covariates, see the headline and the estimates, open the
    report."""
    import tempfile
    from pathlib import Path

    from videx.study.dataset import EXPOSURES, exposure_label
    from videx.study.oncatalog import run_on_catalog
    ctx = {"result": None, "exposure": "probative", "covariates": "category", "run_id": None,
           "exposures": [(e, exposure_label(e)) for e in EXPOSURES]}
    if request.method == "GET":
        return web.page(request, "study.html", ctx)
    form = await web.form_checked(request)
    exposure = web.text(form, "exposure") or "probative"
    covariates = tuple(c.strip() for c in web.text(form, "covariates").split(",") if c.strip())

    def work():
        folder = Path(tempfile.mkdtemp(dir=web.cache, prefix="study-"))
        with web.catalog_for(user) as cat:
            result, _ = run_on_catalog(cat, folder, exposure, covariates)
        return result, folder.name
    result, run_id = await web.run_slow(work)
    return web.page(request, "study.html", {**ctx, "result": result, "exposure": exposure,
                                            "covariates": ", ".join(covariates),
                                            "run_id": run_id})


async def study_report(web, request, user):
    from starlette.responses import FileResponse
    run_id = request.path_params["run_id"]
    report = web.cache / run_id / "out" / "report.html"
    if not run_id.startswith("study-") or "/" in run_id or ".." in run_id \
            or not report.is_file():
        raise NotFound("no such study run (runs are kept until the server stops)")
    return web.secure(FileResponse(report, media_type="text/html"))
