"""The upgrade-safety check against the previous release (c571da5), and its parts."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.application import create_app
from infra.config import REPO_ROOT, load_configs, read_cdk_json
from pipelines.baseline import baseline_ref, synth_baseline
from pipelines.config import load_pipeline_config
from pipelines.stack import PipelineStack
from pipelines.upgrade_check import Finding, accepted_reason, check

PREVIOUS_RELEASE = "c571da5"
# The Redis split as it was first written: the single group's exports gone.
SPLIT_EXPORTS = (
    "ExportsOutputFnGetAttCacheReplicationGroupBFE59FF3PrimaryEndPointAddressA7862D80",
    "ExportsOutputFnGetAttCacheReplicationGroupBFE59FF3PrimaryEndPointPort94D4856A",
    "ExportsOutputRefCacheAuthToken04672416C12C968B",
)


def _have_history() -> bool:
    return (
        subprocess.run(
            ["git", "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
            cwd=REPO_ROOT,
            capture_output=True,
        ).returncode
        == 0
    )


needs_history = pytest.mark.skipif(
    not _have_history(), reason=f"{PREVIOUS_RELEASE} is not in this clone (shallow?)"
)


@pytest.fixture(scope="session")
def head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This commit's assembly as app.py writes it (both environments and the pipeline)."""
    outdir = tmp_path_factory.mktemp("upgrade.cdk.out")
    context = read_cdk_json()
    app, stages = create_app(outdir=str(outdir), context=context, nag=False)
    config = load_pipeline_config(context)
    assert config is not None
    PipelineStack(app, "Pipeline", config=config, environments=load_configs(context), stages=stages)
    app.synth()
    return outdir


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_baseline(PREVIOUS_RELEASE, cache_dir=tmp_path_factory.mktemp("baseline"))


def _template(assembly: Path, env: str, stack: str) -> Path:
    (path,) = (assembly / f"assembly-{env}").glob(f"{env}{stack}*.template.json")
    return path


@needs_history
def test_this_commit_upgrades_cleanly_from_the_previous_release(baseline: Path, head: Path) -> None:
    failures, _accepted = check(baseline, head)
    assert failures == [], "\n".join(map(str, failures))


@needs_history
def test_it_catches_the_redis_split_against_the_previous_release(
    baseline: Path, head: Path, tmp_path: Path
) -> None:
    # The data stacks as the split first wrote them: the single group, its token and its
    # exports gone (its replacement under another logical id).
    split = tmp_path / "split"
    shutil.copytree(head, split, ignore=shutil.ignore_patterns("asset.*"))
    for env in ("dev", "prod"):
        path = _template(split, env, "Data")
        tpl: dict[str, Any] = json.loads(path.read_text("utf-8"))
        resources = tpl["Resources"]
        for old, new in (
            ("CacheReplicationGroupBFE59FF3", "CacheStateReplicationGroup88FA3FA6"),
            ("CacheAuthToken04672416", "CacheStateAuthTokenAA41481D"),
        ):
            resources[new] = resources.pop(old)
        for name in list(tpl["Outputs"]):
            if any(name in export for export in SPLIT_EXPORTS):
                del tpl["Outputs"][name]
        path.write_text(json.dumps(tpl), "utf-8")
    failures, _ = check(baseline, split)
    keys = {f.key for f in failures}
    for env in ("dev", "prod"):
        for export in SPLIT_EXPORTS:
            assert f"assembly-{env}/biwoco-{env}-data: export biwoco-{env}-data:{export} gone" in (
                keys
            )
        for removed in ("CacheReplicationGroupBFE59FF3", "CacheAuthToken04672416"):
            assert f"assembly-{env}/biwoco-{env}-data/{removed}: removed" in keys


