"""The notebook front end: live previews, interrupt that keeps the work, and a channel picker.

``reverie.dream(...)``, ``reverie.run(recipe)`` and every other task called from the package face
already show a live preview in a Jupyter kernel; this package holds the parts and the setting:

>>> from reverie import notebook
>>> notebook.settings.display, notebook.settings.interval
(True, 0.5)
"""
from __future__ import annotations

from reverie.notebook.live import (
    LiveDisplay,
    NotebookSettings,
    in_kernel,
    settings,
    shown,
)

__all__ = ["ChannelPicker", "LiveDisplay", "NotebookSettings", "in_kernel", "settings", "shown"]


def __getattr__(name: str):
    if name == "ChannelPicker":  # needs ipywidgets (reverie[notebook]): imported on first use
        from reverie.notebook.picker import ChannelPicker

        return ChannelPicker
    raise AttributeError(f"module 'reverie.notebook' has no attribute {name!r}")
