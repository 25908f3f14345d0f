"""``python -m edp_local.demo --events 100000``: what ``make demo`` runs (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig, get_config
from edp.lake import SILVER_EVENTS
from edp.serving.names import FACT_TABLES
from edp_local.demo import reconcile
from edp_local.demo.dag_driver import (
    DagDriver,
    DagRunFailed,
    DagStep,
    demo_steps,
    demo_window,
    with_unplanned,
)
from edp_local.demo.drain import DrainTimeout, drain_timeout, wait_for_drain
from edp_local.demo.isolation import (
    DemoRefused,
    Placement,
    demo_environment,
    prepare_directories,
    refuse_if_running,
)
from edp_local.demo.lake_counts import (
    bronze_event_ids,
    ingest_quarantine,
    row_count,
    silver_event_ids,
    silver_window,
    stream_quarantine,
)
from edp_local.demo.memory import PlatformMemorySampler
from edp_local.demo.observations import quality_records, quality_summary, slack_alerts
from edp_local.demo.platform_control import (
    PlatformStartError,
    platform_run_id,
    platform_urls,
    start_platform,
    stop_platform,
)
from edp_local.demo.report import SUMMARY_FORMAT, render, write_json
from edp_local.demo.serving_counts import gold_figures, gold_vs_silver, warehouse_figures
from edp_local.demo.stages import StageClock
from edp_local.demo.traffic import missing_fault_kinds, read_ids, send_events
from edp_local.runtime.airflow_api import AirflowApiError, AirflowClient, DagsNotReadyError, platform_dag_ids
from edp_local.runtime.environment import airflow_home

DEFAULT_EVENTS = 100_000
DEFAULT_SEED = 8
DEFAULT_DAG_TIMEOUT_S = 1800.0
DEMO_FAILURES = (
    PlatformStartError,
    DrainTimeout,
    DagRunFailed,
    DagsNotReadyError,
    AirflowApiError,
    RuntimeError,
    OSError,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="edp_local.demo", description=__doc__)
    parser.add_argument(
        "--events", type=int, default=DEFAULT_EVENTS, help="events to generate (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="load generator seed (default %(default)s)"
    )
    parser.add_argument("--rate", type=float, default=0.0, help="events/s to send; 0 = as fast as possible")
    parser.add_argument(
        "--summary-json", type=Path, help="where to write the summary (default <state dir>/demo-summary.json)"
    )
    parser.add_argument("--keep-running", action="store_true", help="leave the platform up at the end")
    parser.add_argument(
        "--drain-timeout", type=float, help="seconds to wait for the stream (default scales with --events)"
    )
    parser.add_argument(
        "--dag-timeout", type=float, default=DEFAULT_DAG_TIMEOUT_S, help="seconds per DAG run"
    )
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    return args


def dag_ids_in_folder(config: PlatformConfig) -> list[str]:
    return platform_dag_ids(config.project_root / "dags")


class Demo:
    def __init__(self, args: argparse.Namespace, env: dict[str, str], placement: Placement) -> None:
        self.args = args
        self.env = env
        self.placement = placement
        self.config = get_config()
        self.clock = StageClock()
        self.sampler = PlatformMemorySampler(lambda: platform_run_id(self.config), lambda: self.clock.current)
        self.started_at = datetime.now(tz=UTC)
        self.ids_file = placement.state_dir / "demo" / "expected_event_ids.txt"
        self.summary_path = args.summary_json or placement.state_dir / "demo-summary.json"
        self.summary: dict[str, Any] = {
            "format": SUMMARY_FORMAT,
            "started_at": self.started_at.isoformat(),
            "events_requested": args.events,
            "seed": args.seed,
            "state_dir": str(placement.state_dir),
            "lake_root": str(placement.lake_root),
            "urls": platform_urls(self.config),
            "kept_running": args.keep_running,
            "dag_runs": [],
            "error": None,
        }

    def run(self) -> int:
        sampler = self.sampler
        sampler.start()
        try:
            self._pipeline()
        except DEMO_FAILURES as exc:
            self.summary["error"] = f"{type(exc).__name__}: {exc}"
            print(f"\nERROR: {exc}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            self.summary["error"] = "interrupted"
        finally:
            with self.clock.stage("reconcile"):
                self._reconcile()
            self.summary["memory"] = sampler.stop().to_dict()
            self._finish()
        return 0 if self.summary["ok"] else 1

    def _pipeline(self) -> None:
        with self.clock.stage("platform start"):
            start_platform(self.env, self.config.project_root)
        self.sampler.record_idle()
        with self.clock.stage("send events"):
            self._send()
        with self.clock.stage("stream drain"):
            traffic = self.summary["traffic"]
            drained = wait_for_drain(
                self.config,
                accepted=traffic["accepted"],
                expected_silver=traffic["expected_valid_unique"],
                timeout_s=self.args.drain_timeout or drain_timeout(self.args.events),
            )
            print(f"   bronze {drained.bronze_rows} rows, silver {drained.silver_rows} rows", flush=True)
        self._drive_dags()

    def _send(self) -> None:
        traffic = send_events(
            self.config,
            self.args.events,
            seed=self.args.seed,
            rate=self.args.rate,
            expected_ids_file=self.ids_file,
        )
        self.summary["traffic"] = traffic
        print(
            f"   sent {traffic['sent']} events ({traffic['achieved_events_per_s']}/s): accepted {traffic['accepted']}, "
            f"rejected {traffic['rejected']}, duplicates {traffic['duplicates']}, late {traffic['late']}",
            flush=True,
        )
        if missing := missing_fault_kinds(traffic):
            print(f"   note: this plan produced no {', '.join(missing)} events (raise --events)", flush=True)

    def _drive_dags(self) -> None:
        first_last = silver_window(self.config)
        if first_last is None:
            raise RuntimeError("silver is empty after the drain; nothing to process")
        window = demo_window(*first_last, today=datetime.now(tz=UTC).date())
        self.summary["window"] = {"start": window.start.isoformat(), "end": window.end.isoformat()}
        with AirflowClient.local(self.config) as client:
            driver = DagDriver(
                client,
                logs_dir=airflow_home(self.config) / "logs",
                run_prefix=f"demo_{self.started_at:%Y%m%dT%H%M%S}",
                timeout_s=self.args.dag_timeout,
            )
            with self.clock.stage("airflow lists the DAGs"):
                listed = driver.listed_dags(dag_ids_in_folder(self.config))
            for step in with_unplanned(demo_steps(window), listed):
                with self.clock.stage(f"DAG {step.name}"):
                    self._run_step(driver, step)

    def _run_step(self, driver: DagDriver, step: DagStep) -> None:
        try:
            result = driver.run(step)
        except DagRunFailed as failure:
            self.summary["dag_runs"].append(failure.result.to_dict())
            raise
        self.summary["dag_runs"].append(result.to_dict())
        print(f"   {result.state} in {result.seconds:.0f}s: {result.url}", flush=True)

    def _reconcile(self) -> None:
        """Collect every figure and run every check that has its figures (some are missing after a failure)."""
        try:
            checks = self._checks()
        except Exception as exc:  # a broken lake must still give a summary
            self.summary["error"] = self.summary["error"] or f"reconcile: {type(exc).__name__}: {exc}"
            checks = []
        self.summary["checks"] = [c.to_dict() for c in checks]
        self.summary["failed_checks"] = [c.name for c in reconcile.failed(checks)]
        self.summary["ok"] = bool(checks) and not self.summary["failed_checks"] and not self.summary["error"]

    def _checks(self) -> list[reconcile.Check]:
        config = self.config
        expected = read_ids(self.ids_file) if self.ids_file.exists() else set()
        silver_ids, silver_rows = silver_event_ids(config), row_count(SILVER_EVENTS, config)
        bronze_rows, bronze_ids = bronze_event_ids(config)
        ingest, gold, warehouse = ingest_quarantine(config), gold_figures(config), warehouse_figures(config)
        records = quality_records(config)
        self.summary["lake"] = {
            "bronze_rows": bronze_rows,
            "bronze_distinct_event_ids": len(bronze_ids),
            "silver_rows": silver_rows,
            "silver_distinct_event_ids": len(silver_ids),
            "ingest_quarantine": ingest,
            "stream_quarantine": stream_quarantine(config),
        }
        self.summary["gold"] = {k: vars(v) for k, v in gold.items()}
        schema = config.redshift.schema
        self.summary["warehouse"] = {
            k: None if v is None else {"table": f"{schema}.{FACT_TABLES[k]}", **vars(v)}
            for k, v in warehouse.items()
        }
        self.summary["quality"] = {
            **quality_summary(records),
            "records_dir": str(config.state_dir / "quality"),
        }
        self.summary["alerts"] = slack_alerts(config, since=self.started_at)
        checks: list[reconcile.Check] = []
        if traffic := self.summary.get("traffic"):
            checks += reconcile.send_accounting(traffic)
            checks += reconcile.silver_matches_expected(expected, silver_ids, silver_rows)
            checks += reconcile.bronze_holds_accepted(traffic["accepted"], bronze_rows, bronze_ids, expected)
            checks += reconcile.quarantine_holds_rejected(
                traffic["rejected"], ingest["events"], ingest["with_reason"]
            )
        checks += reconcile.gold_reconciles(gold_vs_silver(config))
        checks += reconcile.warehouse_matches_gold(gold, warehouse)
        checks += reconcile.quality_passed(records)
        checks += reconcile.dag_runs_succeeded(self.summary["dag_runs"], dag_ids_in_folder(config))
        return checks

    def _finish(self) -> None:
        if not self.args.keep_running:
            with self.clock.stage("platform stop"):
                stop_platform(self.env, self.config.project_root, echo=False)
        self.summary["finished_at"] = datetime.now(tz=UTC).isoformat()
        self.summary["wall_seconds"] = round(self.clock.total(), 1)
        self.summary["stages"] = self.clock.to_list()
        write_json(self.summary, self.summary_path)
        print(render(self.summary), flush=True)
        print(f"\nSummary JSON: {self.summary_path}")
        if self.args.keep_running:
            self._print_running()

    def _print_running(self) -> None:
        urls = self.summary["urls"]
        print("\nThe demo platform is still running:")
        print(f"  Airflow UI:     {urls['airflow']}  (login {urls['airflow_login']})")
        print(f"  KPI dashboard:  {urls['dashboard']}")
        print(f"  Slack alerts:   {urls['slack']}")
        print(f"  Stop it with:   {self.placement.stop_command()}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env, placement = demo_environment(os.environ, get_config().project_root)
    os.environ.update(env)  # this process reads the lake and state of the platform it starts
    config = get_config()
    try:
        refuse_if_running(config, placement)
        prepare_directories(placement)
    except DemoRefused as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    print(
        f"make demo: {args.events} events, state {placement.state_dir}, lake {placement.lake_root}",
        flush=True,
    )
    return Demo(args, env, placement).run()


if __name__ == "__main__":
    sys.exit(main())
