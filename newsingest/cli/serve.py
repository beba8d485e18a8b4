"""`serve`: the HTTP API and the dashboard under uvicorn."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from newsingest.cli.common import EXIT_CONFIG, Commands, err, fail, settings

commands = Commands()
#: Seconds an idle keep-alive connection stays open. Longer than the idle timeouts of the
#: usual proxies (60 s) and clients' pools: a server that closes first races the client's
#: next request on that connection, which then fails with a reset instead of an answer.
KEEP_ALIVE = 75


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@commands.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            help="Proxies whose X-Forwarded-Proto/For are believed (comma-separated); the "
            "session cookie is marked Secure when the proxy says https.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the HTTP API (/api/v1, /docs) and the dashboard over the configured database."""
    import uvicorn

    from newsingest.web import create_app

    s = settings()
    if s.api_token is None and not is_loopback(host):
        raise fail(
            f"refusing to listen on {host}: no NEWSINGEST_API_TOKEN is set, so anyone who "
            "reaches the port could read and change everything. Set a token (e.g. "
            "`export NEWSINGEST_API_TOKEN=$(openssl rand -hex 32)`) or listen on 127.0.0.1.",
            EXIT_CONFIG,
        )
    if s.api_token is None:
        err.print(
            "no NEWSINGEST_API_TOKEN: serving on loopback without authentication "
            "(this machine only)"
        )
    uvicorn.run(
        create_app(s),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level=s.log_level.lower(),
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE,
    )


def register(app: typer.Typer) -> None:
    commands.register(app)
