"""infra/mail.py: the SES identity, configuration set and event topic (auth stack), sending
rights and settings of the tasks, reputation alarms (service stack), Cognito's mail."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.config import ConfigError, parse_env, read_cdk_json
from infra.stage import BiwocoStage
from service.app.settings import load_settings
from service.core.helpers.mail.backends import build_mailer
from service.core.helpers.mail.ses import SesMailer
from tests.infra.conftest import ENVS, app_container, only, resources_of

Raw = Callable[[str, str], dict[str, Any]]
ACCOUNT = {"dev": "111111111111", "prod": "222222222222"}
DOMAIN = {"dev": "dev.biwoco.example", "prod": "biwoco.example"}
CIDR = {"dev": "10.20.0.0/16", "prod": "10.30.0.0/16"}


def _block(env: str) -> dict[str, Any]:
    block: dict[str, Any] = copy.deepcopy(read_cdk_json()["biwoco"]["environments"][env])
    return block


SERVICE_CONTAINERS = ("api", "worker", "beat")


def _task_env(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    """The environment of the service's containers (the db-users task sends no mail)."""
    out = {}
    for td in resources_of(raw(env, "service"), "AWS::ECS::TaskDefinition").values():
        container = app_container(td)
        if container["Name"] in SERVICE_CONTAINERS:
            out[container["Name"]] = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert sorted(out) == sorted(SERVICE_CONTAINERS)
    return out


