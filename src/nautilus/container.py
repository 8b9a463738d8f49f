"""The container entrypoint: secrets from files, then ``nautilus ARGS``.

In the image, ``nautilus`` is a small wrapper running ``python -m nautilus.container ARGS`` (the entrypoint and
``docker compose exec SERVICE nautilus ...`` alike), which

* reads ``NAUTILUS_X_FILE`` into ``NAUTILUS_X`` for every settings field ``x`` (compose ``secrets:`` are files
  under ``/run/secrets``; the value is the file's content less its final newline; a variable already set
  and its ``_FILE`` both given is an error, as in the PostgreSQL image);
* builds ``NAUTILUS_DATABASE_URL`` from ``NAUTILUS_DATABASE_PASSWORD_FILE`` and ``NAUTILUS_DATABASE_USER``,
  ``_HOST``, ``_PORT``, ``_NAME`` (and ``_DRIVER``, default ``postgresql``) with SQLAlchemy's ``URL.create``,
  so a password such as ``p@ss:w/rd`` is escaped, never pasted into the URL;
* then replaces itself with the real ``nautilus`` command (same process id: signals reach it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

PREFIX = "NAUTILUS_"
PASSWORD_FILE = "NAUTILUS_DATABASE_PASSWORD_FILE"


def read_secret(path: str | os.PathLike[str]) -> str:
    """A secret file's content without its final line break (editors and ``echo`` add one)."""
    text = Path(path).read_text(encoding="utf-8")
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _fields() -> set[str]:
    from nautilus.config import Settings

    return set(Settings.model_fields)


def database_url(environ: Mapping[str, str]) -> str | None:
    """The database URL built from its parts and the password file; None without a password file."""
    path = environ.get(PASSWORD_FILE)
    if not path:
        return None
    from sqlalchemy.engine import URL

    port = environ.get("NAUTILUS_DATABASE_PORT", "5432")
    url = URL.create(
        environ.get("NAUTILUS_DATABASE_DRIVER", "postgresql"),
        username=environ.get("NAUTILUS_DATABASE_USER", "nautilus"),
        password=read_secret(path),
        host=environ.get("NAUTILUS_DATABASE_HOST", "postgres"),
        port=int(port) if port else None,
        database=environ.get("NAUTILUS_DATABASE_NAME", "nautilus"),
    )
    return url.render_as_string(hide_password=False)


def apply_secret_files(environ: MutableMapping[str, str], fields: set[str] | None = None) -> list[str]:
    """Set the variables that come from files in ``environ``; the names set, in order."""
    fields = _fields() if fields is None else fields
    done: list[str] = []
    for key in sorted(environ):
        if not (key.startswith(PREFIX) and key.endswith("_FILE")) or key == PASSWORD_FILE:
            continue
        name = key[len(PREFIX):].lower()
        target, field = key[: -len("_FILE")], name[: -len("_file")]
        if name in fields or field not in fields:  # a setting of its own (bus_secret_file) or no setting at all
            continue
        if environ.get(target):
            raise SystemExit(f"error: both {target} and {key} are set (use one)")
        environ[target] = read_secret(environ[key])
        done.append(target)
    url = database_url(environ)
    if url is not None:
        if environ.get("NAUTILUS_DATABASE_URL"):
            raise SystemExit(f"error: both NAUTILUS_DATABASE_URL and {PASSWORD_FILE} are set (use one)")
        environ["NAUTILUS_DATABASE_URL"] = url
        done.append("NAUTILUS_DATABASE_URL")
    return done


def main(argv: list[str]) -> None:
    try:
        apply_secret_files(os.environ)
    except OSError as exc:
        raise SystemExit(f"error: cannot read a secret file: {exc}") from exc
    command = Path(sys.executable).with_name("nautilus")
    os.execv(command, [str(command), *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
