"""The command modules of `python -m pipeline`, one per command or group."""
