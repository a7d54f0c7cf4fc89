"""Reverie Studio: a local web app (Gradio) over the task API. ``reverie studio`` starts it; in
Python, ``reverie.studio.server.start(block=False)`` returns the running app and its URL.

Needs the ``studio`` extra: ``pip install 'reverie[studio]'``.
"""
