"""The files module's settings (env names as the fields, upper-case); core's are inherited."""

from __future__ import annotations

from pydantic import Field, field_validator

from service.core.config import CommaList, Settings, split_commas


class FilesSettings(Settings):
    # Uploads to S3 through presigned POSTs (the bucket and its key are core's S3_* settings).
    files_allowed_content_types: CommaList = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
        ]
    )
    files_max_size_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    files_quota_max_count: int = Field(default=1000, ge=1)
    files_quota_max_bytes: int = Field(default=5 * 1024**3, ge=1)
    files_presign_expiry_seconds: int = Field(default=600, ge=1, le=7 * 24 * 3600)
    files_download_url_expiry_seconds: int = Field(default=60, ge=1, le=7 * 24 * 3600)
    # A file still pending this long after its upload was granted is gone (never served or
    # counted); the sweep, every interval, removes any object it left in S3.
    files_pending_expiry_seconds: int = Field(default=3600, ge=1)
    files_expire_sweep_interval_seconds: float = Field(default=300.0, gt=0, le=12 * 3600)
    # How often every owner's usage is set from its files (what a crash left wrong converges).
    files_quota_reconcile_interval_seconds: float = Field(default=3600.0, gt=0, le=24 * 3600)

    _split_lists = field_validator("files_allowed_content_types", mode="before")(split_commas)
