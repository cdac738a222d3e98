"""``videx requests``: ask private camera owners for footage, send the letter and reminders,
and take in what they hand over."""

from __future__ import annotations

import sys
import time

import click

from videx import output
from videx.commands.common import (
    EXIT_PARTIAL,
    VidexGroup,
    db_option,
    format_option,
    parse_opt,
    parse_window,
    warn,
    window_options,
)
from videx.history import SHOWN
from videx.timeutil import format_local, parse_duration

LIST_COLUMNS = ["code", "incident_id", "camera_id", "owner_name", "status", "deadline",
                "time_left", "camera_clock_window"]
CSV_COLUMNS = ["code", "incident_id", "camera_id", "camera_name", "owner_name", "owner_contact",
               "status", "window_start", "window_end", "camera_clock_window", "local_window",
               "deadline", "hours_left", "link_expires", "detective", "created_at",
               "upload_url"]


@click.group(name="requests", cls=VidexGroup)
def requests_group():
    """Requests to private camera owners: letters, upload links, reminders, received files."""


def _rows(reqs, now_ts, urls=None):
    """Requests as flat rows for a table or CSV."""
    rows = []
    for r in reqs:
        d = r.to_dict(now_ts, (urls or {}).get(r.code))
        rows.append({"code": r.code, "incident_id": r.incident_id, "camera_id": r.camera_id,
                     "camera_name": r.camera_name, "owner_name": r.owner_name,
                     "owner_contact": r.owner_contact, "status": d["status"],
                     "window_start": d["window"]["start"], "window_end": d["window"]["end"],
                     "camera_clock_window": d["window"]["camera_clock"],
                     "local_window": d["window"]["local"],
                     "deadline": d["deadline_local"] or "unknown",
                     "hours_left": d["hours_left"], "time_left": d["deadline_words"],
                     "link_expires": d["link_expires"], "detective": r.detective,
                     "created_at": r.created_at, "upload_url": d["upload_url"]})
    return rows


def _render(cat, reqs, fmt, now_ts):
    """A list of requests in ``fmt``; JSON and CSV carry the upload links where they can be
    made (a note on stderr says why not otherwise)."""
    from videx import requests
    urls, note = ({}, None) if fmt == "table" else requests.upload_urls(cat, reqs)
    if fmt == "json":
        click.echo(output.to_json([r.to_dict(now_ts, urls.get(r.code)) for r in reqs]))
    elif fmt == "csv":
        click.echo(output.to_csv(_rows(reqs, now_ts, urls), CSV_COLUMNS).rstrip("\n"))
    else:
        click.echo(output.to_table(_rows(reqs, now_ts), LIST_COLUMNS))
    warn(note)


@requests_group.command(name="create")
@db_option
@click.argument("incident_id")
@click.option("--camera", "cameras", multiple=True, metavar="ID",
              help="A camera to request (repeatable).")
@click.option("--all-open", is_flag=True,
              help="Every registered camera of the canvass with no footage catalogued for the "
                   "window and whose deadline has not passed, most urgent first.")
@window_options
@click.option("--detective", help="Name on the letter (default: --as, else your account).")
@click.option("--contact", help="How owners reach the detective (phone, e-mail).")
@click.option("--link-days", type=float,
              help="Days the upload link works after the deadline (default: the "
                   "link_days_after_deadline setting, 7).")
@format_option("table", "json", "csv")
def requests_create(cat, incident_id, cameras, all_open, radius, before, after, detective,
                    contact, link_days, fmt):
    """Make requests to camera owners for an incident's footage (one per camera).

    \b
    Example:
        videx requests create HPD-23-004120 --all-open --contact "555-0100"
        videx requests create HPD-23-004120 --camera PRIV-101 --camera RING-002
    """
    from videx import requests
    if bool(cameras) == bool(all_open):
        raise click.UsageError("give --camera ID (repeatable) or --all-open")
    result = requests.create(cat, incident_id, list(cameras), all_open,
                             **parse_window(radius, before, after), detective=detective,
                             detective_contact=contact, link_days=link_days)
    now_ts = time.time()
    _render(cat, list(result.created), fmt, now_ts)
    for cam, why in result.skipped:
        click.echo(f"{'Error' if result.explicit else 'Left out'}: camera {cam}: {why}",
                   err=True)
    for note in result.notes:
        warn(note)
    click.echo(result.summary(), err=True)
    if result.explicit and result.skipped:
        sys.exit(EXIT_PARTIAL if result.created else 1)


