"""cdk-nag (and CDK's built-in CloudFormation-Validate) acknowledgements, via one helper.

cdk-nag 3.x reads CDK's native ``Validations.of(scope).acknowledge(...)`` metadata;
an acknowledgement on a construct covers every resource beneath it. Every call goes
through :func:`acknowledge` so that each one names the rule, carries a specific reason,
and is recorded in :data:`ACKNOWLEDGEMENTS` (``tests/infra/test_security_doc.py`` checks
that each recorded rule and reason appears in ``docs/security.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

_RULE = re.compile(
    r"^(AwsSolutions-[A-Z]+[0-9]+(\[[^\]]+\])?|CloudFormation-Validate::[EWI][0-9]+)$"
)


@dataclass(frozen=True)
class Ack:
    rule: str
    reason: str
    path: str


ACKNOWLEDGEMENTS: list[Ack] = []


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and everything beneath it)."""
    if not _RULE.match(rule):
        raise ValueError(f"not a cdk-nag or CloudFormation-Validate rule id: {rule!r}")
    if len(reason.strip()) < 40:
        raise ValueError(f"the reason for {rule} must be specific, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
    ACKNOWLEDGEMENTS.append(Ack(rule=rule, reason=reason, path=scope.node.path))
