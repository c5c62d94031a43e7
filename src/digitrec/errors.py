"""Exceptions whose message is meant for the person at the keyboard."""


class DigitrecError(Exception):
    """An error the CLI prints as one line (what, where, what to do) and exits 1 on."""


class DatasetError(DigitrecError):
    """A data file or dataset option is missing, corrupt or malformed."""


class CheckpointError(DigitrecError):
    """A model file cannot be read or does not describe a digitrec model."""


class RankLostError(DigitrecError):
    """Under torchrun, another rank died or hung, so a collective operation failed on this one."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `timeout`'s stop), raised like Ctrl-C so that the same clean-up runs:
    temporary files removed, a run without a checkpoint removed, a run with one left resumable."""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, at most `limit` characters (its type if it has none):
    for a clause like 'the export failed (...)' in a message or a log line."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__