@requests_group.command(name="list")
@db_option
@click.option("--incident", "incident_id", help="Only this incident's requests.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(SHOWN),
              help="Only requests shown with this status (repeatable).")
@format_option("table", "json", "csv")
def requests_list(cat, incident_id, statuses, fmt):
    """List requests with their status, deadline and the window as each camera shows it.

    \b
    Example:
        videx requests list --incident HPD-23-004120
        videx requests list --status sent --status reminded --format csv
    """
    from videx import requests
    now_ts = time.time()
    _render(cat, requests.list_requests(cat, incident_id, statuses or None, now_ts), fmt,
            now_ts)


@requests_group.command(name="show")
@db_option
@click.argument("code")
@format_option("table", "json")
def requests_show(cat, code, fmt):
    """Show one request: owner, window (camera clock and local), deadline, link, history, files.

    \b
    Example:
        videx requests show 7QX2-MC9R
    """
    from videx import requests
    req = requests.get(cat, code)
    now_ts = time.time()
    urls, note = requests.upload_urls(cat, [req])
    record = req.to_dict(now_ts, urls[req.code])
    record["history"] = requests.history(cat, req)
    record["files"] = requests.files(cat, req)
    if fmt == "json":
        click.echo(output.to_json(record))
    else:
        window = record.pop("window")
        flat = {"code": record["code"], "incident": record["incident_id"],
                "camera": f"{req.camera_id} ({req.camera_name or ''})",
                "camera address": req.camera_address, "owner": req.owner_name,
                "owner contact": req.owner_contact, "status": record["status"],
                "camera's clock shows": window["camera_clock"],
                "local time": window["local"],
                "UTC": f"{window['start']} to {window['end']}",
                "clock offset (s)": window["clock_offset_s"],
                "deadline": f"{record['deadline_local'] or 'unknown'} "
                            f"({record['deadline_words']})",
                "link expires": format_local(req.expires_ts, req.zone),
                "upload link": record["upload_url"] or "(not shown)",
                "detective": req.detective, "detective contact": req.detective_contact,
                "created": f"{req.created_at} by {req.created_by}"
                           + (f" as {req.acting_as}" if req.acting_as else "")}
        width = max(len(k) for k in flat)
        for k, v in flat.items():
            click.echo(f"{k.ljust(width)}  {'' if v is None else v}")
        click.echo("\nhistory:")
        click.echo(output.to_table(record["history"], ["id", "status", "note", "recorded_at",
                                                       "recorded_by", "acting_as"]))
        click.echo("\nfiles:")
        click.echo(output.to_table(record["files"], ["id", "received_at", "result", "clip_id",
                                                     "size_bytes", "sha256", "file_name",
                                                     "reason"]))
    warn(note)


@requests_group.command(name="letter")
@db_option
@click.argument("code")
@click.option("--out", "outs", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="File to write: .html (to print, one page) or .eml (an e-mail). "
                   "Repeatable for both.")
def requests_letter(cat, code, outs):
    """Write a request's letter to the owner: a printable page and/or an e-mail file.

    \b
    Example:
        videx requests letter 7QX2-MC9R --out letter.html --out letter.eml
    """
    from videx import letters
    for path in letters.write_letter(cat, code, list(outs)):
        click.echo(f"wrote {path}")


def _report_send(report):
    for code in report.would_send:
        click.echo(f"{code}: would send a {report.kind}")
    for code in report.sent:
        click.echo(f"{code}: {report.kind} sent")
    for code, why in report.failed:
        click.echo(f"Error: {code}: {why}", err=True)
    click.echo(report.summary(), err=True)
    if report.failed:
        sys.exit(EXIT_PARTIAL if report.sent else 1)


@requests_group.command(name="send")
@db_option
@click.argument("codes", nargs=-1, required=True)
@click.option("--again", is_flag=True, help="Send a letter that was sent before once more.")
def requests_send(cat, codes, again):
    """E-mail requests' letters to the owners through the SMTP server, and record them sent.

    \b
    Example:
        export VIDEX_SMTP_PASSWORD=...     # never on the command line or in the catalog
        videx requests send 7QX2-MC9R 9CFG-HJ3W
    """
    from videx import requests
    _report_send(requests.send(cat, list(codes), again=again))


