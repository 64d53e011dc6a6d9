"""The one error type that bad input raises: it names the file, the key and the fix."""

from __future__ import annotations


class InputError(Exception):
    """Report a problem with a user's input (a config, a flag or a file).

    Attributes:
        source: The file or flag the problem is in.
        key: The dotted key (or flag name) at fault, if any.
        problem: What is wrong.
        fix: What the user should do about it.
    """

    def __init__(self, source: str, key: str | None, problem: str, fix: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(self.paragraph())

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str | None, str, str], dict[str, object]]:
        """Pickle with the four fields (a worker process's error reaches the command whole) and any extra attribute."""
        return type(self), (self.source, self.key, self.problem, self.fix), self.__dict__

    def paragraph(self) -> str:
        """Return the error as one readable paragraph."""
        where = f"{self.source}" + (f", key `{self.key}`" if self.key else "")
        return f"{where}: {self.problem} Fix: {self.fix}"
