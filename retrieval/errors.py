"""Expected errors: each carries a one-line message meant for the user."""


class NewsbotError(Exception):
    """An expected failure whose message is shown to the user as is."""


class InputError(NewsbotError):
    """Bad input from the user: a question, a path, a file."""


class IndexMissingError(NewsbotError):
    """There is no index where one was expected."""


class IndexCorruptError(NewsbotError):
    """The index on disk cannot be read or is inconsistent."""


class EmbedderMismatchError(NewsbotError):
    """The index was built with another embedder than the one configured."""


class ConfigError(NewsbotError):
    """A setting has a value that cannot work."""


class ModelError(NewsbotError):
    """A shipped model file does not fit the code (features renamed or missing)."""


class IndexBusyError(NewsbotError):
    """Another process holds the index's write lock."""


class IndexWriteError(NewsbotError):
    """A part of the index could not be written (disk full, no permission)."""
