"""One deployable environment: every stack of biwoco for one :class:`EnvConfig`.

``app.py`` instantiates one :class:`BiwocoStage` per environment; the CDK Pipelines
pipeline adds the very same stage class, so a pipeline deploy and a direct
``cdk deploy`` produce identical stacks (stack names come from the config, not from the
stage's construct id).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Environment, Stage
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks import AuthStack, DataStack, EdgeFirewallStack, NetworkStack, ServiceStack


class BiwocoStage(Stage):
    """``BiwocoStage(scope, construct_id, *, config: EnvConfig, **stage_kwargs)``.

    ``api_url_output`` is the ``CfnOutput`` holding the API's public base URL
    (``https://<domain>`` or ``https://<id>.cloudfront.net``); a pipeline step reads it
    with ``env_from_cfn_outputs={"API_URL": stage.api_url_output}``.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvConfig, **kwargs: Any
    ) -> None:
        kwargs.setdefault("env", Environment(account=config.account, region=config.region))
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.network_stack = NetworkStack(self, "Network", config=config)
        self.data_stack = DataStack(self, "Data", config=config, network=self.network_stack.network)
        self.auth_stack = AuthStack(self, "Auth", config=config)
        self.edge_firewall_stack = EdgeFirewallStack(self, "EdgeFirewall", config=config)
        self.service_stack = ServiceStack(
            self,
            "Service",
            config=config,
            network=self.network_stack.network,
            data=self.data_stack,
            auth=self.auth_stack.auth,
            firewall=self.edge_firewall_stack.firewall,
        )

    @property
    def api_url_output(self) -> CfnOutput:
        return self.service_stack.api_url_output

    @property
    def stacks(self) -> tuple[NetworkStack, DataStack, AuthStack, EdgeFirewallStack, ServiceStack]:
        return (
            self.network_stack,
            self.data_stack,
            self.auth_stack,
            self.edge_firewall_stack,
            self.service_stack,
        )
