"""The upgrade-safety check: what the next deploy would break, decided without an account.

``python -m pipelines.upgrade_check cdk.out`` compares the cloud assembly of this commit
(``python app.py`` output: every environment deployed by hand, ``assembly-<env>``, and the
pipeline's stages, ``assembly-Pipeline-<env>``) with the assembly of a baseline release,
synthesized from a ``git archive`` of that commit (:mod:`pipelines.baseline`), and fails,
naming the stack and the resource, when

* an export that a baseline stack imports is gone: CloudFormation refuses to delete an export
  in use, so the exporting stack's update fails and rolls back; likewise a cross-region
  reference (an SSM parameter CDK's export writer keeps) that is gone or changes value;
* a stateful resource (:data:`STATEFUL_TYPES`, and log groups the baseline retains) is removed,
  gets a new logical id, or changes a property CloudFormation can only set at creation (the
  resource schema's ``createOnlyProperties``, from the schemas cfn-lint ships): its update
  would replace it, that is delete its data;
* a stack of the pipeline's stage differs from the same environment deployed by hand (logical
  ids, or a create-only property such as a security group's ``GroupDescription``): the day the
  pipeline takes over a hand-deployed environment, those resources are replaced
  (aws/aws-cdk#30588: ids derived from a construct path that includes the stage).

Deliberate exceptions go in :data:`ACCEPTED`, each with its reason.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

PIPELINE_PREFIX = "assembly-Pipeline-"
HAND_PREFIX = "assembly-"

STATEFUL_TYPES = frozenset(
    {
        "AWS::DocDB::DBCluster",
        "AWS::DocDB::DBInstance",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::S3::Bucket",
        "AWS::Cognito::UserPool",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
    }
)
RETAINED = ("Retain", "RetainExceptOnCreate", "Snapshot")

# (pattern, reason): findings whose key (the text before " : ") matches are deliberate,
# documented changes, printed but not failed.
ACCEPTED: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"assembly-Pipeline-[^/]+/biwoco-[^/]+-service/\w+: rule re-created as \w+"),
        "an environment that the previous release's pipeline created (never deployed by hand) "
        "moves once to the hand-deployed rule ids: docs/operations.md, 'Upgrading an "
        "environment the pipeline created', deletes its stateless service stack first",
    ),
)


def accepted_reason(key: str) -> str | None:
    for pattern, reason in ACCEPTED:
        if pattern.fullmatch(key):
            return reason
    return None


@dataclass(frozen=True)
class StackTemplate:
    origin: str  # the nested assembly: "assembly-dev" (by hand), "assembly-Pipeline-dev"
    stack_name: str
    region: str
    template: dict[str, Any]

    @property
    def by_pipeline(self) -> bool:
        return self.origin.startswith(PIPELINE_PREFIX)


@dataclass(frozen=True)
class Finding:
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.key} : {self.detail}"


def stack_templates(assembly_dir: Path, origin: str = "") -> Iterator[StackTemplate]:
    """Every stack of an assembly, nested stage assemblies included."""
    manifest: dict[str, Any] = json.loads((assembly_dir / "manifest.json").read_text("utf-8"))
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        props = artifact.get("properties", {})
        if artifact["type"] == "cdk:cloud-assembly":
            yield from stack_templates(
                assembly_dir / props["directoryName"], props["directoryName"]
            )
        elif artifact["type"] == "aws:cloudformation:stack" and origin:
            region = artifact.get("environment", "").rpartition("/")[2]
            template = json.loads((assembly_dir / props["templateFile"]).read_text("utf-8"))
            yield StackTemplate(
                origin=origin,
                stack_name=props.get("stackName", artifact_id),
                region=region if region and not region.startswith("unknown") else "us-east-1",
                template=template,
            )


def _stacks(assembly_dir: Path) -> dict[tuple[str, str], StackTemplate]:
    return {(s.origin, s.stack_name): s for s in stack_templates(assembly_dir)}


def _counterpart(
    key: tuple[str, str], head: Mapping[tuple[str, str], StackTemplate]
) -> StackTemplate | None:
    """This commit's version of a baseline stack: same assembly, else the same stack name
    deployed by hand (the pipeline deploys the hand-deployed stages since this check exists)."""
    if key in head:
        return head[key]
    for (_origin, name), stack in head.items():
        if name == key[1] and not stack.by_pipeline:
            return stack
    return None


_CREATE_ONLY: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {}


def create_only_properties(region: str, resource_type: str) -> tuple[tuple[str, ...], ...]:
    """The resource schema's ``createOnlyProperties`` as property paths (``("Name",)``)."""
    key = (region, resource_type)
    if key not in _CREATE_ONLY:
        try:
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
        except Exception:
            schema = {}
        paths = []
        for pointer in schema.get("createOnlyProperties", []):
            parts = pointer.split("/")[2:]  # "/properties/A/B" -> ["A", "B"]
            if parts and "*" not in parts:
                paths.append(tuple(parts))
        _CREATE_ONLY[key] = tuple(paths)
    return _CREATE_ONLY[key]