@pytest.mark.parametrize("env", ENVS)
def test_domain_identity_with_easy_dkim_and_the_default_configuration_set(
    raw: Raw, env: str
) -> None:
    tpl = raw(env, "auth")
    identity = only(tpl, "AWS::SES::EmailIdentity")
    props = identity["Properties"]
    assert props["EmailIdentity"] == DOMAIN[env]
    assert props["DkimAttributes"] == {"SigningEnabled": True}
    assert props["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    (config_set_id,) = resources_of(tpl, "AWS::SES::ConfigurationSet")
    assert props["ConfigurationSetAttributes"] == {"ConfigurationSetName": {"Ref": config_set_id}}
    assert props["FeedbackAttributes"] == {"EmailForwardingEnabled": False}
    assert identity["DeletionPolicy"] == ("Retain" if env == "prod" else "Delete")


def test_prod_dkim_records_are_created_in_its_zone_dev_outputs_them(raw: Raw) -> None:
    records = resources_of(raw("prod", "auth"), "AWS::Route53::RecordSet")
    assert len(records) == 3
    for record in records.values():
        assert record["Properties"]["Type"] == "CNAME"
        assert record["Properties"]["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"
    assert resources_of(raw("dev", "auth"), "AWS::Route53::RecordSet") == {}
    outputs = [k for k in raw("dev", "auth")["Outputs"] if k.startswith("MailDkimRecord")]
    assert len(outputs) == 3


@pytest.mark.parametrize("env", ENVS)
def test_configuration_set_requires_tls_and_suppresses_bounces_and_complaints(
    raw: Raw, env: str
) -> None:
    config_set = only(raw(env, "auth"), "AWS::SES::ConfigurationSet")["Properties"]
    assert config_set["Name"] == f"biwoco-{env}-mail"
    assert config_set["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    assert config_set["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
    assert config_set["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert config_set["SendingOptions"] == {"SendingEnabled": True}


@pytest.mark.parametrize("env", ENVS)
def test_bounces_complaints_and_rejects_go_to_an_encrypted_ssl_only_topic(
    raw: Raw, env: str
) -> None:
    tpl = raw(env, "auth")
    destination = only(tpl, "AWS::SES::ConfigurationSetEventDestination")["Properties"]
    event = destination["EventDestination"]
    assert event["Enabled"] is True
    assert set(event["MatchingEventTypes"]) == {
        "bounce",
        "complaint",
        "reject",
        "deliveryDelay",
        "renderingFailure",
    }
    (topic_id,) = resources_of(tpl, "AWS::SNS::Topic")
    assert event["SnsDestination"] == {"TopicARN": {"Ref": topic_id}}
    topic = only(tpl, "AWS::SNS::Topic")["Properties"]
    (key_id,) = resources_of(tpl, "AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = only(tpl, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True
    ses = {"Service": "ses.amazonaws.com"}
    (ses_on_key,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == ses]
    assert sorted(ses_on_key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert ses_on_key["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT[env]}}
    statements = only(tpl, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "ses.amazonaws.com"}
    assert publish["Condition"]["StringEquals"]["AWS:SourceAccount"] == ACCOUNT[env]
    assert "configuration-set/" in str(publish["Condition"]["StringEquals"]["AWS:SourceArn"])


@pytest.mark.parametrize("env", ENVS)
def test_tasks_may_send_only_from_the_address_through_the_identity_and_set(
    raw: Raw, env: str
) -> None:
    tpl = raw(env, "service")
    statements = [
        s
        for p in resources_of(tpl, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "ses:" in str(s["Action"])
    ]
    (send,) = statements
    assert send["Action"] == "ses:SendEmail"
    region_account = f"ap-southeast-1:{ACCOUNT[env]}"
    assert sorted(send["Resource"]) == [
        f"arn:aws:ses:{region_account}:configuration-set/biwoco-{env}-mail",
        f"arn:aws:ses:{region_account}:identity/{DOMAIN[env]}",
    ]
    address = f"no-reply@{DOMAIN[env]}"
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": address}}


@pytest.mark.parametrize("env", ENVS)
def test_task_environment_selects_ses(raw: Raw, env: str) -> None:
    for name, plain in _task_env(raw, env).items():
        assert plain["MAIL_BACKEND"] == "ses", name
        mail = {k: v for k, v in plain.items() if k.startswith("MAIL_")}
        # The service reads those values into a mailer that sends through SES.
        settings = load_settings("test", **{k.lower(): v for k, v in mail.items()})
        mailer = build_mailer(settings)
        assert isinstance(mailer, SesMailer)
        name = "biwoco dev" if env == "dev" else "biwoco"
        assert settings.mail_from == f"{name} <no-reply@{DOMAIN[env]}>"
        assert settings.mail_ses_configuration_set == f"biwoco-{env}-mail"
        assert settings.mail_ses_region == "ap-southeast-1"


@pytest.mark.parametrize("env", ENVS)
def test_tasks_trust_the_alb_as_peer_and_its_two_hops(raw: Raw, env: str) -> None:
    # The ALB (the peer) is in the VPC; CloudFront and the ALB each append to X-Forwarded-For.
    for name, plain in _task_env(raw, env).items():
        assert plain["FORWARDED_ALLOW_IPS"] == CIDR[env], name
        assert plain["FORWARDED_TRUSTED_HOPS"] == "2", name
        settings = load_settings(
            "test",
            forwarded_allow_ips=plain["FORWARDED_ALLOW_IPS"],
            forwarded_trusted_hops=plain["FORWARDED_TRUSTED_HOPS"],
        )
        assert settings.forwarded_trusted_hops == 2
    alb = only(raw(env, "service"), "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.xff_header_processing.mode"] == "append"


@pytest.mark.parametrize("env", ENVS)
def test_bounce_and_complaint_rates_are_alarmed_to_the_alarm_topic(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in resources_of(tpl, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SES"
    }
    assert set(alarms) == {"Reputation.BounceRate", "Reputation.ComplaintRate"}
    assert alarms["Reputation.BounceRate"]["Threshold"] < 0.05
    assert alarms["Reputation.ComplaintRate"]["Threshold"] < 0.001
    (topic_id,) = resources_of(tpl, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("env", ENVS)
def test_cognito_keeps_its_default_mail_until_the_identity_is_verified(raw: Raw, env: str) -> None:
    pool = only(raw(env, "auth"), "AWS::Cognito::UserPool")
    assert "EmailConfiguration" not in pool["Properties"]


def test_cognito_sends_through_the_identity_and_set_once_switched_on() -> None:
    block = _block("prod")
    block["mail"]["cognito_via_ses"] = True
    stage = BiwocoStage(App(), "prod", config=parse_env("prod", block))
    pool = only(dict(Template.from_stack(stage.auth_stack).to_json()), "AWS::Cognito::UserPool")
    email = pool["Properties"]["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == "biwoco <no-reply@biwoco.example>"
    assert email["ConfigurationSet"] == "biwoco-prod-mail"
    assert "identity/biwoco.example" in str(email["SourceArn"])
    assert any("MailIdentity" in d for d in pool["DependsOn"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("from_address", "no-reply@elsewhere.example"),
        ("from_address", "biwoco.example"),
        ("domain", "Not A Domain"),
        ("from_name", "biwoco <evil>"),
    ],
)
def test_mail_config_is_checked(key: str, value: str) -> None:
    block = _block("dev")
    block["mail"][key] = value
    with pytest.raises(ConfigError, match="mail"):
        parse_env("dev", block)
