"""The one error type the CLI turns into a one-line message and a non-zero exit."""


class PipelineError(Exception):
    """A user-facing error: bad input, bad config, a run directory that does not fit."""
