"""The subscription form (``/subscribe`` and the manage page): what the user typed, read from the form
body, turned into preferences, and errors named the way the page labels its fields ("Topics, line 2")."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import Depends, Form

from paperfeed.config import Settings
from paperfeed.digest.subscribe import PreferenceError, clean_preferences

FormText = Annotated[str, Form(max_length=4000)]
FormFlag = Annotated[str | None, Form(max_length=16)]  # a checkbox: present when ticked

# The labels the form shows; an error names the field by its label.
LABELS = {
    "email": "Email address",
    "trending": "Trending papers",
    "for_you": "For you",
    "topics": "Topics",
    "frequency": "How often",
    "send_hour": "Hour",
    "timezone": "Time zone",
}
MAIL_SETTINGS = ("PAPERFEED_SMTP_HOST", "PAPERFEED_MAIL_FROM", "PAPERFEED_BASE_URL")
MAIL_OPTIONAL = (
    "PAPERFEED_SMTP_PORT",
    "PAPERFEED_SMTP_SECURITY",
    "PAPERFEED_SMTP_USER",
    "PAPERFEED_SMTP_PASSWORD",
)


@dataclass
class SubscriptionForm:
    """Exactly what the user entered (strings as typed, checkboxes as ticked), to show it back."""

    email: str = ""
    topics: str = ""
    frequency: str = "daily"
    timezone: str = "UTC"
    send_hour: str = "7"
    trending: bool = True
    for_you: bool = False
    resume: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def preferences(self) -> dict[str, Any]:
        """Validated preferences; raises PreferenceError. Topic ``i`` is line ``i + 1`` of the text box."""
        try:
            hour = int(self.send_hour)
        except ValueError as exc:
            raise PreferenceError("send_hour", "must be a whole hour from 0 to 23") from exc
        return clean_preferences(
            {
                "trending": self.trending,
                "for_you": self.for_you,
                "topics": self.topics.splitlines(),
                "frequency": self.frequency,
                "timezone": self.timezone,
                "send_hour": hour,
            }
        )


def posted_preferences(
    topics: FormText = "",
    frequency: FormText = "daily",
    timezone: FormText = "UTC",
    send_hour: FormText = "7",
    trending: FormFlag = None,
    for_you: FormFlag = None,
) -> SubscriptionForm:
    """The preference fields both subscription forms post; the handler adds the address (and ``resume``)."""
    return SubscriptionForm(
        topics=topics,
        frequency=frequency,
        timezone=timezone,
        send_hour=send_hour,
        trending=trending is not None,
        for_you=for_you is not None,
    )


PostedPreferences = Annotated[SubscriptionForm, Depends(posted_preferences)]


def field_error(field: str, message: str) -> dict[str, str]:
    """``{field: "Label: message"}`` for the template; ``topics.1`` becomes "Topics, line 2"."""
    key, _, index = field.partition(".")
    label = LABELS.get(key, key)
    if index.isdigit():
        label = f"{label}, line {int(index) + 1}"
    return {key: f"{label}: {message}"}


def preference_error(exc: PreferenceError) -> dict[str, str]:
    return field_error(exc.field, exc.message)


def mail_setup(settings: Settings) -> dict[str, Any]:
    """Template context saying whether this instance can send mail, and which settings it lacks."""
    missing = settings.mail_settings_missing
    return {"mail_enabled": settings.emails_enabled, "mail_missing": missing, "mail_optional": MAIL_OPTIONAL}


MAIL_OFF = (
    "This instance cannot send mail yet, so it cannot confirm an address or send digests. Nothing was stored. "
    "Its operator needs to set " + " and ".join(MAIL_SETTINGS) + " (see docs/digest.md)."
)
