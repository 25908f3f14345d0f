"""Every alert kind the code can send has a runbook page, listed in the index and linked from Slack.

The kinds are read from the source, not copied here: every ``alert_kind=`` keyword argument, every
``alert_kind`` attribute or parameter default, and every module constant named ``ALERT_KIND`` under
``include/``, ``dags/`` and ``plugins/`` whose value resolves to a string (directly, or through module
constants and ``from ... import`` chains). Pass-throughs such as ``alert_kind=incoming.alert_kind`` name
no kind and are skipped. A new kind therefore fails these tests until ``docs/runbooks/<kind>.md`` exists
and ``docs/runbooks/README.md`` lists it.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from edp.alerting import alerts
from edp.alerting.alerts import build_failure_alert, runbook_path
from edp.alerting.slack import notifications
from edp.alerting.slack.messages import message_for
from edp.alerting.slack.notifications import SnsNotification
from edp.config import get_config
from edp.monitoring.alarms import RUNBOOK as ALARM_RUNBOOK
from edp.monitoring.alarms import AlarmSpec, platform_alarms

pytestmark = [pytest.mark.unit, pytest.mark.disable_socket]

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
INDEX = RUNBOOKS / "README.md"
EVENTS = ROOT / "tests" / "events"
SLACK_PACKAGE = ROOT / "include" / "edp" / "alerting" / "slack"
RUNBOOK_BASE = "https://runbooks.example.test/edp/blob/main/"
SOURCE_ROOTS = (
    ROOT / "include",
    ROOT / "plugins",
    ROOT / "dags",
)
REQUIRED_SECTIONS = ("First five minutes", "Fix and recover", "Escalation")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


# ---- reading the kinds from the source ---------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Module:
    path: Path
    tree: ast.Module
    constants: Mapping[str, str]  # module-level NAME = "string"
    imports: Mapping[str, tuple[str, str]]  # local name -> (module, name) of ``from module import name``


def _module_name(path: Path) -> str:
    for root in SOURCE_ROOTS:
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(f"{path} is under no source root")


def _parse(path: Path) -> Module:
    tree = ast.parse(path.read_text(), filename=str(path))
    constants: dict[str, str] = {}
    imports: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                constants.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports.update({alias.asname or alias.name: (node.module, alias.name) for alias in node.names})
    return Module(path, tree, constants, imports)


@cache
def source_modules() -> tuple[Module, ...]:
    """Every Python module of the platform: include/, plugins/ and the DAG files."""
    return tuple(
        _parse(path) for top in ("include", "plugins", "dags") for path in sorted((ROOT / top).rglob("*.py"))
    )


@cache
def importable_modules() -> dict[str, Module]:
    """Modules by import name. include/ comes before plugins/ and dags/, so a DAG file named like a
    package (``dags/data_freshness.py``) does not shadow the package its imports mean."""
    modules: dict[str, Module] = {}
    for module in source_modules():
        modules.setdefault(_module_name(module.path), module)
    return modules


def _resolve(module: Module, expr: ast.expr, depth: int = 0) -> str | None:
    """The string an expression names: a literal, or a constant found through ``from ... import``."""
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str) else None
    if not isinstance(expr, ast.Name) or depth > 5:
        return None
    if expr.id in module.constants:
        return module.constants[expr.id]
    if expr.id in module.imports:
        source, name = module.imports[expr.id]
        target = importable_modules().get(source)
        if target is not None:
            return _resolve(target, ast.Name(id=name), depth + 1)
    return None


def _kind_expressions(tree: ast.Module) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "alert_kind":
            yield node.value
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id in ("alert_kind", "ALERT_KIND") for t in node.targets):
                yield node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name) and node.target.id in ("alert_kind", "ALERT_KIND"):
                yield node.value
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            positional = [*node.args.posonlyargs, *node.args.args]
            defaults = zip(
                positional[len(positional) - len(node.args.defaults) :], node.args.defaults, strict=True
            )
            keyword_only = zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
            for arg, default in [*defaults, *keyword_only]:
                if arg.arg == "alert_kind" and default is not None:
                    yield default


def _is_kind(value: str) -> bool:
    try:
        alerts.validate_alert_kind(value)
    except ValueError:
        return False  # e.g. an empty placeholder, not a kind anything is alerted as
    return True


@cache
def alert_kind_sites() -> dict[str, frozenset[Path]]:
    """Each alert kind named in the source, with the files that name it."""
    sites: dict[str, set[Path]] = {}
    for module in source_modules():
        for expr in _kind_expressions(module.tree):
            kind = _resolve(module, expr)
            if kind is not None and _is_kind(kind):
                sites.setdefault(kind, set()).add(module.path)
    return {kind: frozenset(paths) for kind, paths in sites.items()}


ALERT_KINDS = sorted(alert_kind_sites())
# Kinds the platform publishes as its own alert JSON; the others are the Slack function's labels for
# messages from elsewhere on the topic (CloudWatch alarms, foreign messages).
PLATFORM_KINDS = sorted(
    kind
    for kind, paths in alert_kind_sites().items()
    if any(not p.is_relative_to(SLACK_PACKAGE) for p in paths)
)


# ---- reading the runbooks ------------------------------------------------------------------------
def anchor_of(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(page: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^#{1,6} +(.+?) *$", page.read_text(), re.M)]


def index_rows() -> dict[str, str]:
    """``alert_kind`` -> the row's text, for the table rows of the index that start with a kind."""
    rows = {}
    for line in INDEX.read_text().splitlines():
        match = re.match(r"^\|\s*`([a-z][a-z0-9_-]*)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def runbook_button(message: Mapping[str, Any]) -> str | None:
    """The URL of the Slack message's Runbook button, if it has one."""
    for block in message["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["text"]["text"] == "Runbook":
                return element["url"]
    return None


def repository_target(url: str) -> tuple[Path, str]:
    """The repository file and anchor a runbook URL under ``RUNBOOK_BASE`` points at."""
    assert url.startswith(RUNBOOK_BASE), url
    parts = urlsplit(url)
    return ROOT / url[len(RUNBOOK_BASE) :].split("#", 1)[0], parts.fragment


def sns_record(message: str, message_id: str) -> dict[str, Any]:
    return {
        "EventSource": "aws:sns",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": get_config().alerts_topic_arn,
            "Message": message,
            "Timestamp": "2026-03-01T12:00:00.000Z",
            "MessageAttributes": {},
        },
    }


def slack_message_for(message: str, message_id: str) -> dict[str, Any]:
    notification = SnsNotification.from_record(sns_record(message, message_id))
    return message_for(notifications.read(notification), RUNBOOK_BASE)


def platform_alert(kind: str) -> dict[str, Any]:
    """The alert the failure callback builds when a task's failure names ``kind``."""
    failure = RuntimeError("boom")
    failure.alert_kind = kind  # type: ignore[attr-defined] - how AlertingFailure chooses its kind
    ti = SimpleNamespace(
        dag_id="some_dag",
        task_id="some_task",
        run_id="manual__2026-03-01T12:00:00+00:00",
        try_number=3,
        map_index=-1,
        log_url="http://127.0.0.1:8080/dags/some_dag/runs/r/tasks/some_task",
    )
    context = {"ti": ti, "run_id": ti.run_id, "exception": failure}
    return build_failure_alert(context, environment="local")


def alarm_notification(spec: AlarmSpec) -> str:
    """A CloudWatch state change of ``spec``, shaped like the recorded SNS alarm event."""
    recorded = json.loads((EVENTS / "sns_cloudwatch_alarm.json").read_text())
    alarm = json.loads(recorded["Records"][0]["Sns"]["Message"])
    request = spec.request()
    alarm.update(AlarmName=request["AlarmName"], AlarmDescription=request["AlarmDescription"])
    return json.dumps(alarm)


# ---- the kinds ---------------------------------------------------------------------------------
def test_the_scan_finds_the_kinds_the_alert_modules_define() -> None:
    defined = {
        alerts.TASK_FAILURE,
        alerts.PLATFORM_UNHEALTHY,
        alerts.QUALITY_GATE_FAILED,
        alerts.FRESHNESS_DEADLINE_MISSED,
        notifications.CLOUDWATCH_ALARM_KIND,
        notifications.FOREIGN_KIND,
    }
    assert defined <= set(ALERT_KINDS)


def test_the_scan_resolves_a_kind_imported_from_another_module() -> None:
    # dags/platform_health.py imports PLATFORM_UNHEALTHY from edp.alerting.alerts.
    sites = alert_kind_sites()[alerts.PLATFORM_UNHEALTHY]
    assert ROOT / "dags" / "platform_health.py" in sites


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_alert_kind_in_the_code_has_a_runbook_page(kind: str) -> None:
    page = ROOT / runbook_path(kind)
    named_in = sorted(str(p.relative_to(ROOT)) for p in alert_kind_sites()[kind])
    assert page.is_file(), (
        f"alert kind {kind!r} (named in {named_in}) has no runbook {page.relative_to(ROOT)}"
    )
    assert page.read_text().startswith(f"# Runbook: `{kind}`\n")


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_alert_kind_in_the_code_is_listed_in_the_runbook_index(kind: str) -> None:
    row = index_rows().get(kind)
    assert row is not None, f"{INDEX.relative_to(ROOT)} has no table row for {kind!r}"
    assert f"]({kind}.md)" in row, f"the index row of {kind!r} does not link {kind}.md: {row}"


def test_the_runbook_index_lists_no_kind_the_code_cannot_send() -> None:
    assert set(index_rows()) <= set(ALERT_KINDS)


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_runbook_page_has_the_standard_sections(kind: str) -> None:
    present = set(headings(ROOT / runbook_path(kind)))
    assert [s for s in REQUIRED_SECTIONS if s not in present] == []


# ---- the alerts point at their runbooks ---------------------------------------------------------
@pytest.mark.parametrize("kind", PLATFORM_KINDS)
def test_a_platform_alert_and_its_slack_message_link_the_kinds_runbook(kind: str) -> None:
    alert = platform_alert(kind)
    assert alert["alert_kind"] == kind
    assert (ROOT / alert["runbook"]).is_file()

    url = runbook_button(slack_message_for(json.dumps(alert), f"msg-{kind}"))

    assert url is not None, f"the Slack message of a {kind} alert has no Runbook button"
    page, anchor = repository_target(url)
    assert (page, anchor) == (ROOT / runbook_path(kind), "")


@pytest.mark.parametrize("spec", platform_alarms(get_config()), ids=lambda spec: spec.name)
def test_each_cloudwatch_alarms_slack_message_links_its_runbook_section(spec: AlarmSpec) -> None:
    url = runbook_button(slack_message_for(alarm_notification(spec), f"alarm-{spec.name}"))

    assert url is not None, f"the Slack message of {spec.name} has no Runbook button"
    page, anchor = repository_target(url)
    assert page == ROOT / ALARM_RUNBOOK == ROOT / runbook_path(notifications.CLOUDWATCH_ALARM_KIND)
    assert anchor == spec.runbook_anchor
    assert anchor in {anchor_of(h) for h in headings(page)}, f"{page.name} has no section #{anchor}"


def test_a_foreign_messages_slack_message_links_its_runbook() -> None:
    message = slack_message_for("Hello from the SNS console", "msg-foreign")

    assert runbook_button(message) == RUNBOOK_BASE + runbook_path(notifications.FOREIGN_KIND)


# ---- links inside the runbooks -------------------------------------------------------------------
@pytest.mark.parametrize("page", sorted(RUNBOOKS.glob("*.md")), ids=lambda page: page.name)
def test_every_relative_link_in_a_runbook_resolves(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text()):
        if urlsplit(target).scheme:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in {anchor_of(h) for h in headings(linked)}:
            broken.append(target)
    assert broken == []
