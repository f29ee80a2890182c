"""Errors that mean "the user gave us something wrong".

The CLI prints these as one readable line instead of a traceback; every message names the
file (or object) and the problem, because a user should never have to read our source to
find out what is wrong with their track, action space or reward function.
"""

from __future__ import annotations


class RacerlError(Exception):
    """Base class for user-facing errors: the message is the whole story."""


class TrackError(RacerlError):
    """A track file is missing, unreadable or malformed."""


class ActionSpaceError(RacerlError):
    """An action space (model_metadata.json layout) is malformed or out of range."""


class RewardFunctionError(RacerlError):
    """A reward function could not be loaded, raised, or returned an unusable value.

    DeepRacer ends the whole job in this case (no clipping, no substitution), and so do we:
    a silent 0 would train a car on a reward the user never wrote.
    """

    def __init__(self, message: str, params: dict | None = None, step: float | None = None,
                 problem: str | None = None, fatal: bool = False):
        super().__init__(message)
        self.params = params
        """The params of the failing call, when there was one."""
        self.step = step
        """The params' ``steps`` of the failing call."""
        self.problem = problem
        """What the function did, without where ("raised ValueError: x"), so that a report
        can group repeats of one mistake."""
        self.fatal = fatal
        """True when nothing more can be asked of the function: it hung, or its sandbox
        died; an ordinary error (an exception, a bad value) leaves it callable."""
