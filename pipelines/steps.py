"""The pipeline's shell steps: build-and-test-and-synthesize, and the smoke test.

The command lists are module constants so that the tests, ``docs/deployment.md`` and the
buildspec all speak about the same commands.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines as cdkp

from infra.stage import BiwocoStage
from pipelines.config import PipelineConfig

# The README's test command: ruff, mypy, import-linter and pytest against the local stack
# (Redis, mongo-java-server and moto that scripts/stack starts itself; no docker needed).
TEST_COMMAND = "scripts/test"
INSTALL_COMMAND = "scripts/bootstrap"
# Synthesizes every environment and the pipeline; cdk-nag runs as a validation plugin and
# any unacknowledged finding makes this command fail.
SYNTH_COMMAND = ".venv/bin/python app.py"
# cfn-lint on every template of the assembly (nested stage assemblies included), each
# for its own region (pipelines/cfn_lint.py); any error fails the build.
CFN_LINT_COMMAND = ".venv/bin/python -m pipelines.cfn_lint cdk.out"

# The web app (web/dist), built once: the tests run against it and synthesis packages it as the
# asset every stage deploys (infra/web_app.py).
WEB_BUILD_COMMAND = "scripts/web build"

# The upgrade-safety check (pipelines/upgrade_check.py), before any stage deploys: this
# commit's assembly against the baseline release's ($BASELINE_REF, else the newest release-*
# tag), synthesized from the git history (the source action hands CodeBuild a full clone).
UPGRADE_CHECK_COMMAND = ".venv/bin/python -m pipelines.upgrade_check cdk.out"

SYNTH_COMMANDS = (
    WEB_BUILD_COMMAND,
    TEST_COMMAND,
    SYNTH_COMMAND,
    CFN_LINT_COMMAND,
    UPGRADE_CHECK_COMMAND,
)

READINESS_PATH = "/healthz/ready"
# ~5 minutes of retries: CloudFront and the new tasks may need a moment after a deploy.
SMOKE_TEST_COMMAND = (
    "curl --fail --silent --show-error --location --max-time 10"
    " --retry 20 --retry-delay 15 --retry-all-errors"
    f' "${{API_URL%/}}{READINESS_PATH}"'
)

# The standard CodeBuild image (Ubuntu 22.04) has Python 3.12, Java 17 (Corretto) and Maven:
# scripts/stack fetches the local database (mongo-java-server) with them. Ubuntu 22.04's
# own default JDK is 11, too old, so the runtime is named here.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
RUNTIME_VERSIONS = {"python": "3.12", "java": "corretto17"}
CACHE_PATHS = (
    "/root/.cache/pip/**/*",
    "/root/.cache/biwoco/**/*",
    "/root/.m2/repository/**/*",
    "/root/.npm/_cacache/**/*",
)


def synth_step(config: PipelineConfig, source: cdkp.CodePipelineSource) -> cdkp.CodeBuildStep:
    """Install, run the README's test command, synthesize (cdk-nag), cfn-lint the result."""
    return cdkp.CodeBuildStep(
        "Synth",
        input=source,
        install_commands=[INSTALL_COMMAND],
        commands=list(SYNTH_COMMANDS),
        primary_output_directory="cdk.out",
        env={"CI": "true"},
        build_environment=codebuild.BuildEnvironment(
            build_image=BUILD_IMAGE,
            compute_type=codebuild.ComputeType.MEDIUM,
            # scripts/test starts Redis, mongo-java-server and moto as local processes: no docker.
            # The Fargate rehearsal's tests skip here on a probe, and scripts/test prints why
            # (docs/deployment.md: probe-skip rather than a privileged build).
            privileged=False,
        ),
        partial_build_spec=codebuild.BuildSpec.from_object(
            {
                "phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}},
                "cache": {"paths": list(CACHE_PATHS)},
            }
        ),
        cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
        timeout=Duration.minutes(config.build_timeout_minutes),
    )


def smoke_test_step(stage: BiwocoStage) -> cdkp.ShellStep:
    """Calls the stage's readiness route through its public CloudFront URL."""
    return cdkp.ShellStep(
        "SmokeTest",
        env_from_cfn_outputs={"API_URL": stage.api_url_output},
        commands=[SMOKE_TEST_COMMAND],
    )
