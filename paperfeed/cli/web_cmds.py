"""``paperfeed serve``: the web site, JSON API and feeds, served by uvicorn."""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

import typer

from paperfeed.cli import app
from paperfeed.cli.common import DbOption, console, fail, get_engine, get_settings
from paperfeed.ids import parse_follow

WORKER_HEALTHCHECK_S = 120  # how long a worker may take to answer uvicorn's supervisor (start-up included)


def _check_port(host: str, port: int) -> None:
    """Fail with one clear line when the address cannot be listened on (port taken, unknown host)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})")
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            fail(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                f"(is another server running there? choose another with --port)"
            )


_MODELS = {
    "minilm": "all-MiniLM-L6-v2 (int8 through OpenVINO where it runs, else torch)",
    "static": "the static model distilled from all-MiniLM-L6-v2",
}


def startup_lines(*, seeded: int | None, index: dict[str, Any], embedder: str, url: str, workers: int) -> list[str]:
    """What ``paperfeed serve`` says before it serves: the demo papers it seeded, how ready search is, which
    model answers meaning-based search, and the address to open (last, so it is what the eye lands on)."""
    papers = int(index["papers"])
    lines = [f"seeded {seeded} demo papers into the empty store" if seeded else f"store: {papers} papers"]
    if index["state"] == "off":
        lines.append("search: by keywords only (PAPERFEED_EMBEDDER=none: no meaning-based search)")
    else:
        lines.append(f"meaning-based search model: {_MODELS.get(embedder, embedder)}")
        if index["state"] == "ready":
            lines.append(f"search index: ready ({papers} papers)")
        else:
            lines.append(
                f"search index: building in the background ({index['lexical_docs']} of {papers} papers by "
                f"keywords, {index['vectors']} by meaning so far); search works meanwhile and says how ready "
                "it is; progress at /status"
            )
    lines.append(f"{workers} worker process{'es' if workers != 1 else ''}; open {url}  (API docs at {url}/docs)")
    return lines


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    db: DbOption = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option("--reload", help="Restart on code changes (development).")] = False,
    follow: Annotated[
        str | None,
        typer.Option(
            "--follow",
            metavar="CATEGORIES",
            help="Follow arXiv: harvest these categories (e.g. cs.LG,cs.CL) on start and after each "
            "announcement (default: PAPERFEED_FOLLOW). One worker harvests, whatever --workers says.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web site, the JSON API (/docs) and the feeds. An empty store gets the demo corpus."""
    import uvicorn

    from paperfeed.web.request_deadline import DeadlineProtocol, protocol_with_timeout

    _check_port(host, port)
    settings = get_settings(db)
    if follow is not None:
        try:
            settings = settings.model_copy(update={"follow": ",".join(parse_follow(follow))})
        except ValueError as exc:
            fail(f"--follow: {exc}")
        os.environ["PAPERFEED_FOLLOW"] = settings.follow  # workers build their own settings
    # Open (migrate, seed) once here so workers start on a ready store and errors are one clear line.
    engine = get_engine(settings)
    seeded = None
    if settings.seed_demo:
        from paperfeed.ingest.demo import seed_demo_if_empty

        report = seed_demo_if_empty(engine=engine)
        seeded = report.added if report is not None else None
    from paperfeed.search.status import index_status

    index = index_status(settings, engine)
    engine.dispose()
    if db or settings.database_url:
        # Workers and the reloader build their own app from the environment: hand them the chosen store.
        os.environ["PAPERFEED_DATABASE_URL"] = settings.database_url
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    lines = startup_lines(seeded=seeded, index=index, embedder=settings.embedder, url=url, workers=workers)
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    if settings.follow:
        console.print(f"Following arXiv {settings.follow} (state at /status)", highlight=False)
    if workers > 1 or reload:
        config = uvicorn.Config(
            "paperfeed.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=None if reload else workers,
            reload=reload,
            log_level="info",
            proxy_headers=False,  # forwarded headers: only from PAPERFEED_TRUSTED_PROXIES (web/proxies.py)
            http=DeadlineProtocol,  # PAPERFEED_REQUEST_TIMEOUT, read by each worker (web/request_deadline.py)
            # A worker loading its models on a busy machine answers the supervisor's ping late: uvicorn's 5 s
            # killed and restarted workers over and over during start-up ("Child process [...] died").
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
        if reload:
            from uvicorn.supervisors import ChangeReload

            from paperfeed.web.templating import TEMPLATES_RELOAD

            os.environ[TEMPLATES_RELOAD] = "1"  # the reloaded workers re-read edited templates too

            ChangeReload(config, target=uvicorn.Server(config).run, sockets=[config.bind_socket()]).run()
        else:
            from paperfeed.web.workers import run_workers

            run_workers(config)  # each worker its own listening socket: the load is shared
        return
    from paperfeed.web.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        http=protocol_with_timeout(settings.request_timeout),  # slow clients: 408 and closed
    )