@needs_history
def test_it_names_a_create_only_change_of_a_stateful_resource(
    baseline: Path, head: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(head, changed, ignore=shutil.ignore_patterns("asset.*"))
    path = _template(changed, "prod", "Data")
    tpl = json.loads(path.read_text("utf-8"))
    tpl["Resources"]["CacheReplicationGroupBFE59FF3"]["Properties"]["Port"] = 6379
    path.write_text(json.dumps(tpl), "utf-8")
    failures, _ = check(baseline, changed)
    assert (
        Finding(
            "assembly-prod/biwoco-prod-data/CacheReplicationGroupBFE59FF3: Port changed",
            "AWS::ElastiCache::ReplicationGroup.Port is create-only: "
            "the update replaces the resource",
        )
        in failures
    )


def test_the_pipeline_deploys_the_hand_deployed_templates(head: Path) -> None:
    # aws/aws-cdk#30588: a stage nested in the pipeline stack gets other logical ids for
    # cross-stack security-group rules and Lambda permissions, and other rotation
    # security-group descriptions, than `cdk deploy '<env>/*'`.
    assert not list(head.glob("assembly-Pipeline-*"))
    pipeline = json.loads((head / "Pipeline.template.json").read_text("utf-8"))
    paths = set()
    for resource in pipeline["Resources"].values():
        if resource["Type"] == "AWS::CodePipeline::Pipeline":
            for stage in resource["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    if "TemplatePath" in action["Configuration"]:
                        paths.add(action["Configuration"]["TemplatePath"].split("/")[0])
    assert paths == {"Synth_Output::assembly-dev", "Synth_Output::assembly-prod"}


def test_a_pipeline_stage_that_differs_from_the_hand_deployed_one_fails(
    head: Path, tmp_path: Path
) -> None:
    # A nested stage as the previous release had it: a rule under another logical id and a
    # rotation security group with another description.
    out = tmp_path / "nested"
    shutil.copytree(head, out, ignore=shutil.ignore_patterns("asset.*"))
    hand = out / "assembly-dev"
    piped = out / "assembly-Pipeline-dev"
    shutil.copytree(hand, piped)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    artifact = copy.deepcopy(manifest["artifacts"]["assembly-dev"])
    artifact["properties"]["directoryName"] = "assembly-Pipeline-dev"
    manifest["artifacts"]["assembly-Pipeline-dev"] = artifact
    (out / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    path = _template(out, "dev", "Data").name
    tpl = json.loads((piped / path).read_text("utf-8"))
    groups = [
        k
        for k, r in tpl["Resources"].items()
        if r["Type"] == "AWS::EC2::SecurityGroup" and "Rotation" in k
    ]
    tpl["Resources"][groups[0]]["Properties"]["GroupDescription"] = "Pipeline/dev/Data/..."
    (piped / path).write_text(json.dumps(tpl), "utf-8")
    failures, _ = check(None, out)
    assert [f.key for f in failures] == [
        f"assembly-Pipeline-dev/biwoco-dev-data/{groups[0]}: GroupDescription differs by hand"
    ]


def test_the_baseline_is_baseline_ref_else_the_newest_release_tag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert baseline_ref("abc123") == "abc123"
    monkeypatch.setenv("BASELINE_REF", "release-2026.12.01")
    assert baseline_ref() == "release-2026.12.01"


def test_only_pipeline_created_environments_accept_re_created_rules() -> None:
    key = "assembly-Pipeline-dev/biwoco-dev-service/ServiceApiSgX: rule re-created as ServiceY"
    assert accepted_reason(key) is not None
    assert accepted_reason(key.replace("assembly-Pipeline-dev", "assembly-dev")) is None


@needs_history
def test_it_names_a_cross_region_export_the_service_stack_still_reads(
    baseline: Path, head: Path, tmp_path: Path
) -> None:
    # The certificate replaced (say, a new logical id): the us-east-1 writer would change the
    # parameter that the deployed service stack reads, and CDK's writer refuses that.
    changed = tmp_path / "changed"
    shutil.copytree(head, changed, ignore=shutil.ignore_patterns("asset.*"))
    path = _template(changed, "prod", "EdgeFirewall")
    tpl = json.loads(path.read_text("utf-8"))
    (writer,) = [
        r for r in tpl["Resources"].values() if r["Type"] == "Custom::CrossRegionExportWriter"
    ]
    exports = writer["Properties"]["WriterProps"]["exports"]
    (certificate,) = [name for name in exports if "Certificate" in name]
    exports[certificate] = {"Ref": "FirewallCertificateNew"}
    path.write_text(json.dumps(tpl), "utf-8")
    failures, _ = check(baseline, changed)
    # (an environment the previous release's pipeline deployed reads it too)
    assert [f.key for f in failures] == [
        f"assembly-Pipeline-prod: cross-region export {certificate} changed",
        f"assembly-prod: cross-region export {certificate} changed",
    ]
