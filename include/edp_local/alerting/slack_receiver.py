"""A local stand-in for Slack's incoming webhooks: records what it receives, shows it, can fail on demand.

Routes:

* ``POST /services/<anything>``: a webhook post. Accepted like Slack does (``200`` ``ok``) when the
  body is JSON (or form-encoded ``payload=``) with ``text`` or ``blocks``; ``400 invalid_payload`` /
  ``no_text`` otherwise. Accepted messages are appended to ``<state dir>/slack/messages.jsonl``.
* ``GET /messages`` (JSON list, ``?since=<n>`` skips the first n), ``GET /`` (an HTML page that
  renders the Block Kit messages and refreshes itself), ``GET /health``.
* ``POST /_control/outage`` ``{"status": 503, "retry_after": null, "count": null}``: simulate a Slack
  outage: the next ``count`` posts (all while ``null``) are answered with ``status`` (and a
  ``Retry-After`` header when given) and recorded only as rejected. ``DELETE /_control/outage`` ends it.
  The env ``SLACK_RECEIVER_OUTAGE=<status>`` starts the receiver in an outage.
* ``GET /docs/runbooks/<page>.md``: the repository's runbooks, so alert links work locally
  (``RUNBOOK_BASE_URL`` defaults to this receiver).
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

OUTAGE_ENV = "SLACK_RECEIVER_OUTAGE"
_PAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}\.md$")


@dataclasses.dataclass
class Outage:
    status: int = 503
    retry_after: str | None = None
    remaining: int | None = None  # None: until cleared


class Receiver:
    """The receiver's state: the message log on disk, counters, and the simulated outage."""

    def __init__(self, messages_path: Path, runbooks_dir: Path, outage: Outage | None = None) -> None:
        self.messages_path = messages_path
        self.runbooks_dir = runbooks_dir
        self.outage = outage
        self.rejected = 0
        self.messages_path.parent.mkdir(parents=True, exist_ok=True)

    def messages(self) -> list[dict[str, Any]]:
        try:
            lines = self.messages_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def record(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        entry = {"received_at": datetime.now(tz=UTC).isoformat(), "path": path, "payload": payload}
        with open(self.messages_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return entry

    def take_outage(self) -> Outage | None:
        """The outage answer for this request, if one is active (counting down a limited outage)."""
        outage = self.outage
        if outage is None:
            return None
        if outage.remaining is not None:
            outage.remaining -= 1
            if outage.remaining <= 0:
                self.outage = None
        return outage


def _parse_payload(body: bytes, content_type: str) -> dict[str, Any] | None:
    text = body.decode("utf-8", "replace")
    if "application/x-www-form-urlencoded" in content_type:
        text = (parse_qs(text).get("payload") or [""])[0]
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _receiver(request: Request) -> Receiver:
    return request.app.state.receiver


async def webhook(request: Request) -> Response:
    receiver = _receiver(request)
    outage = receiver.take_outage()
    if outage is not None:
        receiver.rejected += 1
        headers = {"Retry-After": outage.retry_after} if outage.retry_after else {}
        return PlainTextResponse("service_unavailable", status_code=outage.status, headers=headers)
    payload = _parse_payload(await request.body(), request.headers.get("content-type", ""))
    if payload is None:
        return PlainTextResponse("invalid_payload", status_code=400)
    if not payload.get("text") and not payload.get("blocks"):
        return PlainTextResponse("no_text", status_code=400)
    receiver.record(request.url.path, payload)
    return PlainTextResponse("ok")


async def messages(request: Request) -> Response:
    since = int(request.query_params.get("since", "0") or 0)
    return JSONResponse(_receiver(request).messages()[since:])


async def health(request: Request) -> Response:
    receiver = _receiver(request)
    outage = receiver.outage
    return JSONResponse(
        {
            "status": "ok",
            "messages": len(receiver.messages()),
            "rejected": receiver.rejected,
            "outage": dataclasses.asdict(outage) if outage else None,
        }
    )


async def set_outage(request: Request) -> Response:
    receiver = _receiver(request)
    body = await request.body()
    spec = json.loads(body) if body.strip() else {}
    retry_after = spec.get("retry_after")
    receiver.outage = Outage(
        status=int(spec.get("status", 503)),
        retry_after=None if retry_after is None else str(retry_after),
        remaining=None if spec.get("count") is None else int(spec["count"]),
    )
    return JSONResponse(dataclasses.asdict(receiver.outage))


async def clear_outage(request: Request) -> Response:
    _receiver(request).outage = None
    return JSONResponse({"outage": None})


async def page(request: Request) -> Response:
    receiver = _receiver(request)
    return HTMLResponse(render_page(receiver.messages(), receiver.outage))


async def runbook(request: Request) -> Response:
    name = request.path_params["name"]
    path = _receiver(request).runbooks_dir / name
    if not _PAGE_NAME.fullmatch(name) or not path.is_file():
        return PlainTextResponse("no such runbook", status_code=404)
    return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/markdown; charset=utf-8")


def create_app(receiver: Receiver) -> Starlette:
    app = Starlette(
        routes=[
            Route("/services/{rest:path}", webhook, methods=["POST"]),
            Route("/messages", messages, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/_control/outage", set_outage, methods=["POST"]),
            Route("/_control/outage", clear_outage, methods=["DELETE"]),
            Route("/docs/runbooks/{name}", runbook, methods=["GET"]),
            Route("/", page, methods=["GET"]),
        ]
    )
    app.state.receiver = receiver
    return app


# ---- HTML rendering of Block Kit, enough for our own messages ------------------------------------
_MRKDWN_RULES = (
    (re.compile(r"```(.*?)```", re.S), r"<pre>\1</pre>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*([^*\n]+)\*"), r"<b>\1</b>"),
)


def mrkdwn_to_html(text: str) -> str:
    """Slack mrkdwn (already ``&<>``-escaped by the sender) to HTML; the sender's escaping is kept."""
    out = text.replace('"', "&quot;")
    for pattern, replacement in _MRKDWN_RULES:
        out = pattern.sub(replacement, out)
    return out.replace("\n", "<br>")


def _text(obj: dict[str, Any]) -> str:
    if obj.get("type") == "plain_text":
        return html.escape(str(obj.get("text", "")))
    return mrkdwn_to_html(str(obj.get("text", "")))


def render_block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"<h3>{_text(block['text'])}</h3>"
    if kind == "context":
        return '<div class="ctx">' + " ".join(_text(e) for e in block.get("elements", [])) + "</div>"
    if kind == "section":
        parts = [f"<div>{_text(block['text'])}</div>"] if block.get("text") else []
        if block.get("fields"):
            parts.append(
                '<div class="fields">' + "".join(f"<div>{_text(f)}</div>" for f in block["fields"]) + "</div>"
            )
        return "".join(parts)
    if kind == "actions":
        links = [
            f'<a class="btn" href="{html.escape(e.get("url", ""), quote=True)}">{_text(e["text"])}</a>'
            for e in block.get("elements", [])
            if e.get("type") == "button"
        ]
        return '<div class="actions">' + " ".join(links) + "</div>"
    return f"<pre>{html.escape(json.dumps(block, indent=1))}</pre>"


def render_page(messages: list[dict[str, Any]], outage: Outage | None) -> str:
    cards = []
    for entry in reversed(messages):
        payload = entry.get("payload", {})
        blocks = payload.get("blocks") or [
            {"type": "section", "text": {"type": "mrkdwn", "text": payload.get("text", "")}}
        ]
        body = "".join(render_block(b) for b in blocks)
        cards.append(
            f'<div class="msg"><div class="when">{html.escape(entry.get("received_at", ""))}</div>{body}</div>'
        )
    banner = f'<p class="outage">Simulated outage: answering HTTP {outage.status}</p>' if outage else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Local Slack: platform alerts</title><style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em;background:#f8f8f8}}
.msg{{background:#fff;border-left:4px solid #611f69;padding:.6em 1em;margin:1em 0;box-shadow:0 1px 2px #0002}}
.when,.ctx{{color:#666;font-size:.85em}} .fields{{display:grid;grid-template-columns:1fr 1fr;gap:.4em}}
pre{{background:#f4f4f4;padding:.5em;white-space:pre-wrap}} h3{{margin:.2em 0}}
.btn{{display:inline-block;border:1px solid #ccc;border-radius:4px;padding:.2em .8em;margin:.3em .3em 0 0}}
.outage{{background:#fdd;padding:.5em}}</style></head><body>
<h1>#platform-alerts (local)</h1>{banner}<p>{len(messages)} message(s); newest first.
JSON: <a href="/messages">/messages</a></p>{"".join(cards) or "<p>No alerts yet.</p>"}</body></html>"""


def build_app(state_dir: Path, project_root: Path) -> Starlette:
    raw = os.environ.get(OUTAGE_ENV, "").strip()
    outage = Outage(status=int(raw)) if raw else None
    receiver = Receiver(state_dir / "slack" / "messages.jsonl", project_root / "docs" / "runbooks", outage)
    return create_app(receiver)
