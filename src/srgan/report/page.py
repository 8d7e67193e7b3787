"""What both kinds of report page share: the frame (inline CSS and JS, a Content-Security-Policy that forbids any
fetch), escaping, PNG data: URIs. ``srgan report`` writes the page with ``fileio.write_output`` like every output."""

from __future__ import annotations

import base64
import datetime
import html
from functools import cache
from importlib import resources

from srgan import __version__

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
