"""Slack Block Kit messages for alerts, alarms, foreign messages and alert-storm summaries.

Every message has a plain ``text`` (what notifications and screen readers show) and ``blocks``. The
layout of a platform alert:

* header: severity emoji and the alert's title;
* context: severity, environment, alert kind, time;
* fields: DAG, task, run, try, environment, data interval;
* the error summary in a code block;
* buttons: the task log (``log_url``) and the runbook (``RUNBOOK_BASE_URL`` + the alert's ``runbook``
  path); without a base URL the runbook path is shown as text instead.

Slack's limits are applied here (header 150 characters, field 2000, section 3000, 10 fields, button
URL 3000) so a long error or run id can never make Slack reject the whole message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from edp.alerting.slack.notifications import CLOUDWATCH, FOREIGN_RUNBOOK, PLATFORM, Incoming, alarm_runbook

SEVERITY_EMOJI = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}
RESOLVED_EMOJI = ":white_check_mark:"
STORM_EMOJI = ":cyclone:"
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
SECTION_LIMIT = 3000
URL_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
MAX_FIELDS = 10

Block = dict[str, Any]
Message = dict[str, Any]


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def escape(text: Any) -> str:
    """Slack mrkdwn control characters; everything else passes as typed."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: Any) -> str:
    return f"`{escape(text).replace('`', 'ˋ')}`"


def emoji(severity: str) -> str:
    return SEVERITY_EMOJI.get(severity, SEVERITY_EMOJI["warning"])


def runbook_url(runbook: str | None, base_url: str | None) -> str | None:
    """``base_url`` joined with the runbook's repository path; ``None`` when either is missing."""
    if not runbook or not base_url:
        return None
    if urlsplit(runbook).scheme in ("http", "https"):
        return runbook
    return urljoin(base_url if base_url.endswith("/") else base_url + "/", runbook.lstrip("/"))


def _usable_url(url: Any) -> str | None:
    if not isinstance(url, str) or len(url) > URL_LIMIT:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_LIMIT), "emoji": True},
    }


def context(parts: Iterable[str]) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(parts)}]}


def fields(pairs: Sequence[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": truncate(f"*{label}*\n{value}", FIELD_LIMIT)}
            for label, value in pairs[:MAX_FIELDS]
        ],
    }


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}}


def code_section(label: str, text: str) -> Block:
    # Leave room for the label and the fences inside the section limit.
    body = truncate(escape(text).replace("```", "ˋˋˋ"), SECTION_LIMIT - len(label) - 12)
    return section(f"*{label}*\n```{body}```")


def buttons(links: Sequence[tuple[str, str | None, str | None]]) -> Block | None:
    """``(text, url, style)`` triples; links without a usable URL are left out."""
    elements = []
    for index, (text, url, style) in enumerate(links):
        usable = _usable_url(url)
        if usable is None:
            continue
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_LIMIT), "emoji": True},
            "url": usable,
            "action_id": f"link_{index}",
        }
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "elements": elements} if elements else None


def _interval(alert: Mapping[str, Any]) -> str:
    start, end = alert.get("data_interval_start"), alert.get("data_interval_end")
    if not start and not end:
        return "—"
    return f"{escape(start or '?')} → {escape(end or '?')}"


def _task_label(alert: Mapping[str, Any]) -> str:
    map_index = alert.get("map_index")
    task = str(alert.get("task_id") or "—")
    return f"{task}[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else task


def platform_alert_message(incoming: Incoming, runbook_base_url: str | None) -> Message:
    alert = incoming.body or {}
    severity = incoming.severity
    link_runbook = runbook_url(alert.get("runbook"), runbook_base_url)
    blocks: list[Block] = [
        header(f"{emoji(severity)} {incoming.title}"),
        context(
            [
                f"*{severity.upper()}*",
                f"env {code(alert.get('environment', '?'))}",
                f"kind {code(incoming.alert_kind)}",
                escape(alert.get("emitted_at") or incoming.notification.timestamp or ""),
            ]
        ),
        fields(
            [
                ("DAG", code(alert.get("dag_id", "—"))),
                ("Task", code(_task_label(alert))),
                ("Run", code(alert.get("run_id", "—"))),
                ("Try", escape(alert.get("try_number", "—"))),
                ("Environment", escape(alert.get("environment", "—"))),
                ("Data interval", _interval(alert)),
            ]
        ),
        code_section("Error", str(alert.get("error") or "no error recorded")),
    ]
    details = alert.get("details")
    if isinstance(details, Mapping) and details:
        lines = [f"• *{escape(key)}*: {escape(_short(value))}" for key, value in list(details.items())[:10]]
        blocks.append(section("*Details*\n" + "\n".join(lines)))
    actions = buttons([("View task log", alert.get("log_url"), "primary"), ("Runbook", link_runbook, None)])
    if actions:
        blocks.append(actions)
    blocks.append(
        context(
            [
                f"runbook {code(alert.get('runbook', '—'))}" if not link_runbook else "runbook linked above",
                f"dedup {code(incoming.dedup_key)}",
            ]
        )
    )
    text = f"[{severity.upper()}][{alert.get('environment', '?')}] {incoming.title}: {alert.get('error', '')}"
    return {"text": truncate(text, SECTION_LIMIT), "blocks": blocks}


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return truncate(text, limit)


