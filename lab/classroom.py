"""``lync-restore serve``: the classroom, drills in a browser through textual-serve.

A trainee without a terminal opens the page; each browser connection (one websocket) gets its
own wizard process, ``lync-restore drill --scenario S`` under Textual's web driver, spawned and
relayed by textual-serve's :class:`~textual_serve.app_service.AppService`. The command is fixed
here and only ever a drill: the scenario comes from ``--scenario`` or the page's
``?scenario=NAME`` (a name's characters only: nothing else of the URL reaches the command, and
the drill says when it knows no such scenario), so no browser can run ``lync-restore run``
against a real estate. Every drill of the classroom shares one journal folder (``--journal-dir``,
else the user's), so a trainee whose tab closed finds the incident on the start screen of a new
one and resumes it (Ctrl+R) on its lab. A closed tab is a lost terminal: :class:`DrillService`.

textual-serve has no authentication of its own, hence the binding rules, checked before
anything binds:

- loopback (the default, ``127.0.0.1:8000``): reached from elsewhere through an SSH tunnel
  (``ssh -L 8000:127.0.0.1:8000 host``), no token needed; the Host header must then be a
  loopback name or address, so a web page whose name was rebound to 127.0.0.1 (DNS rebinding)
  gets 400 instead of a drill;
- any other address needs an access token (``--token``, or ``LYNC_RESTORE_SERVE_TOKEN``, which
  is removed from this process's environment before any wizard is spawned). Every request must
  then carry the session cookie: the page asks for the token (``POST /login``, compared with
  :func:`hmac.compare_digest`), a wrong one gets 403 and the form again, the right one an
  HttpOnly, SameSite=Strict cookie holding a random key of this run (never the token itself).
  A token given on loopback is enforced there too (other users of a shared jump host).

The websocket also checks Origin, when a browser sends one: it must be the page's own host,
so another site's page cannot open a drill through the trainee's browser (cross-site websocket
hijacking). The token is never printed, logged or put in a URL: it travels in a POST body.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from wizard.errors import UsageError

#: where the classroom listens unless told otherwise (textual-serve's own default port)
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
TOKEN_ENV = "LYNC_RESTORE_SERVE_TOKEN"  # noqa: S105 (the variable's name, not a token)
MIN_TOKEN = 16  # characters: a shorter token could be guessed over a classroom network
COOKIE = "lync_restore_classroom"

#: what a scenario's name may look like (built-in and instructor scenarios alike); the drill itself
#: says, in the trainee's tab, when there is no scenario of that name
SCENARIO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: a Host header as a browser sends it: a name or IPv4 address, or [IPv6], and a port
_HOST_HEADER = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")

_LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lync-restore classroom</title>
<style>body{{background:#0c181f;color:#eee;font-family:monospace;display:flex;justify-content:center;
margin-top:20vh}}input,button{{font:inherit;padding:.4em}}p.note{{color:#f88}}</style></head>
<body><form method="post" action="/login">
<h1>lync-restore classroom</h1>
<p>Enter the access token your instructor gave you.</p>{note}
<p><input type="password" name="token" autocomplete="off" autofocus required>
<input type="hidden" name="next" value="{next}">
<button type="submit">Open the drill</button></p>
</form></body></html>
"""


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (``""``: every interface)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # unresolvable: bind will say so; refuse to treat it as loopback
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback
                               for info in infos)


