"""Settings errors as one line each, naming the environment variable and the rule it breaks."""

from __future__ import annotations

from pydantic import ValidationError

from paperfeed.config import Settings


def env_var(field: str) -> str:
    """``secret_key`` -> ``PAPERFEED_SECRET_KEY`` (the variable that sets the field)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def settings_error_lines(exc: ValidationError) -> list[str]:
    """``PAPERFEED_X: rule`` for each error, e.g. ``PAPERFEED_SECRET_KEY: must be at least 32 characters``.

    The value given is never repeated: it may be a secret or a password inside a URL.
    """
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if loc:
            lines.append(f"{env_var(loc[0])}: {message[:1].lower()}{message[1:]}")
        else:  # a rule across several fields: its message names the variables itself
            lines.append(message)
    return lines


def load_settings() -> Settings:
    """Settings from the environment; raises :class:`SettingsError` with one line per broken rule."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(settings_error_lines(exc)) from None


class SettingsError(ValueError):
    """Settings that cannot be used; ``lines`` holds one ``PAPERFEED_X: rule`` line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
