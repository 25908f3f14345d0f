"""The Databricks bundle validates against its schema (the databricks-bundles models), offline."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from edp_infra import databricks_bundle as bundle

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROFILE = {"instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/edp-databricks-jobs"}


@pytest.fixture(scope="module")
def loaded() -> dict:
    return bundle.load(ROOT)


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_bundle_validates_for_every_target(loaded: dict, target: str) -> None:
    jobs = bundle.validate_jobs(bundle.resolve(loaded, target, PROFILE))
    assert len(jobs) == 4


def test_validation_refuses_a_field_the_schema_does_not_have(loaded: dict) -> None:
    broken = copy.deepcopy(loaded)
    broken["resources"]["jobs"]["streaming_ingest"]["tasks"][0]["spark_python_tsk"] = {}
    with pytest.raises(bundle.BundleError, match="spark_python_tsk"):
        bundle.validate_jobs(bundle.resolve(broken, "prod", PROFILE))


def test_validation_refuses_a_value_of_the_wrong_type(loaded: dict) -> None:
    with pytest.raises(bundle.BundleError, match="streaming_ingest"):
        bundle.validate_jobs(bundle.resolve(loaded, "prod", {**PROFILE, "stream_workers": "many"}))


def test_a_variable_without_default_must_be_passed(loaded: dict) -> None:
    with pytest.raises(bundle.BundleError, match="instance_profile_arn"):
        bundle.resolve(loaded, "prod", {})


def test_unknown_targets_variables_and_references_are_errors(loaded: dict) -> None:
    with pytest.raises(bundle.BundleError, match="no target"):
        bundle.resolve(loaded, "staging", PROFILE)
    with pytest.raises(bundle.BundleError, match="undeclared"):
        bundle.resolve(loaded, "prod", {**PROFILE, "nope": "1"})
    broken = copy.deepcopy(loaded)
    broken["resources"]["jobs"]["gold_build"]["description"] = "${var.missing}"
    with pytest.raises(bundle.BundleError, match=r"var\.missing"):
        bundle.resolve(broken, "prod", PROFILE)


def test_whole_value_references_keep_the_variable_type(loaded: dict) -> None:
    jobs = bundle.resolve(loaded, "prod", {**PROFILE, "stream_workers": 3})["jobs"]
    assert jobs["streaming_ingest"]["job_clusters"][0]["new_cluster"]["num_workers"] == 3


def test_secret_references_are_recognised_and_literals_are_not() -> None:
    assert bundle.secret_reference("{{secrets/edp/pii_hash_salt}}") == ("edp", "pii_hash_salt")
    assert bundle.secret_reference("a-literal-salt") is None


def test_cli_writes_the_resolved_jobs(tmp_path: Path) -> None:
    assert (
        bundle.main(
            [
                "--target",
                "prod",
                "--var",
                f"instance_profile_arn={PROFILE['instance_profile_arn']}",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "prod.json").is_file()