def _loopback_host_header(value: str) -> bool:
    name = value.rsplit(":", 1)[0] if not value.endswith("]") else value
    if name.startswith("["):
        name = name[1:].split("]")[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def access_token(given: str | None, host: str) -> str | None:
    """The token every request must carry (``None``: none needed, loopback without a token);
    refuses a non-loopback bind without one, and a short one. Reads and removes the environment
    variable, so the wizards spawned for the browsers never inherit it."""
    from_env = os.environ.pop(TOKEN_ENV, None)
    token = given or from_env or None
    if token is None:
        if not is_loopback(host):
            raise UsageError(f"Serving on {host or 'every address'} needs an access token (--token or "
                             f"{TOKEN_ENV}), since textual-serve has no authentication of its own; "
                             "or keep the default 127.0.0.1 and reach it through an SSH tunnel.")
        return None
    if len(token) < MIN_TOKEN:
        raise UsageError(f"The access token must be at least {MIN_TOKEN} characters long "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe())').")
    return token


def drill_command(scenario: str, journal: Path) -> str:
    """The shell command textual-serve runs for one browser: a drill, never anything else. ``exec``:
    the wizard replaces the shell, so the process textual-serve holds (and signals) is the wizard."""
    return "exec " + shlex.join([sys.executable, "-m", "wizard", "--journal-dir", str(journal),
                                 "drill", "--scenario", scenario])


class DrillService(AppService):
    """One browser's wizard. When its websocket goes (the tab closed, the classroom stopping) the
    wizard is told as a lost terminal is, with SIGTERM: it journals the interruption (a running
    step stays in doubt) and leaves, its lab kept for the resume. textual-serve's own ``quit``
    would end the app without a word in the journal. (``_process``: textual-serve is pinned.)"""

    async def stop(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it has just left of itself
                process.send_signal(signal.SIGTERM)
        await super().stop()


class Classroom(Server):
    """textual-serve's server with our routes in front: the index page renders
    textual-serve's own template, the websocket spawns a drill; a middleware guards both."""

    def __init__(self, *, host: str, port: int, token: str | None, scenario: str, journal: Path) -> None:
        super().__init__(drill_command(scenario, journal), host=host, port=port,
                         title="lync-restore classroom")
        self.token = token
        self.scenario = scenario
        self.journal = journal
        self.loopback = is_loopback(host)
        self.session_key = secrets.token_urlsafe(32)  # the cookie's value: this run only
        self.sockets: set[web.WebSocketResponse] = set()
        self.sessions = 0

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.index),
            web.post("/login", self.login),
            web.get("/ws/{scenario}", self.websocket),
            web.get("/download/{key}", self.handle_download),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_shutdown.append(self.close_sockets)
        return app

    # -- the guard ----------------------------------------------------------------------------

    def has_session(self, request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session_key.encode())

    def form(self, *, wrong: bool, next_path: str = "/") -> web.Response:
        note = '<p class="note">That is not the classroom\'s token.</p>' if wrong else ""
        return web.Response(status=403, content_type="text/html",
                            text=_LOGIN_PAGE.format(note=note, next=escape(next_path)))

    @web.middleware
    async def guard(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if not _HOST_HEADER.match(request.host) or (self.loopback and not _loopback_host_header(request.host)):
            return web.Response(status=400, text="This classroom answers only on the address it serves.\n")
        origin = request.headers.get("Origin")
        if request.path.startswith("/ws") and origin is not None and \
                origin.split("://", 1)[-1].lower() != request.host.lower():
            return web.Response(status=403, text="A drill opens only from the classroom's own page.\n")
        if self.token is None or request.path == "/login" or self.has_session(request):
            return await handler(request)
        if request.path == "/":
            return self.form(wrong=False, next_path=request.path_qs)
        return web.Response(status=403, text="Open the classroom's page and enter the access token first.\n")

    async def login(self, request: web.Request) -> web.StreamResponse:
        if self.token is None:
            raise web.HTTPFound("/")
        posted = await request.post()
        given, next_path = posted.get("token"), posted.get("next")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.token.encode()):
            return self.form(wrong=True, next_path=next_path if isinstance(next_path, str) else "/")
        target = next_path if isinstance(next_path, str) and next_path.startswith("/?") else "/"
        response = web.HTTPSeeOther(target)
        response.set_cookie(COOKIE, self.session_key, httponly=True, samesite="Strict", path="/",
                            secure=request.secure)
        return response

    # -- the page and the drills --------------------------------------------------------------

    def chosen(self, name: str | None) -> str:
        if name is None:
            return self.scenario
        if not SCENARIO_NAME.match(name):
            raise web.HTTPNotFound(text="That is not a scenario's name; 'lync-restore scenarios' lists them.\n")
        return name

    async def index(self, request: web.Request) -> web.StreamResponse:
        scenario = self.chosen(request.query.get("scenario"))
        scheme = "wss" if request.secure else "ws"
        context = {
            "font_size": _to_int(request.query.get("fontsize"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws/{scenario}",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": f"lync-restore drill: {scenario}"},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        scenario = self.chosen(request.match_info["scenario"])
        ws = web.WebSocketResponse(heartbeat=15)
        await ws.prepare(request)
        self.sockets.add(ws)
        self.sessions += 1
        number = self.sessions

        async def close() -> None:
            await ws.close()

        async def send_bytes(data: bytes) -> None:
            await ws.send_bytes(data)

        async def send_str(data: str) -> None:
            await ws.send_str(data)

        service = DrillService(drill_command(scenario, self.journal), write_bytes=send_bytes,
                             write_str=send_str, close=close, download_manager=self.download_manager)
        say(f"session {number}: drill {scenario} for {request.remote}")
        try:
            await service.start(_to_int(request.query.get("width"), 80),
                                _to_int(request.query.get("height"), 24))
            try:
                await self._process_messages(ws, service)
            finally:
                await service.stop()  # tells the wizard its terminal went, waits for it
        finally:
            self.sockets.discard(ws)
            say(f"session {number} ended")
        return ws

    async def close_sockets(self, app: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"the classroom is stopping")


def _to_int(value: str | None, default: int) -> int:
    try:
        return max(1, min(int(value or default), 1000))
    except ValueError:
        return default


def say(line: str) -> None:
    print(f"lync-restore serve: {line}", flush=True)


async def _run(server: Classroom, host: str, port: int) -> None:
    runner = web.AppRunner(await server._make_app(), access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=10.0)
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        raise UsageError(f"Cannot listen on {host}:{port}: {err.strerror or err}; choose another --port "
                         "or --host.") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    shown = f"[{host}]" if ":" in host else host
    access = ("trainees enter the access token on the page" if server.token is not None
              else "loopback only: reach it from elsewhere through an SSH tunnel")
    say(f"the classroom is on http://{shown}:{port}/ ({access}); each browser tab runs its own "
        f"drill (default scenario {server.scenario}, or ?scenario=NAME). Ctrl+C stops.")
    try:
        await stop.wait()
    finally:
        say("stopping: every drill is asked to quit (their incidents can be resumed)")
        await runner.cleanup()


def serve_command(args: argparse.Namespace) -> int:
    """``lync-restore serve [--host H] [--port P] [--token T] [--scenario S]``."""
    from lab.defaults import DEFAULT_SCENARIO
    from wizard.app_entry import journal_dir

    host: str = DEFAULT_HOST if args.host is None else args.host
    port: int = DEFAULT_PORT if args.port is None else args.port
    if not 0 < port < 65536:
        raise UsageError(f"The port must be between 1 and 65535, not {port}.")
    token = access_token(getattr(args, "token", None), host)  # before anything binds
    scenario = getattr(args, "scenario", None) or DEFAULT_SCENARIO
    if not SCENARIO_NAME.match(scenario):
        raise UsageError(f"{scenario!r} is not a scenario's name; 'lync-restore scenarios' lists them.")
    logging.basicConfig(level=logging.WARNING, format="lync-restore serve: %(message)s")
    server = Classroom(host=host, port=port, token=token, scenario=scenario,
                               journal=journal_dir(args).resolve())
    asyncio.run(_run(server, host, port))
    return 0
