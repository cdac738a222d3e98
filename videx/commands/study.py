"""``videx study``: the video-impact study (case table and run)."""

from __future__ import annotations

import click

from videx import cameras, geo, output
from videx.canvass import RADIUS_M
from videx.commands.common import VidexGroup, db_option, format_option, parse_opt, warn
from videx.study.dataset import EXPOSURES


@click.group(name="study", cls=VidexGroup)
def study_group():
    """The video-impact study: clearance with and without relevant video."""


@study_group.command(name="dataset")
@db_option
@click.option("--exposure", type=click.Choice(EXPOSURES),
              default="probative", show_default=True, help="What counts as relevant video.")
@click.option("--radius", default=f"{RADIUS_M:g}m", show_default=True,
              help="Radius for coverage and nearby (m, km, ft).")
@click.option("--source", type=click.Choice(cameras.SOURCES),
              help="nearby: only cameras of this source.")
@click.option("--integration", type=click.Choice(cameras.INTEGRATIONS),
              help="nearby: only cameras of this integration.")
@click.option("--in-view", is_flag=True, help="nearby: only cameras whose view holds the place.")
@click.option("--active", is_flag=True,
              help="nearby: only cameras active on the incident's date (when known).")
@click.option("--carry", multiple=True, metavar="COLUMN",
              help="Copy an imported incident column into the table (repeatable).")
@click.option("--count-exceptional", is_flag=True,
              help="Count exceptional clearances as cleared (default: arrests only).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV to write.")
def study_dataset(cat, exposure, radius, source, integration, in_view, active, carry,
                  count_exceptional, out):
    """Write the study's case table (one row per incident) and the spec that runs it.

    \b
    Example:
        videx study dataset --exposure probative --out cases.csv
        videx study dataset --exposure nearby --radius 50m --source city --out cases.csv
        videx study run --cases cases.csv --exposure video=yes --covariate category
    """
    from videx.study.dataset import NearbyRule, write_dataset
    if exposure != "nearby" and (source or integration or in_view or active):
        raise click.UsageError("--source, --integration, --in-view and --active go with "
                               "--exposure nearby")
    counts = write_dataset(cat, out, exposure,
                           parse_opt(geo.parse_distance, radius, "--radius"), count_exceptional,
                           NearbyRule(source, integration, in_view, active), tuple(carry))
    click.echo(f"{counts['out']}: {counts['cases']} cases, {counts['exposed']} with video "
               f"({exposure}), {counts['cleared']} cleared")
    click.echo(f"{counts['spec']}: the spec that runs it (exposure called "
               f"{counts['exposure_label']!r}): videx study run --spec {counts['spec']}")
    unknown = counts["clearance_unknown"]
    if unknown == counts["cases"] and unknown:
        warn("no incident has a clearance recorded (its list had no cleared or cleared_at "
             "column): the cleared column is blank, so study run has no outcome to analyse; "
             "import the incident list again with its clearance column (e.g. --map "
             "cleared=COLUMN)")
    elif unknown:
        warn(f"{unknown} of {counts['cases']} incidents have no clearance recorded: their "
             "cleared cell is blank (study run leaves them out, or reads them as not cleared "
             "with --missing-outcome no)")
    warn(counts["audit_note"])


@study_group.command(name="run")
@click.option("--spec", "spec_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML study spec; options below override it.")
@click.option("--cases", type=click.Path(dir_okay=False), help="Case table (CSV).")
@click.option("--encoding", help="Case table encoding when not UTF-8/UTF-16 (e.g. cp1252).")
@click.option("--delimiter", help="Case table delimiter: , ; or tab (default: sniffed).")
@click.option("--outcome", multiple=True,
              help="COLUMN=VALUES meaning cleared: a,b or a JSON list [\"Closed, arrest\"] or "
                   "re:REGEX (repeatable for more values).")
@click.option("--outcome-no", help="VALUES meaning not cleared; any other value is an error.")
@click.option("--missing-outcome", type=click.Choice(["drop", "no"]),
              help="Blank outcome: leave the row out (drop, default) or read it as no.")
