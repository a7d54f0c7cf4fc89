"""Files: reading inputs, writing outputs atomically with their recipe."""
