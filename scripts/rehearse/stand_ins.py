"""The local stand-ins for AWS, configured as the templates configure AWS: ElastiCache, DocumentDB,
S3, SES and the attributes tasks refer to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from email.utils import parseaddr
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scripts import stack
from scripts.rehearse.assembly import Assembly, Reference, Stack, references
from scripts.rehearse.definitions import ContainerDefinition
from scripts.rehearse.network import Bridge
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.tls import Tls

# Commands ElastiCache does not offer (renamed away in the local Redis, as there).
ELASTICACHE_RESTRICTED: Final = (
    *("BGREWRITEAOF", "BGSAVE", "CONFIG", "DEBUG", "MIGRATE", "MODULE", "REPLICAOF", "SAVE"),
    *("SLAVEOF", "SYNC", "PSYNC"),
)
# ElastiCache's default parameter groups (default.redis7, default.valkey8) evict volatile keys.
ELASTICACHE_DEFAULT_POLICY: Final = "volatile-lru"


@dataclasses.dataclass
class RedisGroup:
    logical_id: str
    policy: str
    password: str
    tls_port: int
    process: stack.ManagedProcess


class LocalAws:
    """The stand-ins, started lazily as the definitions refer to them."""

    def __init__(
        self, assembly: Assembly, workdir: Path, bridge: Bridge, tls: Tls, secrets: dict[str, str]
    ) -> None:
        self.assembly = assembly
        self.workdir = workdir
        self.bridge = bridge
        self.tls = tls
        self.secrets = secrets
        self.processes: list[stack.ManagedProcess] = []
        self.redis: dict[str, RedisGroup] = {}
        self.database_port: int | None = None
        self.moto: stack.ManagedProcess | None = None
        self.buckets: dict[str, str] = {}
        self.ses_identities: set[tuple[str, str, str]] = set()

    def close(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop(timeout=10)
        self.processes.clear()

    # -- ElastiCache

    def _secret_for(self, secret: tuple[str, str], definition: ContainerDefinition) -> str:
        """The value the task gets for the Secrets Manager secret (stack name, logical id)."""
        for item in definition.raw.get("Secrets") or []:
            refs = references(item["ValueFrom"], definition.stack, self.assembly)
            if any((ref_stack.name, logical_id) == secret for ref_stack, logical_id, _ in refs):
                return self.secrets[item["Name"]]
        raise RehearsalError(
            f"the AUTH token secret {secret[1]} is not among {definition.name}'s secrets"
        )

    def redis_group(
        self, stack_: Stack, logical_id: str, definition: ContainerDefinition
    ) -> RedisGroup:
        if logical_id in self.redis:
            return self.redis[logical_id]
        properties = stack_.resources[logical_id]["Properties"]
        if not properties.get("TransitEncryptionEnabled"):
            raise RehearsalError(f"{logical_id}: the rehearsal expects in-transit encryption")
        token_refs = references(properties.get("AuthToken"), stack_, self.assembly)
        secrets = [
            (ref_stack.name, lid)
            for ref_stack, lid, _ in token_refs
            if ref_stack.resources.get(lid, {}).get("Type") == "AWS::SecretsManager::Secret"
        ]
        if not secrets:
            raise RehearsalError(f"{logical_id}: no AUTH token from Secrets Manager")
        password = self._secret_for(secrets[0], definition)
        policy = ELASTICACHE_DEFAULT_POLICY
        group_ref = properties.get("CacheParameterGroupName")
        for ref_stack, ref_id, _ in (
            references(group_ref, stack_, self.assembly) if group_ref else []
        ):
            parameters = ref_stack.resources[ref_id]["Properties"].get("Properties") or {}
            policy = str(parameters.get("maxmemory-policy", policy))
        tls_port = stack.free_port()
        port = stack.free_port()
        args = [
            "--bind", "127.0.0.1", self.bridge.gateway,
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(self.tls.cert),
            "--tls-key-file", str(self.tls.key),
            "--tls-ca-cert-file", str(self.tls.ca),
            "--tls-auth-clients", "no",
            "--maxmemory", "64mb",
            "--maxmemory-policy", policy,
        ]  # fmt: skip
        for command in ELASTICACHE_RESTRICTED:
            args += ["--rename-command", command, ""]
        process = stack.start_redis(
            port, self.workdir / f"redis-{logical_id}", password=password, extra_args=args
        )
        self.processes.append(process)
        group = RedisGroup(logical_id, policy, password, tls_port, process)
        self.redis[logical_id] = group
        say(
            f"ElastiCache {logical_id}: redis-server TLS on {self.bridge.gateway}:{tls_port}, "
            f"AUTH token from the task's secret, maxmemory-policy {policy}"
        )
        return group

    # -- DocumentDB

    def database(self) -> int:
        if self.database_port is None:
            tls = stack.MongoTls(
                port=stack.free_port(),
                cert=self.tls.cert,
                key=self.tls.key,
                host=self.bridge.gateway,
            )
            process = stack.start_mongo_server(
                stack.free_port(), self.workdir / "database", backend="memory", tls=tls
            )
            self.processes.append(process)
            self.database_port = tls.port
            say(f"DocumentDB: mongo-java-server (memory) with TLS on {tls.host}:{tls.port}")
        return self.database_port

    # -- S3, CloudWatch

    def moto_url(self) -> str:
        if self.moto is None:
            self.moto = stack.start_moto(
                stack.free_port(), self.workdir / "moto", host=self.bridge.gateway
            )
            self.processes.append(self.moto)
        return self.moto.url

    def ses_identity(self, sender: str, configuration_set: str, region: str) -> None:
        """SES in moto, as the Auth stack leaves it: the sender's domain identity and the set."""
        domain = parseaddr(sender)[1].rpartition("@")[2]
        if not domain:
            raise RehearsalError(f"MAIL_FROM {sender!r} names no address to send from")
        key = (domain, configuration_set, region)
        if key in self.ses_identities:
            return
        import boto3  # the project's .venv has it; only an SES-sending task needs it

        client = boto3.client(
            "sesv2",
            endpoint_url=self.moto_url(),
            region_name=region,
            aws_access_key_id=stack.DUMMY_AWS_CREDENTIAL,
            aws_secret_access_key=stack.DUMMY_AWS_CREDENTIAL,
        )
        with contextlib.suppress(client.exceptions.AlreadyExistsException):
            client.create_email_identity(EmailIdentity=domain)
        if configuration_set:
            with contextlib.suppress(client.exceptions.AlreadyExistsException):
                client.create_configuration_set(ConfigurationSetName=configuration_set)
        self.ses_identities.add(key)
        say(f"SES: moto with the identity {domain} and the configuration set {configuration_set}")

    def bucket(self, logical_id: str) -> str:
        if logical_id not in self.buckets:
            name = f"rehearsal-{self.assembly.env}-{logical_id.lower()}"[:63]
            stack.create_bucket(self.moto_url(), name)
            self.buckets[logical_id] = name
        return self.buckets[logical_id]

    # -- attributes of referenced resources

    def attribute(self, ref: Reference, definition: ContainerDefinition) -> str:
        stack_, logical_id, attribute = ref
        rtype = stack_.resources.get(logical_id, {}).get("Type", "?")
        if rtype == "AWS::ElastiCache::ReplicationGroup":
            group = self.redis_group(stack_, logical_id, definition)
            if attribute.endswith("Address"):
                return self.bridge.gateway
            if attribute.endswith("Port"):
                return str(group.tls_port)
        elif rtype == "AWS::DocDB::DBCluster":
            if attribute in ("Endpoint", "ReadEndpoint"):
                return self.bridge.gateway
            if attribute == "Port":
                return str(self.database())
        elif rtype == "AWS::S3::Bucket" and attribute == "Ref":
            return self.bucket(logical_id)
        elif rtype == "AWS::KMS::Key" and attribute == "Arn":
            key_id = uuid.uuid5(uuid.NAMESPACE_DNS, logical_id)
            return f"arn:aws:kms:{stack_.region}:{stack_.account}:key/{key_id}"
        elif rtype == "AWS::Cognito::UserPool" and attribute == "Ref":
            return f"{stack_.region}_rehearsal"
        elif rtype == "AWS::Cognito::UserPoolClient" and attribute == "Ref":
            return f"rehearsal{abs(hash(logical_id)) % 10**8}"
        elif rtype == "AWS::CloudFront::Distribution" and attribute == "DomainName":
            # WEB_APP_URL: only the links in the mails carry it; nothing here opens them.
            return f"{logical_id.lower()}.cloudfront.rehearsal.invalid"
        raise RehearsalError(
            f"{definition.name}: no local stand-in for {rtype} {logical_id}.{attribute}; "
            "teach scripts/rehearse/stand_ins.py what stands in for it"
        )


def without_replica_set(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "replicaSet"]
    return urlunsplit(parts._replace(query=urlencode(query)))
