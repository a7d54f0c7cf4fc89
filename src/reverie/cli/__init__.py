"""The ``reverie`` command line: text in, recipe out, progress shown, errors as one line."""
