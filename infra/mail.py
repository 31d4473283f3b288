"""Mail: the Amazon SES identity and configuration set the service and Cognito send through.

* ``Mail`` (Auth stack, stateful): the domain identity with Easy DKIM, the configuration set
  (TLS required, bounces and complaints put on the account's suppression list, reputation
  metrics) and its event destination, an encrypted SNS topic of bounce, complaint, reject,
  delivery-delay and rendering-failure events.
* ``MailReputationAlarms`` (Service stack, beside the other alarms): SES's account-level
  bounce and complaint rates, alarmed below the rates at which SES reviews (5 %, 0.1 %) and
  pauses (10 %, 0.5 %) an account.

Names (the domain, the configuration set) are plain strings from the config, so the service
stack grants and configures sending without importing anything from the auth stack.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from infra.config import EnvConfig

# (alarm name, SES metric, alarm threshold, rate at which SES puts the account under review)
REPUTATION_ALARMS = (
    ("MailBounceRate", "Reputation.BounceRate", 0.04, 0.05),
    ("MailComplaintRate", "Reputation.ComplaintRate", 0.0008, 0.001),
)
EVENTS = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.DELIVERY_DELAY,
    ses.EmailSendingEvent.RENDERING_FAILURE,
)


def configuration_set_name(config: EnvConfig) -> str:
    return f"{config.prefix}-mail"


class Mail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        mail = config.mail
        self.config = mail
        self.configuration_set_name = configuration_set_name(config)

        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=self.configuration_set_name,
            # Mails carry sign-in links and codes: never delivered over plain text.
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            reputation_metrics=True,
            sending_enabled=True,
        )

        key = kms.Key(
            self,
            "EventsKey",
            description=f"{config.prefix}: SES event topic encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # SES publishes to the encrypted topic, for this account's sends only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SesPublishesEvents",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.events_topic = sns.Topic(
            self,
            "Events",
            topic_name=f"{config.prefix}-mail-events",
            display_name=f"biwoco {config.name} mail events",
            master_key=key,
            enforce_ssl=True,
        )
        self.configuration_set.add_event_destination(
            "ToTopic",
            configuration_set_event_destination_name="bounces-complaints-rejects",
            destination=ses.EventDestination.sns_topic(self.events_topic),
            events=list(EVENTS),
        )

        zone = (
            route53.PublicHostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=mail.hosted_zone_id, zone_name=mail.domain
            )
            if mail.hosted_zone_id
            else None
        )
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            # In a Route 53 zone the DKIM CNAME records are created with the identity.
            identity=ses.Identity.public_hosted_zone(zone)
            if zone
            else ses.Identity.domain(mail.domain),
            dkim_identity=ses.DkimIdentity.easy_dkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
            dkim_signing=True,
            # Mail sent without naming a set (Cognito's too) still goes through this one.
            configuration_set=self.configuration_set,
            # Bounces and complaints go to the event topic; nobody reads the no-reply inbox.
            feedback_forwarding=False,
        )
        for resource in (self.identity, self.configuration_set):
            resource.apply_removal_policy(config.removal_policy)
        if zone is None:
            for index, record in enumerate(self.identity.dkim_records, start=1):
                CfnOutput(
                    self,
                    f"DkimRecord{index}",
                    value=f"{record.name} CNAME {record.value}",
                    description=f"DKIM record {index} of {mail.domain}, to add to its DNS zone",
                )


def ses_arn(scope: IConstruct, resource: str, name: str) -> str:
    return Stack.of(scope).format_arn(service="ses", resource=resource, resource_name=name)


def grant_send(role: iam.IRole, *, config: EnvConfig) -> None:
    """``ses:SendEmail`` from the configured address only, through the identity and the set."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="SendMailThroughSes",
            actions=["ses:SendEmail"],
            resources=[
                ses_arn(role, "identity", config.mail.domain),
                ses_arn(role, "configuration-set", configuration_set_name(config)),
            ],
            conditions={"StringEquals": {"ses:FromAddress": config.mail.from_address}},
        )
    )


def task_environment(config: EnvConfig) -> dict[str, str]:
    """The service's mail settings: SES, the sender and the configuration set."""
    return {
        "MAIL_BACKEND": "ses",
        "MAIL_FROM": config.mail.sender,
        "MAIL_SES_CONFIGURATION_SET": configuration_set_name(config),
        "MAIL_SES_REGION": config.region,
    }


def cognito_email(config: EnvConfig) -> cognito.UserPoolEmail | None:
    """Cognito's own mail through the identity and the set, once ``mail.cognito_via_ses`` says
    the identity is verified (Cognito refuses an unverified one at deploy time). Until then
    Cognito's default sender: a few dozen mails a day, from no-reply@verificationemail.com."""
    mail = config.mail
    if not mail.cognito_via_ses:
        return None
    return cognito.UserPoolEmail.with_ses(
        from_email=mail.from_address,
        from_name=mail.from_name,
        ses_region=config.region,
        ses_verified_domain=mail.domain,
        configuration_set_name=configuration_set_name(config),
    )


class MailReputationAlarms(Construct):
    """Bounce and complaint rates of the account (what SES enforces), one alarm each."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        action = cw_actions.SnsAction(topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for name, metric_name, threshold, review in REPUTATION_ALARMS:
            alarm = cloudwatch.Alarm(
                self,
                name,
                alarm_name=f"{config.prefix}-{name}",
                alarm_description=(
                    f"SES {metric_name} above {threshold:.2%}; SES puts the account under "
                    f"review at {review:.1%} (docs/operations.md, Mail)"
                ),
                metric=cloudwatch.Metric(
                    namespace="AWS/SES",
                    metric_name=metric_name,
                    statistic="Maximum",
                    period=Duration.hours(1),
                ),
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # No sending, no data point: nothing to alarm about.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[name] = alarm
