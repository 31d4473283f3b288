"""Build the CDK app: one :class:`BiwocoStage` per configured environment, cdk-nag on."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import REPO_ROOT, load_configs, read_cdk_json
from infra.stage import BiwocoStage


def create_app(
    *,
    outdir: str | None = None,
    context: dict[str, Any] | None = None,
    envs: Iterable[str] | None = None,
    nag: bool = True,
) -> tuple[App, dict[str, BiwocoStage]]:
    """The app and its stages, keyed by environment name.

    ``context`` defaults to ``cdk.json``'s context, so ``python app.py`` (no CDK CLI)
    synthesizes exactly what ``cdk synth`` does. With ``nag`` the AwsSolutions pack runs
    as a policy-validation plugin: any unacknowledged finding fails synthesis.
    """
    ctx = context if context is not None else read_cdk_json()
    if outdir is None and not os.environ.get("CDK_OUTDIR"):
        # Run directly (not by the CDK CLI): write where the CLI would.
        outdir = str(REPO_ROOT / "cdk.out")
    app = App(context=ctx, outdir=outdir)
    configs = load_configs(ctx)
    wanted = list(envs) if envs is not None else list(configs)
    stages = {name: BiwocoStage(app, name, config=configs[name]) for name in wanted}
    if nag:
        Validations.of(app).add_plugins(
            AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
        )
    return app, stages
