"""The S3 adapter against moto's server over real HTTP: signed policy, upload, read, delete."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from service.app.files.adapter.output.storage import S3ObjectStorage, build_s3_client
from service.core.config import Settings
from tests.service.app.files.conftest import PNG, fetch, post_form


def decode_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def test_signed_policy_pins_key_exact_type_and_exact_length(
    storage: S3ObjectStorage, settings: Settings
) -> None:
    key = f"uploads/u-{uuid.uuid4().hex}/f1"
    upload = storage.presign_upload(key, content_type="image/png", size=1234, expires_in=60)
    policy = decode_policy(dict(upload.fields))
    conditions = policy["conditions"]

    assert {"key": key} in conditions  # exact key, no starts-with
    assert {"bucket": settings.s3_bucket} in conditions
    assert {"Content-Type": "image/png"} in conditions  # exact type, no starts-with
    assert ["content-length-range", 1234, 1234] in conditions
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    # The form fields that the policy signs carry the same values.
    assert upload.fields["key"] == key
    assert upload.fields["Content-Type"] == "image/png"
    assert "expiration" in policy


def test_with_a_kms_key_the_policy_requires_sse_kms_with_that_key(settings: Settings) -> None:
    kms_key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    storage = S3ObjectStorage(
        build_s3_client(settings), bucket=settings.s3_bucket, kms_key_id=kms_key
    )
    upload = storage.presign_upload("uploads/u/f", content_type="text/plain", size=5, expires_in=60)
    conditions = decode_policy(dict(upload.fields))["conditions"]

    assert {"x-amz-server-side-encryption": "aws:kms"} in conditions
    assert {"x-amz-server-side-encryption-aws-kms-key-id": kms_key} in conditions
    assert upload.fields["x-amz-server-side-encryption"] == "aws:kms"
    assert upload.fields["x-amz-server-side-encryption-aws-kms-key-id"] == kms_key


async def test_upload_head_stream_download_and_delete_through_moto(
    storage: S3ObjectStorage,
) -> None:
    key = f"uploads/u-{uuid.uuid4().hex}/f1"
    assert await storage.head(key) is None

    upload = storage.presign_upload(key, content_type="image/png", size=len(PNG), expires_in=60)
    response = await post_form(upload.url, dict(upload.fields), PNG)
    assert response.status_code == 204, response.text

    info = await storage.head(key)
    assert info is not None
    assert (info.size, info.content_type) == (len(PNG), "image/png")
    chunks = [chunk async for chunk in storage.read(key, chunk_size=16)]
    assert len(chunks) > 1
    assert b"".join(chunks) == PNG

    url = storage.presign_download(
        key,
        content_type="image/png",
        content_disposition='attachment; filename="p.png"',
        expires_in=30,
    )
    download = await fetch(url)
    assert download.status_code == 200
    assert download.content == PNG
    # S3 answers with the overrides the signed query carries (moto 5.2.5 ignores them on GET,
    # so the signed query itself is what is checked here).
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-disposition"] == ['attachment; filename="p.png"']
    assert query["response-content-type"] == ["image/png"]
    assert query["X-Amz-Expires"] == ["30"]

    await storage.delete(key)
    assert await storage.head(key) is None
    await storage.delete(key)  # deleting a missing object succeeds (idempotent task)
