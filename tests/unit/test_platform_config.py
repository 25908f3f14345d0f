"""The one config module: environment switch, per-environment mapping and overrides."""

from __future__ import annotations

import pytest

from edp.config import Environment, get_config, get_env
from edp.config.settings import env_overrides

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key == "PLATFORM_ENV" or key.startswith("PLATFORM__"):
            monkeypatch.delenv(key)


def test_local_is_the_default_environment() -> None:
    assert get_env() is Environment.LOCAL
    assert get_config().env is Environment.LOCAL


def test_unknown_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "staging")
    with pytest.raises(ValueError, match="PLATFORM_ENV='staging' is not one of: local, aws"):
        get_env()


def test_local_lake_lives_under_data_lake_in_the_project() -> None:
    config = get_config()
    assert config.lake.root == str(config.project_root / "data" / "lake")
    assert config.lake.silver.endswith("data/lake/silver")
    assert config.stream.endpoint_url == "http://127.0.0.1:4566"


def test_aws_lake_is_an_s3_uri_and_uses_the_real_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    config = get_config()
    assert config.lake.root == "s3://edp-lake/lake"
    assert config.lake.quarantine == "s3://edp-lake/lake/quarantine"
    assert config.stream.endpoint_url == ""


def test_environment_variables_override_nested_fields_with_their_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLATFORM__STREAM__NAME", "events-blue")
    monkeypatch.setenv("PLATFORM__STREAM__SHARD_COUNT", "4")
    monkeypatch.setenv("PLATFORM__PORTS__AWS", "5566")
    config = get_config()
    assert config.stream.name == "events-blue"
    assert config.stream.shard_count == 4
    assert config.ports.aws == 5566
    assert config.stream.endpoint_url == "http://127.0.0.1:5566"


def test_explicit_overrides_apply_on_top_and_reject_unknown_keys() -> None:
    config = get_config({"redshift": {"workgroup": "wg-x"}, "quicksight": {"dataset_ids": "a, b"}})
    assert config.redshift.workgroup == "wg-x"
    assert config.quicksight.dataset_ids == ("a", "b")
    with pytest.raises(KeyError, match=r"unknown platform setting redshift\.nope"):
        get_config({"redshift": {"nope": 1}})


def test_env_overrides_nest_by_double_underscore() -> None:
    assert env_overrides({"PLATFORM__A__B": "1", "OTHER": "x"}) == {"a": {"b": "1"}}


def test_alerts_topic_arn_is_derived_from_region_account_and_name() -> None:
    assert get_config().alerts_topic_arn == "arn:aws:sns:us-east-1:000000000000:edp-platform-alerts"
