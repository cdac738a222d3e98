"""Writing a study's outputs: results.json, report.md, report.html (self-contained), the PNG
figures, and study.toml (the spec that reruns it: the case table's path relative to it, and
the table's SHA-256).

The report is built once as a list of blocks (heading, paragraph, table, figure) and rendered
to Markdown and to HTML, so both always say the same thing. Every interval is labelled with the
spec's confidence level and its variance type.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from videx.study.inference import format_p, unclustered
from videx.study.run import StudyResult, association_note
from videx.study.spec import spec_to_toml

FIGURES = {"rates": "rates.png", "forest": "forest.png", "km": "km.png",
           "balance": "balance.png", "overlap": "overlap.png"}


def f2(v, fmt=".2f"):
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def ci2(pair, fmt=".2f", scale=1.0):
    return "n/a" if not pair else f"{pair[0] * scale:{fmt}} to {pair[1] * scale:{fmt}}"


def pct(v):
    return "n/a" if v is None else f"{v * 100:.1f}%"


# ------------------------------------------------------------------ figures
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _finish(fig, ax, title: str, path: Path, legend: bool = True) -> None:
    """Title, legend, layout, save as PNG and free the figure."""
    ax.set_title(title)
    if legend:
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)


def fig_rates(r: StudyResult, path: Path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    groups = [("Crude", r.crude.exposed.rate, r.crude.exposed.rate_ci,
               r.crude.unexposed.rate, r.crude.unexposed.rate_ci)]
    if r.ipw:
        groups.append(("IPW-weighted", r.ipw.rate_exposed, r.ipw.rate_exposed_ci,
                       r.ipw.rate_unexposed, r.ipw.rate_unexposed_ci))
    x = np.arange(len(groups))
    w = r.words
    for off, idx, label, color in ((-0.18, 1, w.with_(), "#2b6cb0"),
                                   (0.18, 3, w.without(), "#a0aec0")):
        vals = [g[idx] or 0 for g in groups]
        err = np.clip(np.array([[v - g[idx + 1][0], g[idx + 1][1] - v] if g[idx + 1]
                                else [0, 0] for v, g in zip(vals, groups)]).T, 0, None)
        ax.bar(x + off, np.array(vals) * 100, 0.34, yerr=err * 100, capsize=4, label=label,
               color=color)
    ax.set_xticks(x, [g[0] for g in groups])
    ax.set_ylabel(f"{w.outcome} (%)")
    _finish(fig, ax, f"{w.rate[:1].upper() + w.rate[1:]}, {r.level}% intervals", path)


def fig_forest(r: StudyResult, path: Path):
    """Overall estimates in one panel, subgroups in their own panel below."""
    plt = _plt()
    rows = r.estimates()
    panels = [[e for e in rows if e["group"] == "overall"],
              [e for e in rows if e["group"] == "subgroup"]]
    panels = [p for p in panels if p]
    heights = [0.42 * len(p) + 0.8 for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, panel, title in zip(axes[:, 0], panels, ("All estimates", "Subgroups (crude)")):
        ys = np.arange(len(panel))[::-1]
        for y, row in zip(ys, panel):
            color = "#2b6cb0" if row["group"] == "overall" else "#718096"
            ax.plot(row["ci"], [y, y], color=color, lw=2)
            ax.plot(row["estimate"], y, "s", color=color)
        ax.axvline(1.0, color="black", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(ys, [row["label"] for row in panel], fontsize=8)
        ax.set_title(f"{title}, {r.level}% intervals", fontsize=10)
    axes[-1, 0].set_xlabel(f"risk ratio, cases {r.words.with_()} vs {r.words.without()} "
                           "(log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_km(r: StudyResult, path: Path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    w = r.words
    for key, label, color in (("exposed", w.with_(), "#2b6cb0"),
                              ("unexposed", w.without(), "#a0aec0")):
        c = r.survival.curves.get(key)
        if not c:
            continue
        t = [0.0] + c["times"]
        s = [1.0] + c["surv_prob"]
        ax.step(t, np.array(s) * 100, where="post", label=label, color=color, lw=2)
    ax.set_xlabel("days since the incident")
    ax.set_ylabel(f"{w.still_open} (%)")
    _finish(fig, ax, f"{w.time_to[:1].upper() + w.time_to[1:]} (Kaplan-Meier)", path)


def fig_balance(r: StudyResult, path: Path):
    plt = _plt()
    bal = r.ipw.balance
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(bal) + 1.4))
    ys = np.arange(len(bal))[::-1]
    ax.scatter([abs(b["smd_before"]) for b in bal], ys, label="before weighting", color="#e53e3e")
    ax.scatter([abs(b["smd_after"]) for b in bal], ys, label="after weighting", color="#2b6cb0")
    ax.axvline(0.1, color="black", lw=0.8, ls="--")
    ax.set_yticks(ys, [b["covariate"] for b in bal], fontsize=8)
    ax.set_xlabel("absolute standardized mean difference")
    _finish(fig, ax, "Covariate balance (love plot)", path)


def fig_overlap(r: StudyResult, ps: np.ndarray, x: np.ndarray, path: Path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bins = np.linspace(0, 1, 26)
    ax.hist(ps[x == 1], bins=bins, alpha=0.6, label=r.words.with_(), color="#2b6cb0")
    ax.hist(ps[x == 0], bins=bins, alpha=0.6, label=r.words.without(), color="#a0aec0")
    ax.set_xlabel(f"propensity score (probability of {r.words.exposure} given the "
                  "covariates)")
    ax.set_ylabel("cases")
    _finish(fig, ax, "Propensity overlap", path)


def draw_figures(r: StudyResult, out: Path) -> dict[str, Path]:
    made = {}
    fig_rates(r, out / FIGURES["rates"])
    made["rates"] = out / FIGURES["rates"]
    if r.estimates():
        fig_forest(r, out / FIGURES["forest"])
        made["forest"] = out / FIGURES["forest"]
    if r.survival and r.survival.curves:
        fig_km(r, out / FIGURES["km"])
        made["km"] = out / FIGURES["km"]
    if r.ipw:
        fig_balance(r, out / FIGURES["balance"])
        made["balance"] = out / FIGURES["balance"]
        from videx.study.models import propensity
        complete = r.data.complete_frame()
        ps = np.asarray(propensity(complete["x"], r.data.design(),
                                   r.spec.propensity_link).predict())
        fig_overlap(r, ps, complete["x"].to_numpy(), out / FIGURES["overlap"])
        made["overlap"] = out / FIGURES["overlap"]
    return made


# ------------------------------------------------------------------ blocks
def _yes_no(clustered) -> str:
    return {True: "yes", False: "no"}.get(clustered, "")


def blocks(r: StudyResult, figures: dict[str, Path], spec_text: str) -> list[tuple]:
    c, b, lv, w = r.crude, [], f"{r.level}% CI", r.words
    cl = r.spec.cluster
    b.append(("h1", r.spec.display_title))
    b.append(("p", r.headline()))
    b.append(("note", association_note(w)))
    late = r.late_exposure
    if late:
        b.append(("p", f"{late['cases']} case(s) {w.with_()} that were {w.outcome} had the "
                       f"exposure obtained after the {w.outcome_noun}; counting them as "
                       f"{w.without()} gives a risk ratio of {f2(late['rr'])} "
                       + (f"({lv} {ci2(late['rr_ci'])}, {late['variance']})"
                          if late["rr"] is not None else f"(not estimable: {late['refused']})")
                       + (f"; a cluster-robust interval is not estimable: "
                          f"{late['cluster_refused']}" if late.get("cluster_refused") else "")
                       + "."))
    b.append(("h2", "Data"))
    b.append(("p", f"{r.data.n_input} rows read from `{Path(r.spec.cases).name}` "
                   f"(SHA-256 {r.data.input_sha256[:16]}...); {r.n} analysed, "
                   f"{r.data.n_complete} with every covariate (used by the adjusted, weighted "
                   "and stratified estimates)."))
    account = [[n, "dropped", reason] for reason, n in r.data.dropped.items()]
    account += [[n, "read as no", f"blank {side}"] for side, n in r.data.blank_as_no.items()
                if n]
    account += [[n, "left out of adjusted estimates", reason]
                for reason, n in r.data.incomplete.items()]
    if account:
        b.append(("table", ["rows", "what happened", "why"], account))
    for key, text in (("outcome", f"Outcome `{r.spec.outcome}` ({w.outcome})"),
                      ("exposure", f"Exposure `{r.spec.exposure}` ({w.exposure})")):
        b.append(("p", f"{text}: how each value in the table was read (? marks a value read "
                       "as no that looks like a yes or is not an explicit no)."))
        odd = set(r.data.suspicious.get(key, []))
        b.append(("table", ["value", "read as", "rows", ""],
                  [[v, "yes" if m["yes"] else "no", m["rows"], "?" if v in odd else ""]
                   for v, m in r.data.value_maps[key].items()]))
    if r.covariates:
        b.append(("table", ["covariate", "read as", "how", "levels", "sparse levels (< 5 rows)"],
                  [[cv.name, cv.kind, cv.how, ", ".join(cv.levels[:8]) + (
                      " ..." if len(cv.levels) > 8 else ""), ", ".join(cv.rare_levels)]
                   for cv in r.covariates]))
    b.append(("h2", "Crude comparison (every analysed case)"))
    b.append(("table", ["group", "cases", w.outcome, "rate",
                        f"{lv} ({unclustered('Wilson', cl)})"],
              [[w.with_(), c.exposed.n, c.exposed.cleared, pct(c.exposed.rate),
                ci2(c.exposed.rate_ci, ".1%")],
               [w.without(), c.unexposed.n, c.unexposed.cleared, pct(c.unexposed.rate),
                ci2(c.unexposed.rate_ci, ".1%")]]))
    measures = []
    if c.rr is None:
        measures.append(["risk ratio", "not estimable", c.rr_refused or ""])
    else:
        measures.append([f"risk ratio ({unclustered(c.rr_method, cl)})", f2(c.rr),
                         ci2(c.rr_ci)])
        measures.append([f"change in the proportion {w.outcome}", w.change(c.rr), ""])
    measures += [
        [f"risk difference, points ({unclustered('Newcombe', cl)})",
         f2(c.rd * 100 if c.rd is not None else None, "+.1f"), ci2(c.rd_ci, ".1f", 100)],
        [f"odds ratio ({unclustered('Woolf', cl)}) - not a % change in the proportion "
         f"{w.outcome}", f2(c.odds_ratio), ci2(c.or_ci)],
        [f"Fisher's exact test{' (does not account for clustering by ' + cl + ')' if cl else ''}",
         format_p(c.fisher_p) if c.fisher_p is not None else "n/a", ""]]
    if r.crude_cluster:
        for key, k in r.crude_cluster.items():
            measures.append([f"{'risk ratio' if key == 'rr' else 'risk difference, points'}, "
                             f"{k.variance}", f2(k.estimate * (1 if key == "rr" else 100)),
                             ci2(k.ci, scale=1 if key == "rr" else 100) + (
                                 f" (z: {ci2(k.ci_z, scale=1 if key == 'rr' else 100)})"
                                 if k.disagree else "")])
    for key in ("rr", "rd"):
        why = r.refused.get(f"crude {key.upper()}, cluster-robust")
        if why:
            measures.append([f"{'risk ratio' if key == 'rr' else 'risk difference'}, "
                             "cluster-robust", "not estimable", why])
    b.append(("table", ["measure", "estimate", lv], measures))
    for flag in c.flags:
        b.append(("p", f"Caution: the crude risk ratio {flag}."))
    if r.crude_complete:
        k = r.crude_complete
        b.append(("p", f"On the {k.n} cases with every covariate known (those the adjusted "
                       f"estimates use): risk ratio {f2(k.rr)} ({lv} {ci2(k.rr_ci)}, "
                       f"{unclustered(k.rr_method or 'not estimable', cl)})."))
    if "rates" in figures:
        b.append(("fig", figures["rates"], w.rate[:1].upper() + w.rate[1:]))
    b.append(("h2", "All estimates"))
    head = ["estimate", "risk ratio", lv, "variance"] + (["accounts for clusters"] if cl
                                                         else []) + ["caution"]
    b.append(("table", head,
              [[e["label"], f2(e["estimate"]), ci2(e["ci"]) + (
                  f" (z: {ci2(e['ci_z'])})" if e.get("ci_z") else ""), e["variance"]]
               + ([_yes_no(e["clustered"])] if cl else []) + ["; ".join(e["flags"])]
               for e in r.estimates() if e["group"] == "overall"]))
    if "forest" in figures:
        b.append(("fig", figures["forest"], "Forest plot (subgroups in their own panel)"))
    if r.refused:
        b.append(("table", ["estimate", "not estimable, because"],
                  [[k, v] for k, v in r.refused.items()]))
    if r.adjusted:
        a = r.adjusted
        b.append(("h2", "Adjusted estimates" if a.covariates else "Modified Poisson, unadjusted"))
        lb = a.log_binomial or {}
        nc = f"; does not account for clustering by {cl}" if cl else ""
        odds = (f"Logistic regression: OR {f2(a.odds_ratio)} (model-based, as R glm{nc}: {lv} "
                f"{ci2(a.or_ci)}; {a.covariance}: {lv} {ci2(a.or_ci_robust)})."
                if a.odds_ratio is not None else
                f"Logistic regression: not estimable: {a.or_refused}.")
        b.append(("p", f"Modified Poisson regression ({a.covariance}) on "
                       f"{', '.join(a.covariates) or 'no covariate (unadjusted)'}, {a.n} "
                       f"cases: RR {f2(a.rr)} ({lv} {ci2(a.rr_ci)}; {format_p(a.rr_p)}, "
                       f"{a.reference} reference). " + odds + " Log-binomial: "
                       + (f"RR {f2(lb['rr'])} ({lv} {ci2(lb['rr_ci'])})." if lb.get("reported")
                          else f"not reported ({lb.get('reason', 'n/a')}).")))
    if r.mantel_haenszel:
        m = r.mantel_haenszel
        b.append(("h2", f"Stratified by {' x '.join(m.strata_by)} (Mantel-Haenszel)"))
        b.append(("p", m.summary(r.level) + (f"; Breslow-Day {format_p(m.breslow_day_p)}"
                                             if m.breslow_day_p is not None else "") + "."))
        b.append(("table", ["stratum", f"{w.outcome} {w.with_()}",
                            f"{w.outcome} {w.without()}", "RR"],
                  [[s["stratum"], f"{s['exposed_cleared']}/{s['exposed_n']}",
                    f"{s['unexposed_cleared']}/{s['unexposed_n']}", f2(s["rr"])]
                   for s in m.strata]))
    if r.ipw:
        ip = r.ipw
        b.append(("h2", "Propensity weighting (IPW)"))
        trimmed = (f" --trim {ip.trim:g}: {ip.trimmed} case(s) with a propensity outside "
                   f"{ip.trim:g}-{1 - ip.trim:g} left out; the weighted estimates describe the "
                   f"other {ip.n}." if ip.trim else " No case was trimmed (no --trim).")
        b.append(("p", ip.summary(r.level) + f". Propensity model: {ip.propensity_model}; "
                       f"largest weight used {ip.max_weight:.1f} (stabilised "
                       f"{ip.max_stabilized_weight:.2f}); effective sample size "
                       f"{ip.effective_n.get('exposed', 0):.0f} {w.with_()} and "
                       f"{ip.effective_n.get('unexposed', 0):.0f} {w.without()}." + trimmed))
        b.append(("table", ["covariate", "SMD before", "SMD after"],
                  [[x["covariate"], f2(x["smd_before"]), f2(x["smd_after"])]
                   for x in ip.balance]))
        for key, cap in (("balance", "Balance before and after weighting"),
                         ("overlap", "Propensity overlap")):
            if key in figures:
                b.append(("fig", figures[key], cap))
    if r.survival:
        s = r.survival
        b.append(("h2", w.time_to[:1].upper() + w.time_to[1:]))
        b.append(("p", s.summary(r.level) + f". {s.n} cases, {s.events} {w.outcome}; "
                       f"median days to {w.outcome_noun} {w.with_()} "
                       f"{f2(s.median_days.get('exposed'), '.0f')}, {w.without()} "
                       f"{f2(s.median_days.get('unexposed'), '.0f')} (cases not {w.outcome} "
                       f"are censored at {r.spec.censor_date or 'the last outcome date'})."))
        if s.dropped:
            b.append(("table", ["rows left out of the time analysis", "reason"],
                      [[n, k] for k, n in s.dropped.items()]))
        if "km" in figures:
            b.append(("fig", figures["km"], f"Kaplan-Meier: {w.still_open}"))
    b.append(("h2", "Sensitivity"))
    for ev in r.evalues.values():
        b.append(("p", ev.summary()))
    if r.bootstrap:
        bt = r.bootstrap
        b.append(("p", f"Bootstrap ({bt['n']} resamples of {bt['resampled']}, seed "
                       f"{bt['seed']}): crude RR {r.level}% percentile interval "
                       f"{ci2(bt['ci'])}."))
    if r.subgroups:
        b.append(("h2", "Subgroups"))
        b.append(("table", ["subgroup", "cases", f"{w.outcome} {w.with_()}",
                            f"{w.outcome} {w.without()}", "RR", lv, "variance", "caution"],
                  [[f"{s['by']} = {s['level']}", s["n"], pct(s["exposed_rate"]),
                    pct(s["unexposed_rate"]), f2(s["rr"]),
                    ci2(s["rr_ci"]) if s["rr"] is not None
                    else f"not estimable: {s.get('refused') or ''}",
                    s.get("variance") or "",
                    "; ".join(s.get("flags", []) + ([f"cluster-robust not estimable: "
                                                     f"{s['cluster_refused']}"]
                                                    if s.get("cluster_refused") else []))]
                   for s in r.subgroups]))
        b.append(("table", ["subgroup variable", "test of a different RR between levels",
                            "p"],
                  [[h["by"], (f"{h.get('test', 'chi2')}: chi2 {h['chi2']:.2f} on {h['df']} "
                              f"df, {h['covariance']}" if h.get("p") is not None
                              else f"not estimable: {h.get('reason', '')}"),
                    format_p(h.get("p")) if h.get("p") is not None else ""]
                   for h in r.heterogeneity]))
    if r.notes:
        b.append(("h2", "Warnings"))
        b.append(("ul", r.notes))
    b.append(("h2", "Reproduce"))
    b.append(("p", "The spec below is saved as `study.toml` beside this report; run `videx "
                   "study run --spec study.toml --out DIR` from anywhere to recompute every "
                   "number (the case table must still have the SHA-256 it records)."))
    b.append(("pre", spec_text))
    b.append(("p", "Versions: " + ", ".join(f"{k} {v}" for k, v in r.versions.items())))
    return b


def to_markdown(bl: list[tuple]) -> str:
    out = []
    for kind, *rest in bl:
        if kind == "h1":
            out.append(f"# {rest[0]}\n")
        elif kind == "h2":
            out.append(f"## {rest[0]}\n")
        elif kind == "p":
            out.append(rest[0] + "\n")
        elif kind == "note":
            out.append(f"> **Read this first.** {rest[0]}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {x}" for x in rest[0]) + "\n")
        elif kind == "pre":
            out.append(f"```toml\n{rest[0]}```\n")
        elif kind == "fig":
            out.append(f"![{rest[1]}]({rest[0].name})\n")
        elif kind == "table":
            head, rows = rest
            out.append("| " + " | ".join(map(str, head)) + " |\n|"
                       + "---|" * len(head) + "\n"
                       + "\n".join("| " + " | ".join(str(c).replace("|", "/") for c in row)
                                   + " |" for row in rows) + "\n")
    return "\n".join(out)


CSS = """body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;
color:#1a202c;line-height:1.45}table{border-collapse:collapse;margin:.6rem 0 1rem}
td,th{border:1px solid #cbd5e0;padding:.25rem .6rem;text-align:left;font-size:.92rem}
th{background:#edf2f7}.note{background:#fffbea;border-left:4px solid #d69e2e;padding:.6rem 1rem}
img{max-width:100%}pre{background:#f7fafc;padding:.8rem;overflow:auto}code{background:#edf2f7}"""


def _inline(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(bl: list[tuple], title: str) -> str:
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>"
           f"{html.escape(title)}</title><style>{CSS}</style></head><body>"]
    for kind, *rest in bl:
        if kind == "h1":
            out.append(f"<h1>{html.escape(rest[0])}</h1>")
        elif kind == "h2":
            out.append(f"<h2>{html.escape(rest[0])}</h2>")
        elif kind == "p":
            out.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "note":
            out.append(f"<p class='note'><strong>Read this first.</strong> "
                       f"{html.escape(rest[0])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in rest[0]) + "</ul>")
        elif kind == "pre":
            out.append(f"<pre>{html.escape(rest[0])}</pre>")
        elif kind == "fig":
            data = base64.b64encode(Path(rest[0]).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{html.escape(rest[1])}' "
                       f"src='data:image/png;base64,{data}'><figcaption>"
                       f"{html.escape(rest[1])}</figcaption></figure>")
        elif kind == "table":
            head, rows = rest
            out.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
                       + "</tr>" + "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>"
                                                             for c in row) + "</tr>"
                                           for row in rows) + "</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(r: StudyResult, out: str | Path) -> dict[str, Path]:
    """Write results.json (strict JSON), report.md, report.html, the PNG figures and
    study.toml into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = draw_figures(r, out)
    spec_path = out / "study.toml"
    spec_text = spec_to_toml(r.spec, written_to=spec_path, cases_sha256=r.data.input_sha256)
    bl = blocks(r, figures, spec_text)
    paths = {"results": out / "results.json", "markdown": out / "report.md",
             "html": out / "report.html", "spec": spec_path, **figures}
    paths["results"].write_text(results_json(r, out))
    paths["markdown"].write_text(to_markdown(bl))
    paths["html"].write_text(to_html(bl, r.spec.display_title))
    spec_path.write_text(spec_text)
    return paths


def results_json(r: StudyResult, out: str | Path) -> str:
    """results.json as written into the folder ``out`` (the spec's case table relative to
    it): strict JSON, the same bytes for a rerun from the written study.toml."""
    return json.dumps(r.to_dict(relative_to=out), indent=2, default=_json_default,
                      allow_nan=False) + "\n"


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