def cloudwatch_alarm_message(incoming: Incoming, runbook_base_url: str | None) -> Message:
    alarm = incoming.body or {}
    state = str(alarm.get("NewStateValue"))
    icon = RESOLVED_EMOJI if state == "OK" else emoji(incoming.severity)
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), Mapping) else {}
    runbook = alarm_runbook(alarm)
    link_runbook = runbook_url(runbook, runbook_base_url)
    region = str(alarm.get("AlarmArn", "::::")).split(":")[3] or "us-east-1"
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{alarm.get('AlarmName', '')}"
    )
    blocks: list[Block] = [
        header(f"{icon} {incoming.title}"),
        context(
            [
                f"*{incoming.severity.upper()}*",
                f"kind {code(incoming.alert_kind)}",
                escape(alarm.get("StateChangeTime", "")),
            ]
        ),
        fields(
            [
                ("Alarm", code(alarm.get("AlarmName", "—"))),
                ("State", f"{escape(alarm.get('OldStateValue', '?'))} → *{escape(state)}*"),
                ("Metric", code(f"{trigger.get('Namespace', '?')}/{trigger.get('MetricName', '?')}")),
                (
                    "Threshold",
                    escape(f"{trigger.get('ComparisonOperator', '')} {trigger.get('Threshold', '')}"),
                ),
                ("Account", escape(alarm.get("AWSAccountId", "—"))),
                ("Region", escape(alarm.get("Region", "—"))),
            ]
        ),
        code_section("Reason", str(alarm.get("NewStateReason") or "")),
    ]
    if alarm.get("AlarmDescription"):
        blocks.append(section(escape(truncate(str(alarm["AlarmDescription"]), 1000))))
    actions = buttons([("Open alarm", console, "primary"), ("Runbook", link_runbook, None)])
    if actions:
        blocks.append(actions)
    return {"text": truncate(f"[{state}] {incoming.title}", SECTION_LIMIT), "blocks": blocks}


def foreign_message(incoming: Incoming, runbook_base_url: str | None = None) -> Message:
    """Anything else on the topic, shown as it came (pretty-printed when it is JSON)."""
    note = incoming.notification
    text = json.dumps(incoming.body, indent=2, sort_keys=True) if incoming.body is not None else note.message
    blocks: list[Block] = [
        header(f"{emoji(incoming.severity)} {incoming.title}"),
        context(
            [
                "message on the alert topic that is not a platform alert",
                f"topic {code(note.topic_arn.rsplit(':', 1)[-1] or '?')}",
                f"id {code(note.message_id or '?')}",
                escape(note.timestamp or ""),
            ]
        ),
        code_section("Message", text or "(empty)"),
    ]
    actions = buttons([("Runbook", runbook_url(FOREIGN_RUNBOOK, runbook_base_url), None)])
    if actions:
        blocks.append(actions)
    return {"text": truncate(f"{incoming.title}: {note.message}", SECTION_LIMIT), "blocks": blocks}


def message_for(incoming: Incoming, runbook_base_url: str | None) -> Message:
    if incoming.source == PLATFORM:
        return platform_alert_message(incoming, runbook_base_url)
    if incoming.source == CLOUDWATCH:
        return cloudwatch_alarm_message(incoming, runbook_base_url)
    return foreign_message(incoming, runbook_base_url)


def storm_message(incoming: Incoming, *, limit: int, window_s: float, until: str) -> Message:
    """Posted once when a kind exceeds its rate limit: says so, and shows the alert that tipped it."""
    minutes = f"{window_s / 60:g} min"
    title = f"{STORM_EMOJI} Alert storm: {incoming.alert_kind} over {limit} per {minutes}"
    text = (
        f"More than {limit} `{escape(incoming.alert_kind)}` alerts in {minutes}. Further ones are folded "
        f"into one summary until {escape(until)}; the Airflow UI shows every failure.\n"
        f"Latest: {emoji(incoming.severity)} *{escape(incoming.title)}*"
    )
    blocks: list[Block] = [header(title), section(text)]
    if incoming.source == PLATFORM and incoming.body:
        blocks.append(code_section("Error", str(incoming.body.get("error") or "")))
        actions = buttons([("View task log", incoming.body.get("log_url"), "primary")])
        if actions:
            blocks.append(actions)
    return {
        "text": truncate(f"Alert storm: {incoming.alert_kind} ({incoming.title})", SECTION_LIMIT),
        "blocks": blocks,
    }


def folded_summary_message(
    alert_kind: str, count: int, first_at: str, last_at: str, samples: Sequence[Mapping[str, str]]
) -> Message:
    """The alerts a storm folded, posted once its window is over."""
    lines = [f"• {escape(s.get('title', ''))} ({code(s.get('dedup_key', ''))})" for s in samples]
    more = count - len(samples)
    if more > 0:
        lines.append(f"• … and {more} more")
    title = f"{STORM_EMOJI} {count} folded {alert_kind} alert{'s' if count != 1 else ''}"
    blocks: list[Block] = [
        header(title),
        context([f"kind {code(alert_kind)}", f"{escape(first_at)} → {escape(last_at)}"]),
        section("\n".join(lines) or "(none)"),
    ]
    return {"text": truncate(f"{title} between {first_at} and {last_at}", SECTION_LIMIT), "blocks": blocks}
