"""The data layer's one error type."""


class DataError(ValueError):
    """A problem with a data file or dataset, as ONE line naming the file, row or column concerned."""
