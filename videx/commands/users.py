"""``videx users``: people who sign in to ``videx serve``."""

from __future__ import annotations

import sys

import click

from videx.commands.common import VidexGroup, db_option, echo_rows, format_option


@click.group(name="users", cls=VidexGroup)
def users_group():
    """People who sign in to videx serve, and their roles."""


@users_group.command(name="add")
@db_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["detective", "analyst", "admin"]),
              help="detective: cases and evidence; analyst: also the study; admin: also "
                   "users, imports and the audit log.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
@click.option("--replace", is_flag=True, help="Set a new role and password for an existing user.")
def users_add(cat, name, role, password_stdin, replace):
    """Add a user who can sign in to videx serve.

    \b
    Example:
        printf '%s' "$PASSWORD" | videx users add jdoe --role detective --password-stdin
    """
    from videx import users
    password = sys.stdin.read().rstrip("\r\n")
    users.add_user(cat, name, role, password, replace=replace)
    click.echo(f"user {name} ({role}) added" if not replace else f"user {name} ({role}) set")


@users_group.command(name="list")
@db_option
@format_option("table", "csv", "json")
def users_list(cat, fmt):
    """List users (never their password hashes).

    \b
    Example:
        videx users list
    """
    from videx import users
    echo_rows(users.list_users(cat), fmt, ["name", "role", "created_at", "disabled",
                                           "password_changed_at"])


@users_group.command(name="disable")
@db_option
@click.argument("name")
def users_disable(cat, name):
    """Stop a user from signing in (their history stays).

    \b
    Example:
        videx users disable jdoe
    """
    from videx import users
    users.disable_user(cat, name)
    click.echo(f"user {name} can no longer sign in")


@users_group.command(name="enable")
@db_option
@click.argument("name")
def users_enable(cat, name):
    """Let a disabled user sign in again.

    \b
    Example:
        videx users enable jdoe
    """
    from videx import users
    users.enable_user(cat, name)
    click.echo(f"user {name} can sign in again")


@users_group.command(name="set-role")
@db_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["detective", "analyst", "admin"]),
              help="The user's new role.")
def users_set_role(cat, name, role):
    """Give a user another role (recorded in the audit log with the old one).

    \b
    Example:
        videx users set-role jdoe --role analyst
    """
    from videx import users
    old = users.set_role(cat, name, role)
    click.echo(f"user {name}: {old['role']} -> {role}" if old["role"] != role
               else f"user {name} is already {role}")


@users_group.command(name="reset-password")
@db_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the new password from standard input (never from the command line).")
def users_reset_password(cat, name, password_stdin):
    """Set a new password for a user.

    \b
    Example:
        printf '%s' "$PASSWORD" | videx users reset-password jdoe --password-stdin
    """
    from videx import users
    users.reset_password(cat, name, sys.stdin.read().rstrip("\r\n"))
    click.echo(f"user {name}: password changed")