@requests_group.command(name="remind")
@db_option
@click.option("--after", default="24h", show_default=True,
              help="Remind when the letter (or last reminder) went out at least this long ago.")
@click.option("--dry-run", is_flag=True, help="List the reminders, send nothing.")
def requests_remind(cat, after, dry_run):
    """E-mail reminders for requests with no answer whose deadline has not passed.

    \b
    Example:
        videx requests remind --after 24h --dry-run
        videx requests remind        # e.g. each morning from cron
    """
    from videx import requests
    _report_send(requests.remind(cat, parse_opt(parse_duration, after, "--after"), dry_run))


@requests_group.command(name="due")
@db_option
@click.option("--within", help="Only requests due within this long (e.g. 48h).")
@format_option("table", "json", "csv")
def requests_due(cat, within, fmt):
    """List open requests across all cases, fewest hours left first (for a morning routine).

    \b
    Example:
        videx requests due --within 48h
    """
    from videx import requests
    now_ts = time.time()
    within_s = parse_opt(parse_duration, within, "--within")
    _render(cat, requests.due(cat, within_s, now_ts), fmt, now_ts)


@requests_group.command(name="withdraw")
@db_option
@click.argument("code")
@click.option("--note", help="Why (kept in the request's history).")
def requests_withdraw(cat, code, note):
    """Withdraw a request: its upload link stops working at once.

    \b
    Example:
        videx requests withdraw 7QX2-MC9R --note "footage obtained from the city camera"
    """
    from videx import requests
    req = requests.withdraw(cat, code, note)
    click.echo(f"{req.code}: withdrawn; its upload link no longer works")


@requests_group.command(name="mark")
@db_option
@click.argument("code")
@click.argument("status", type=click.Choice(["sent", "declined", "no-footage"]))
@click.option("--note", help="Free text (how it was delivered, what the owner said).")
def requests_mark(cat, code, status, note):
    """Record what happened outside videx: a letter delivered by hand, a refusal, no footage.

    \b
    Example:
        videx requests mark 7QX2-MC9R sent --note "handed to the owner"
        videx requests mark 7QX2-MC9R no-footage --note "camera was off"
    """
    from videx import requests
    req = requests.mark(cat, code, status, note)
    click.echo(f"{req.code}: {req.status}")


@requests_group.command(name="receive")
@db_option
@click.argument("code")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--name", "stated_name", help="Who handed the files over.")
@click.option("--start", help="The time the camera shows at the start of the video "
                              "(e.g. 22:31 or 2023-05-01 22:31:05), when the file does not say.")
@click.option("--email-receipt", is_flag=True, help="Also e-mail the receipt to the owner.")
@format_option("table", "json")
def requests_receive(cat, code, files, stated_name, start, email_receipt, fmt):
    """Take in files an owner handed over (USB stick, e-mail): evidence-grade, as an upload.

    \b
    Example:
        videx requests receive 7QX2-MC9R /media/usb/ch01_20230501143012.mp4 --name "J. Doe"
    """
    from videx import __version__, intake, requests
    req = requests.get(cat, code)
    results = []
    for path in files:
        staged = intake.stage_file(cat, path)
        results.append(intake.accept(cat, req, staged.path, intake.UploadMeta(
            file_name=click.format_filename(path, shorten=True), stated_name=stated_name,
            client_addr="in person", user_agent=f"videx {__version__} requests receive",
            start=start, bytes_received=staged.size_bytes, sha256=staged.sha256,
            channel="in person")))
    receipt = intake.receipt_of(results)
    if fmt == "json":
        click.echo(output.to_json([r.to_dict() for r in results]))
    else:
        click.echo(output.to_table([r.to_dict() for r in results],
                                   ["file_name", "result", "clip_id", "size_bytes", "sha256",
                                    "message"], max_width=70))
    if email_receipt:
        warn(intake.send_receipt(cat, req, receipt))
    click.echo(receipt.summary(), err=True)
    refused = sum(1 for r in results if r.receipt.result == "refused")
    if refused:
        sys.exit(EXIT_PARTIAL if refused < len(results) else 1)
