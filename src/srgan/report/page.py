"""What both kinds of report page share: the frame (inline CSS and JS, a Content-Security-Policy that forbids any
fetch), escaping, PNG data: URIs, and writing the page."""

from __future__ import annotations

import base64
import datetime
import html
from functools import cache
from importlib import resources
from pathlib import Path

from srgan import __version__
from srgan.errors import SrganError
from srgan.fileio import atomic_write

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def html_page(title: str, subtitle: str, body: str) -> str:
    """The whole document: ``title`` as heading, ``subtitle`` (HTML) under it with the time and version, ``body``."""
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(title)}</title>"
            f"<style>{_static('report.css')}</style></head><body><main><header><h1>{esc(title)}</h1>"
            f"<p class='dim'>{subtitle} · written {when} by srgan {esc(__version__)}</p></header>{body}</main>"
            f"<script>{_static('report.js')}</script></body></html>\n")


@cache
def _static(name: str) -> str:
    """A file shipped beside this module (package data, so an installed wheel has it too)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def esc(text: str) -> str:
    """``text`` safe inside HTML text and quoted attributes."""
    return html.escape(text, quote=True)


def png_uri(png: bytes) -> str:
    """PNG file bytes as a ``data:image/png;base64,…`` URI (the page fetches nothing)."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def check_output(path: Path, overwrite: bool) -> None:
    """Fail before any work when the report would replace a file without ``overwrite``."""
    if path.is_dir():
        raise SrganError("is a folder; give the report's file name (e.g. report.html)", path)
    if path.exists() and not overwrite:
        raise SrganError("already exists (pass --overwrite to replace it)", path)


def write_report(path: Path, page: str, overwrite: bool) -> Path:
    """Write ``page`` to ``path`` with the one atomic write (never a partial report; a new file gets the umask
    permissions, since reports are made to be shared; without ``overwrite`` two writers cannot both win)."""
    check_output(path, overwrite)
    try:
        return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"), replace=overwrite)
    except FileExistsError as e:  # appeared since the check: another writer got there first
        raise SrganError("already exists (pass --overwrite to replace it)", path) from e
    except OSError as e:
        raise SrganError(f"cannot write the report ({e.strerror or e})", path) from e
