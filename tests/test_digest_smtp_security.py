"""PAPERFEED_SMTP_SECURITY=starttls|ssl with PAPERFEED_SMTP_USER/PASSWORD against a real aiosmtpd server
using a throwaway certificate (made with the ``openssl`` command; skipped where it is missing)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from paperfeed.config import Settings
from paperfeed.digest.mailer import ConnectFailure, Mailer, PermanentFailure, build_message
from paperfeed.digest.render import RenderedMail
from tests.smtp_server import Handler, free_port, sending_through

pytestmark = [
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
    # implicit TLS is invisible to aiosmtpd's AUTH check (the socket is TLS before SMTP starts)
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]
MAIL = RenderedMail(
    subject="Hello", text="plain part", html="<p>html part</p>", unsubscribe_url="http://testserver/unsubscribe/abc"
)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"digest", b"s3cret")
    return AuthResult(success=ok, handled=False)


def _context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


@pytest.fixture(params=["starttls", "ssl"])
def server(request: pytest.FixtureRequest, cert: tuple[Path, Path]) -> Iterator[tuple[str, int, Handler]]:
    handler, port, mode = Handler(), free_port(), str(request.param)
    kwargs: dict[str, Any] = {"authenticator": _authenticator, "auth_required": True}
    if mode == "starttls":
        kwargs.update(tls_context=_context(cert), require_starttls=True)
    else:
        kwargs.update(ssl_context=_context(cert), auth_require_tls=False)
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs)
    controller.start()
    try:
        yield mode, port, handler
    finally:
        controller.stop()


def _settings(settings: Settings, mode: str, port: int, password: str = "s3cret") -> Settings:
    return sending_through(settings, port, smtp_security=mode, smtp_user="digest", smtp_password=password)


def test_tls_and_login_deliver(
    settings: Settings, server: tuple[str, int, Handler], cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    mode, port, handler = server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # trust the throwaway certificate, and only it
    s = _settings(settings, mode, port)
    with Mailer(s, retries=0) as mailer:
        mailer.send(build_message(settings=s, to="reader@example.org", mail=MAIL, message_id="<a@x>"))
    [got] = handler.messages
    assert got.rcpt == ["reader@example.org"] and got.part("plain").strip() == "plain part"

    wrong = _settings(settings, mode, port, password="nope")
    with pytest.raises(PermanentFailure, match="login refused: 535"), Mailer(wrong, retries=0) as mailer:
        mailer.send(build_message(settings=wrong, to="reader@example.org", mail=MAIL, message_id="<b@x>"))
    assert len(handler.messages) == 1


def test_an_untrusted_certificate_is_refused(settings: Settings, server: tuple[str, int, Handler]) -> None:
    mode, port, handler = server
    s = _settings(settings, mode, port)
    with (
        pytest.raises(ConnectFailure, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"),
        Mailer(s, retries=0) as mailer,
    ):
        mailer.send(build_message(settings=s, to="reader@example.org", mail=MAIL, message_id="<c@x>"))
    assert handler.messages == []
