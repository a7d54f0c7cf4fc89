"""Starting the studio: on loopback by default, offline and quiet (no analytics, no share link, no
fonts or scripts from a CDN), with Gradio's queue allowing one run per device at a time."""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import NamedTuple

# Gradio reads these when it is imported: no usage reports, no version check, no telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr

from reverie.errors import ReverieError
from reverie.models import ModelSpec
from reverie.studio.app import CSS, DEFAULT_SPEC, Studio, build_app
from reverie.studio.folder import MAX_VIDEO_BYTES

# System fonts only: Gradio's default theme fetches Inter from Google Fonts.
THEME = gr.themes.Soft(font=["system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])
QUEUE_SIZE = 32  # waiting runs beyond this are refused with a message rather than queued for hours


def is_loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


def check_port(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ReverieError(f"port must be from 1 to 65535, got {port}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ReverieError(f"cannot listen on {host}:{port}: {error.strerror or error} "
                               f"(pick another --port)") from None


class Running(NamedTuple):
    app: gr.Blocks
    url: str
    studio: Studio


def start(folder: str | Path = "reverie-studio", model: ModelSpec = DEFAULT_SPEC, host: str = "127.0.0.1",
          port: int = 7860, device: str = "auto", block: bool = True, **settings):
    """Build and launch the studio; returns at once with ``block`` false (tests, notebooks): close it
    with ``running.app.close()``.
    ``settings``: passed to :class:`Studio` (e.g. ``thumbnail_steps``)."""
    if not is_loopback(host):
        print(f"reverie: warning: the studio listens on {host}, so other machines on the network can use it "
              "and read its results", file=sys.stderr)
    check_port(host, port)
    studio = Studio(folder, model, device, **settings)
    app = build_app(studio)
    app.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    _, url, _ = app.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True,
                           inbrowser=False, quiet=True, show_error=False, theme=THEME, css=CSS,
                           allowed_paths=[str(studio.folder.root),
                                          *([str(studio.atlas.folder.resolve())] if studio.atlas else [])],
                           max_file_size=MAX_VIDEO_BYTES,
                           footer_links=[], ssr_mode=False, pwa=False, mcp_server=False,
                           enable_monitoring=False)
    if block:
        print(f"Reverie Studio at {url} (Ctrl-C stops it)", file=sys.stderr)
        try:
            app.block_thread()
        finally:
            app.close()
    return Running(app, url, studio)
