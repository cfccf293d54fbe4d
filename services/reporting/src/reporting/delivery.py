"""E-mail delivery of a report run over SMTP, with its files attached."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from pydantic import BaseModel, SecretStr


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "callqa-reports@localhost"
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes
    media_type: str  # e.g. "application/pdf"


def send(
    settings: SmtpSettings, recipients: Sequence[str], subject: str, body: str, attachments: Sequence[Attachment]
) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    for attachment in attachments:
        maintype, _, subtype = attachment.media_type.split(";")[0].partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name)
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password.get_secret_value())
        smtp.send_message(message)
