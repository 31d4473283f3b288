"""Rehearse Fargate on this machine: run the synthesized task definitions under their rules.

    python -m scripts.rehearse                 # every environment of cdk.json (synthesizes first)
    python -m scripts.rehearse --env prod      # one environment
    python -m scripts.rehearse --env dev --assembly cdk.out   # reuse a synthesized cloud assembly
    python -m scripts.rehearse --env prod --run api -- python service/main.py --env prod \\
        create-admin --email ops@example.com    # a one-off task: the api definition, new command

No Docker engine and no AWS account: each container of an ECS task definition (read from the
synthesized CloudFormation, never from a copy) runs as a process in its own Linux namespaces
(util-linux `unshare`, `setpriv`, `nsenter`; iproute2 `ip`), as Fargate would run it:

* its own mount, PID, UTS and network namespace (awsvpc: a veth on a private bridge, so the
  task has its own loopback and port 8000, and reaches the "AWS" endpoints over the bridge);
* a root filesystem holding only the image's paths (the OS from this machine, `/app/service`
  and the venv from the checkout, as the Dockerfile's COPY instructions place them), read-only
  when the definition says `ReadonlyRootFilesystem`;
* each task volume as a fresh root-owned 0755 directory (Fargate's bind-mount volumes), unless
  the Dockerfile declares the path with VOLUME: then it gets the image's owner and mode there;
* the definition's user (else the image's USER), no supplementary groups, the capability
  bounding set of Docker's default list plus/minus `LinuxParameters.Capabilities`;
* the image's ENV, then the definition's Environment (AWS endpoints replaced by the local
  stand-ins, each replacement printed), and its Secrets by name, values from a JSON file;
* the definition's HealthCheck run inside the task (same namespaces, user and environment,
  CMD or CMD-SHELL, with its timeout, retries and start period) and, for the api, the target
  group's HealthCheckPath from outside, at the task's address;
* against local stand-ins configured as the templates configure AWS: one redis-server per
  ElastiCache replication group (TLS only on the task side, AUTH token = the task's secret,
  the group's maxmemory-policy), mongo-java-server with TLS, moto for S3 and CloudWatch.

Every task runs in a scratch directory (default .stack/rehearse/<env>); every process it starts
is stopped and every namespace (with its mounts) dies with its task. Root is needed (namespaces,
mounts, veth); `preflight` probes for it, and `python -m scripts.rehearse --check-host` says
whether this machine can run it. docs/rehearsal.md says what is faithful and what is not.

Its modules, one concern each: ``paths``, ``reporting``; ``image`` (the Dockerfile),
``assembly`` (the synthesized templates), ``definitions`` (the task definitions in them);
``tls``, ``network`` (bridge and veths), ``stand_ins`` (local AWS); ``task`` (one container in
its namespaces), ``health``; ``rehearsal`` (one environment's tasks), ``scenario`` (what each
must do); ``preflight`` (what this machine must allow) and ``__main__`` (the CLI).
"""

from scripts.rehearse.assembly import Assembly, Stack, environments, synthesize
from scripts.rehearse.definitions import ContainerDefinition, task_definitions
from scripts.rehearse.image import Image, dockerfile_lines, read_image
from scripts.rehearse.network import Bridge
from scripts.rehearse.paths import DOCKERFILE, ROOT
from scripts.rehearse.reporting import RehearsalError
from scripts.rehearse.stand_ins import ELASTICACHE_DEFAULT_POLICY, LocalAws
from scripts.rehearse.tls import Tls, make_tls

__all__ = [
    "DOCKERFILE",
    "ELASTICACHE_DEFAULT_POLICY",
    "ROOT",
    "Assembly",
    "Bridge",
    "ContainerDefinition",
    "Image",
    "LocalAws",
    "RehearsalError",
    "Stack",
    "Tls",
    "dockerfile_lines",
    "environments",
    "make_tls",
    "read_image",
    "synthesize",
    "task_definitions",
]