_MISSING = object()


def _at(properties: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = properties
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def create_only_changes(region: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The create-only properties whose value differs between two versions of a resource."""
    changed = []
    for path in create_only_properties(region, str(new["Type"])):
        before = _at(old.get("Properties", {}), path)
        after = _at(new.get("Properties", {}), path)
        if before != after:
            changed.append(".".join(path))
    return changed


def _is_stateful(resource: Mapping[str, Any]) -> bool:
    if resource["Type"] in STATEFUL_TYPES:
        return True
    return resource["Type"] == "AWS::Logs::LogGroup" and resource.get("DeletionPolicy") in RETAINED


_IMPORT = re.compile(r'"Fn::ImportValue": "([^"]+)"')


def imports_of(template: Mapping[str, Any]) -> set[str]:
    return set(_IMPORT.findall(json.dumps(template)))


def exports_of(template: Mapping[str, Any]) -> set[str]:
    names = set()
    for output in template.get("Outputs", {}).values():
        name = output.get("Export", {}).get("Name")
        if isinstance(name, str):
            names.add(name)
    return names


def cross_region_imports_of(template: Mapping[str, Any]) -> set[str]:
    """The SSM parameters a stack reads through CDK's cross-region references."""
    names: set[str] = set()
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "Custom::CrossRegionExportReader":
            names |= set(resource["Properties"]["ReaderProps"]["imports"])
    return names


def cross_region_exports_of(template: Mapping[str, Any]) -> dict[str, str]:
    """The SSM parameters a stack writes for other regions' stacks, with their values."""
    values: dict[str, str] = {}
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "Custom::CrossRegionExportWriter":
            for name, value in resource["Properties"]["WriterProps"]["exports"].items():
                values[name] = json.dumps(value, sort_keys=True)
    return values


def cross_region_findings(
    baseline: Mapping[tuple[str, str], StackTemplate], head: Mapping[tuple[str, str], StackTemplate]
) -> list[Finding]:
    """Cross-region references (``crossRegionReferences``): CDK's export writer refuses to
    delete or change a parameter that a deployed reader still imports, and fails the update."""
    findings = []
    origins = {origin for origin, _ in baseline}
    for origin in sorted(origins):
        old_written: dict[str, str] = {}
        new_written: dict[str, str] = {}
        imported: dict[str, str] = {}
        for key, stack in baseline.items():
            if key[0] != origin:
                continue
            old_written |= cross_region_exports_of(stack.template)
            for name in cross_region_imports_of(stack.template):
                imported[name] = key[1]
            counterpart = _counterpart(key, head)
            if counterpart is not None:
                new_written |= cross_region_exports_of(counterpart.template)
        for name, reader in sorted(imported.items()):
            if name not in new_written:
                what = "gone"
            elif name in old_written and old_written[name] != new_written[name]:
                what = "changed"
            else:
                continue
            findings.append(
                Finding(
                    f"{origin}: cross-region export {name} {what}",
                    f"the deployed {reader} reads it; CDK's export writer refuses to delete or "
                    "change a parameter in use, so the exporting stack's update fails",
                )
            )
    return findings


def export_findings(
    baseline: Mapping[tuple[str, str], StackTemplate], head: Mapping[tuple[str, str], StackTemplate]
) -> list[Finding]:
    """Exports the baseline imports (per nested assembly) that this commit no longer exports."""
    findings = []
    for (origin, name), stack in sorted(baseline.items()):
        exported: set[str] = set()
        for other_origin, other_name in baseline:
            if other_origin == origin:
                counterpart = _counterpart((other_origin, other_name), head)
                if counterpart is not None:
                    exported |= exports_of(counterpart.template)
        for export in sorted(imports_of(stack.template) - exported):
            owner = export.partition(":")[0]
            findings.append(
                Finding(
                    f"{origin}/{owner}: export {export} gone",
                    f"the deployed {name} imports it; CloudFormation refuses to delete an "
                    "export in use, so the update of the exporting stack fails. Keep the "
                    "export one more release (stack.export_value) or release in two steps.",
                )
            )
    return findings


def stateful_findings(
    baseline: Mapping[tuple[str, str], StackTemplate], head: Mapping[tuple[str, str], StackTemplate]
) -> list[Finding]:
    """Stateful resources of the baseline removed, renamed or replaced by this commit."""
    findings = []
    for key, old_stack in sorted(baseline.items()):
        new_stack = _counterpart(key, head)
        old_resources = old_stack.template.get("Resources", {})
        new_resources = new_stack.template.get("Resources", {}) if new_stack else {}
        where = f"{key[0]}/{key[1]}"
        for logical_id, old in sorted(old_resources.items()):
            if not _is_stateful(old):
                continue
            new = new_resources.get(logical_id)
            if new is None or new["Type"] != old["Type"]:
                findings.append(
                    Finding(
                        f"{where}/{logical_id}: removed",
                        f"{old['Type']} is gone or has a new logical id (CloudFormation "
                        "deletes it, or creates a new one and deletes it)",
                    )
                )
                continue
            for prop in create_only_changes(old_stack.region, old, new):
                findings.append(
                    Finding(
                        f"{where}/{logical_id}: {prop} changed",
                        f"{old['Type']}.{prop} is create-only: the update replaces the resource",
                    )
                )
    return findings


RULE_TYPES = frozenset({"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"})


def rule_findings(
    baseline: Mapping[tuple[str, str], StackTemplate], head: Mapping[tuple[str, str], StackTemplate]
) -> list[Finding]:
    """Security-group rules the update re-creates under a new logical id with the same content.

    CloudFormation creates the new rule before it deletes the old one: EC2 refuses the
    duplicate (``InvalidPermission.Duplicate``) and the update rolls back.
    """
    findings = []
    for key, old_stack in sorted(baseline.items()):
        new_stack = _counterpart(key, head)
        if new_stack is None:
            continue
        old_resources = old_stack.template.get("Resources", {})
        new_resources = new_stack.template.get("Resources", {})
        added = {
            json.dumps(r["Properties"], sort_keys=True): logical_id
            for logical_id, r in new_resources.items()
            if r["Type"] in RULE_TYPES and logical_id not in old_resources
        }
        for logical_id, old in sorted(old_resources.items()):
            if old["Type"] not in RULE_TYPES or logical_id in new_resources:
                continue
            twin = added.get(json.dumps(old["Properties"], sort_keys=True))
            if twin is not None:
                findings.append(
                    Finding(
                        f"{key[0]}/{key[1]}/{logical_id}: rule re-created as {twin}",
                        "the same rule under a new logical id: EC2 refuses the duplicate "
                        "(InvalidPermission.Duplicate) and the update rolls back",
                    )
                )
    return findings


def pipeline_findings(head: Mapping[tuple[str, str], StackTemplate]) -> list[Finding]:
    """Each pipeline stage's stack against the same stack deployed by hand."""
    by_hand = {s.stack_name: s for s in head.values() if not s.by_pipeline}
    findings = []
    for (origin, name), piped in sorted(head.items()):
        hand = by_hand.get(name) if piped.by_pipeline else None
        if hand is None:
            continue
        where = f"{origin}/{name}"
        hand_resources = hand.template.get("Resources", {})
        piped_resources = piped.template.get("Resources", {})
        for logical_id in sorted(set(hand_resources) ^ set(piped_resources)):
            side = "by hand" if logical_id in hand_resources else "by the pipeline"
            rtype = (hand_resources.get(logical_id) or piped_resources[logical_id])["Type"]
            findings.append(
                Finding(
                    f"{where}/{logical_id}: only {side}",
                    f"{rtype}: the pipeline's stack and the hand-deployed one name it "
                    "differently, so a take-over replaces it",
                )
            )
        for logical_id in sorted(set(hand_resources) & set(piped_resources)):
            for prop in create_only_changes(
                piped.region, hand_resources[logical_id], piped_resources[logical_id]
            ):
                findings.append(
                    Finding(
                        f"{where}/{logical_id}: {prop} differs by hand",
                        "a create-only property: the pipeline's take-over replaces it",
                    )
                )
    return findings


def check(baseline_dir: Path | None, head_dir: Path) -> tuple[list[Finding], list[Finding]]:
    """``(failures, accepted)``: every finding, split by :data:`ACCEPTED`."""
    head = _stacks(head_dir)
    findings = pipeline_findings(head)
    if baseline_dir is not None:
        baseline = _stacks(baseline_dir)
        findings = (
            export_findings(baseline, head)
            + cross_region_findings(baseline, head)
            + stateful_findings(baseline, head)
            + rule_findings(baseline, head)
            + findings
        )
    failures = [f for f in findings if accepted_reason(f.key) is None]
    accepted = [f for f in findings if accepted_reason(f.key) is not None]
    return failures, accepted


def main(argv: list[str]) -> int:
    from pipelines.baseline import baseline_ref, synth_baseline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", type=Path, help="this commit's cloud assembly (cdk.out)")
    parser.add_argument(
        "--baseline-ref",
        help="the release to upgrade from (default: $BASELINE_REF, else the newest release-* tag)",
    )
    args = parser.parse_args(argv)
    ref = baseline_ref(args.baseline_ref)
    baseline_dir = synth_baseline(ref)
    print(f"upgrade check: {args.assembly} against baseline {ref}")
    failures, accepted = check(baseline_dir, args.assembly)
    for finding in accepted:
        print(f"accepted: {finding.key} ({accepted_reason(finding.key)})")
    for finding in failures:
        print(f"error: {finding}")
    print(f"upgrade check: {len(failures)} errors, {len(accepted)} accepted")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
