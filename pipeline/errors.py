"""The one error type the CLI turns into a one-line message and a non-zero exit."""


class PipelineError(Exception):
    """A user-facing error: bad input, bad config, a run directory that does not fit."""


class WorkerLost(PipelineError):
    """A multi-worker collective failed because another worker died: TensorFlow's runtime cannot go on, so the
    CLI exits at once after saying so (its teardown would add unrelated tracebacks)."""
