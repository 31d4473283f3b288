"""S3 object storage through boto3 (real S3, or moto's server on the local stack).

boto3 is synchronous: network calls run in a worker thread (`asyncio.to_thread`); presigning
is local CPU work and runs inline. One client per process (a container singleton): boto3
clients are thread-safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from service.app.files.domain.ports import ObjectInfo, PresignedUpload
from service.core.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def build_s3_client(settings: Settings) -> S3Client:
    config = Config(
        region_name=settings.s3_region,
        signature_version="s3v4",
        # A local endpoint (an IP and port) has no bucket subdomains.
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "virtual"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


class S3ObjectStorage:
    def __init__(self, client: S3Client, *, bucket: str, kms_key_id: str | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._kms_key_id = kms_key_id

    def presign_upload(
        self, key: str, *, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        fields: dict[str, Any] = {"Content-Type": content_type}
        # boto3 adds the bucket and `key` conditions itself (the key is pinned exactly).
        conditions: list[Any] = [
            {"Content-Type": content_type},  # exact match, not starts-with
            ["content-length-range", size, size],
        ]
        if self._kms_key_id:
            sse = {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": self._kms_key_id,
            }
            fields.update(sse)
            conditions.extend({name: value} for name, value in sse.items())
        post = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url=post["url"], fields=dict(post["fields"]))

    def presign_download(
        self, key: str, *, content_type: str, content_disposition: str, expires_in: int
    ) -> str:
        return self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_in,
        )

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await asyncio.to_thread(
                self._client.head_object, Bucket=self._bucket, Key=key
            )
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise
        return ObjectInfo(
            size=response["ContentLength"],
            content_type=response.get("ContentType"),
            server_side_encryption=response.get("ServerSideEncryption"),
            kms_key_id=response.get("SSEKMSKeyId"),
        )

    async def read(self, key: str, *, chunk_size: int) -> AsyncIterator[bytes]:
        response = await asyncio.to_thread(self._client.get_object, Bucket=self._bucket, Key=key)
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket, Key=key)