@click.option("--exposure", multiple=True,
              help="COLUMN=VALUES meaning relevant video (as --outcome).")
@click.option("--exposure-no", help="VALUES meaning no video; any other value is an error.")
@click.option("--missing-exposure", type=click.Choice(["drop", "no"]),
              help="Blank exposure: leave the row out (drop, default) or read it as no.")
@click.option("--exposure-label", help="How to call the exposure in the report (default "
                                       "'relevant video', e.g. 'a camera within 50 m').")
@click.option("--outcome-label", help="How to call the outcome: what a case with it 'was' "
                                      "(default 'cleared', e.g. 'relevant video found').")
@click.option("--covariate", "covariates", multiple=True, help="Adjust for COLUMN (repeatable).")
@click.option("--categorical", multiple=True, help="Treat covariate COLUMN as categorical.")
@click.option("--numeric", multiple=True, help="Treat covariate COLUMN as numeric.")
@click.option("--numeric-leading", multiple=True,
              help="Covariate COLUMN is the number at the start of each cell ('26, pic').")
@click.option("--cluster", help="Cluster-robust errors by COLUMN (e.g. neighborhood).")
@click.option("--where", multiple=True, help="Keep rows where COLUMN=VALUES (repeatable).")
@click.option("--exclude", multiple=True, help="Drop rows where COLUMN=VALUES (repeatable).")
@click.option("--stratify", multiple=True, help="Mantel-Haenszel strata COLUMN (repeatable).")
@click.option("--subgroup", "subgroups", multiple=True, help="Crude RR per level of COLUMN.")
@click.option("--occurred", help="COLUMN with the incident date (time to clearance).")
@click.option("--cleared-at", help="COLUMN with the clearance date.")
@click.option("--censor-date", help="Open cases are censored at this DATE (YYYY-MM-DD).")
@click.option("--exposure-time", help="COLUMN with when the video was obtained.")
@click.option("--trim", type=float, help="IPW: keep propensities inside TRIM..1-TRIM.")
@click.option("--alpha", type=float, help="1 - confidence level (default 0.05: 95%).")
@click.option("--bootstrap", type=click.IntRange(0, 100_000), help="Bootstrap resamples.")
@click.option("--seed", type=int, help="Bootstrap seed.")
@click.option("--propensity-link", type=click.Choice(["logit", "probit"]))
@click.option("--title", help="Report title.")
@click.option("--out", default="study-out", show_default=True,
              type=click.Path(file_okay=False), help="Folder for results and report.")
@format_option("table", "json")
def study_run(spec_path, out, fmt, **options):
    """Run the study: crude, adjusted, stratified, weighted, survival and sensitivity.

    \b
    Example:
        videx study run --spec fixtures/study/study.toml --out study-out
        videx study run --cases cases.csv --outcome cleared=yes --exposure video=yes \\
            --covariate category --cluster neighborhood --out study-out
        videx study run --cases list.csv --outcome 'status=["Closed, arrest"]' \\
            --exposure camera=Y --missing-exposure no --numeric-leading age --covariate age
    """
    from videx.study.spec import build_spec, load_spec  # no pandas: bad specs fail fast
    overrides = {k: v for k, v in options.items() if v not in (None, ())}
    for key in ("outcome", "exposure"):
        if key in overrides:
            value = list(overrides[key])
            overrides[key] = value[0] if len(value) == 1 else value
    spec = load_spec(spec_path, overrides) if spec_path else build_spec({}, overrides)
    from videx.study.run import run_study
    result = run_study(spec)
    from videx.study.report import write_report  # matplotlib: only once there are results
    paths = write_report(result, out)
    if fmt == "json":
        click.echo(output.to_json(result.to_dict(relative_to=out)))
        for line in result.value_map_lines():      # the summary shows these; JSON users too
            click.echo(line, err=True)
    else:
        click.echo(result.summary())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}", err=True)
