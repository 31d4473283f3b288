"""The local S3 bucket: created when missing, with the uploads bucket's CORS rules as deployed."""

from __future__ import annotations

import importlib.util
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scripts.stack.messages import StackError, note
from scripts.stack.settings import DEFAULT_REGION, DUMMY_AWS_CREDENTIAL, HOST, ROOT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _s3_client(endpoint_url: str) -> S3Client:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DUMMY_AWS_CREDENTIAL,
        aws_secret_access_key=DUMMY_AWS_CREDENTIAL,
    )


def create_bucket(endpoint_url: str, bucket: str) -> None:
    """Create an S3 bucket if it is missing (boto3 when importable, else a plain PUT)."""
    if importlib.util.find_spec("boto3") is not None:
        client = _s3_client(endpoint_url)
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        except client.exceptions.BucketAlreadyExists:
            pass
        return
    request = urllib.request.Request(f"{endpoint_url}/{bucket}", method="PUT")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (loopback)
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # 409: it already exists
            raise StackError(f"cannot create bucket {bucket} at {endpoint_url}: {exc}") from exc
    except OSError as exc:
        raise StackError(f"cannot create bucket {bucket} at {endpoint_url}: {exc}") from exc


def local_web_origins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Origins the local web app is served from: CORS_ORIGINS (the service's own setting),
    else the API's address in local mode, where it serves web/dist itself."""
    env = os.environ if environ is None else environ
    given = [item.strip() for item in env.get("CORS_ORIGINS", "").split(",") if item.strip()]
    if given:
        return given
    port = env.get("PORT") or "8000"
    return [f"http://{HOST}:{port}", f"http://localhost:{port}"]


def apply_uploads_cors(endpoint_url: str, bucket: str, origins: Sequence[str]) -> None:
    """Put the uploads bucket's CORS rules (infra/uploads_cors.py, as deployed) on a bucket."""
    if importlib.util.find_spec("boto3") is None:
        note(f"boto3 is missing: {bucket} gets no CORS rules (browser uploads are refused)")
        return
    sys.path.insert(0, str(ROOT))
    from infra.uploads_cors import uploads_cors_rules

    client = _s3_client(endpoint_url)
    rules = uploads_cors_rules(origins)
    if rules:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})  # type: ignore[typeddict-item]
    else:
        client.delete_bucket_cors(Bucket=bucket)
