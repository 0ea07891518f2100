"""The one error a spec can raise (:class:`SpecError`), and how values are quoted in its message."""

from __future__ import annotations

#: longest message a SpecError carries (values quoted in it are shortened first)
MAX_MESSAGE = 500


def short(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages never echo a whole document."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"


class SpecError(ValueError):
    """A spec that cannot be used; the message (one line) says where and what was expected."""

    def __init__(self, where: str, key: str, message: str) -> None:
        self.where, self.key = where, key
        loc = f"{where}: {key}" if key else where
        text = " ".join(f"{loc}: {message}".split("\n"))
        if len(text) > MAX_MESSAGE:
            text = f"{text[: MAX_MESSAGE - 30]}... ({len(text):,} characters)"
        super().__init__(text)
