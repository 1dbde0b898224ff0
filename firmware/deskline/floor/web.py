"""The floor lead's page: the live floor map, alert acknowledgement and the report.

Starlette (ASGI) served by uvicorn; the map follows the floor through server-sent events
(``/events``: a fresh snapshot whenever the floor service stored something); the plots use
uPlot, served from the package (the floor may have no internet). Every page but the login
needs the floor lead's session (a signed cookie; the password is kept as an scrypt hash).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from importlib import resources

import anyio
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (FileResponse, HTMLResponse, JSONResponse, PlainTextResponse,
                                 RedirectResponse, Response)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from deskline.floor import messages as m
from deskline.floor import report as rep

log = logging.getLogger(__name__)

#: how long one wait for a change of the floor lasts before the stream sends a keep-alive
STREAM_WAIT_S = 10.0
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """``scrypt$<salt>$<hash>`` (base64) of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        kind, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), **_SCRYPT)
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def session_secret(path: str) -> str:
    """The cookie-signing key in ``path``, made (mode 600) the first time."""
    try:
        with open(path, encoding="utf-8") as f:
            key = f.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


def _static(name: str) -> str:
    return str(resources.files("deskline.floor").joinpath("static", name))


LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>deskline floor: sign in</title>
<link rel="stylesheet" href="/static/floor.css"></head><body class="login">
<form method="post" action="/login"><h1>deskline floor</h1>
<label>Password <input id="password" name="password" type="password" autofocus></label>
<button id="signin" type="submit">Sign in</button>{error}</form></body></html>"""


def create_app(settings, store, subscriber) -> Starlette:
    """The page's app over ``store`` (read and acknowledged here) and ``subscriber`` (change
    notices, and the way acknowledgements reach the desks)."""
    if not settings.password_hash:
        from deskline.exc import ConfigError

        raise ConfigError(f"{settings.path or 'floor settings'}: web.password_hash: not set; "
                          "`deskline floor passwd` prints one")

    def signed_in(request: Request) -> bool:
        return request.session.get("lead") is True

    def guard(handler, *, page: bool = False):
        async def wrapped(request: Request):
            if not signed_in(request):
                if page:
                    return RedirectResponse("/login", status_code=303)
                return JSONResponse({"error": "sign in first"}, status_code=401)
            return await handler(request)
        return wrapped

    async def login_form(request: Request):
        return HTMLResponse(LOGIN_PAGE.format(error=""))

    async def login(request: Request):
        form = await request.form()
        password = str(form.get("password") or "")
        ok = await anyio.to_thread.run_sync(check_password, password, settings.password_hash)
        if not ok:
            log.warning("a failed sign-in from %s", request.client.host if request.client else "?")
            return HTMLResponse(LOGIN_PAGE.format(error='<p class="error">Wrong password.</p>'),
                                status_code=401)
        request.session["lead"] = True
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request):
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    def snapshot() -> dict:
        return {"now": m.utc_iso(), "desks": store.desks(), "alerts": store.open_alerts(),
                "counts": store.counts()}

    async def floor_page(request: Request):
        return FileResponse(_static("floor.html"))

    async def report_page(request: Request):
        return FileResponse(_static("report.html"))

    async def floor_json(request: Request):
        return JSONResponse(await anyio.to_thread.run_sync(snapshot))

    async def events(request: Request):
        async def stream():
            version = -1
            while True:
                if await request.is_disconnected():
                    return
                # abandoned on cancel: a page left open does not hold up the service's stop
                now = await anyio.to_thread.run_sync(
                    subscriber.wait_change, version, 0.0 if version < 0 else STREAM_WAIT_S,
                    abandon_on_cancel=True)
                if now != version:
                    version = now
                    data = await anyio.to_thread.run_sync(snapshot)
                    yield {"event": "floor", "data": json.dumps(data, ensure_ascii=False)}
        return EventSourceResponse(stream(), ping=15)

    async def ack(request: Request):
        alert_id = request.path_params["alert_id"]
        found = await anyio.to_thread.run_sync(store.ack, alert_id)
        if found is None:
            return JSONResponse({"error": f"no alert {alert_id}"}, status_code=404)
        site, desk = found
        subscriber.send_ack(site, desk, alert_id)
        subscriber.touch()
        log.info("floor lead acknowledged alert %s of %s/%s", alert_id, site, desk)
        return JSONResponse({"acked": alert_id, "site": site, "desk": desk})

    def report_for(request: Request) -> dict:
        q = request.query_params
        start, end = rep.span(q.get("span", "day"), q.get("value", ""), settings.tz,
                              dict(settings.shifts), q.get("until"))
        calls = store.calls_between(m.utc_iso(start.timestamp()), m.utc_iso(end.timestamp()))
        alerts = store.alerts_between(m.utc_iso(start.timestamp()), m.utc_iso(end.timestamp()))
        out = rep.build(calls, alerts, settings.tz)
        out["from"], out["to"] = start.isoformat(), end.isoformat()
        out["timezone"] = settings.timezone
        out["shifts"] = list(settings.shifts)
        return out

    async def report_json(request: Request):
        try:
            return JSONResponse(await anyio.to_thread.run_sync(report_for, request))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def report_csv(request: Request):
        try:
            out = await anyio.to_thread.run_sync(report_for, request)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        return Response(rep.to_csv(out), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="deskline-floor-report.csv"'})

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST", "GET"]),
        Route("/", guard(floor_page, page=True)),
        Route("/report", guard(report_page, page=True)),
        Route("/api/floor", guard(floor_json)),
        Route("/api/report", guard(report_json)),
        Route("/report.csv", guard(report_csv)),
        Route("/api/ack/{alert_id}", guard(ack), methods=["POST"]),
        Route("/events", guard(events)),
        Mount("/static", StaticFiles(directory=str(resources.files("deskline.floor")
                                                   .joinpath("static"))), name="static"),
    ]
    secret = session_secret(settings.secret_file)
    return Starlette(routes=routes, middleware=[
        Middleware(SessionMiddleware, secret_key=secret, session_cookie="deskline_floor",
                   same_site="strict", https_only=False, max_age=12 * 3600)])
