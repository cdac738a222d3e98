"""``videx keys``: the department's package signing key."""

from __future__ import annotations

import click

from videx.commands.common import VidexGroup, db_option


@click.group(name="keys", cls=VidexGroup)
def keys_group():
    """The key that signs evidence packages (Ed25519)."""


@keys_group.command(name="create")
@db_option
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="New private key file (keep it outside the catalog, readable by videx "
                   "only).")
def keys_create(cat, out):
    """Create the catalog's package signing key; every later package is signed with it.

    Set VIDEX_SIGNING_KEY to the key file wherever packages are made (videx extract, videx
    serve); give recipients the public key from videx keys export.

    \b
    Example:
        videx keys create --out /secure/videx-signing.pem
        export VIDEX_SIGNING_KEY=/secure/videx-signing.pem
        videx keys export --out hartford-pd.pub
    """
    from videx import keys
    public = keys.create_key(cat, out)
    click.echo(f"package signing key {public.key_id} written to {out} and recorded in the "
               f"catalog; set {keys.KEY_ENV}={out} where packages are made, and give "
               "recipients the public key (videx keys export --out FILE.pub)")


@keys_group.command(name="export")
@db_option
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Public key file to write (PEM), for whoever receives packages.")
def keys_export(cat, out):
    """Write the catalog's public signing key, for recipients of its packages.

    \b
    Example:
        videx keys export --out hartford-pd.pub
        videx verify package-004120 --public-key hartford-pd.pub
    """
    from videx import keys
    from videx.errors import SigningKeyError
    public = keys.catalog_key(cat)
    if public is None:
        raise SigningKeyError("this catalog has no package signing key: create one with "
                              "videx keys create")
    keys.export_public_key(out, public)
    click.echo(f"public key {public.key_id} written to {out}")
