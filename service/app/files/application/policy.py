"""The rules uploads follow, taken from settings by the container."""

from __future__ import annotations

from dataclasses import dataclass

from service.app.files.domain.content import KNOWN_CONTENT_TYPES


@dataclass(frozen=True, slots=True)
class FilePolicy:
    allowed_content_types: frozenset[str]
    max_size_bytes: int
    quota_max_count: int
    quota_max_bytes: int
    presign_expiry_seconds: int
    download_url_expiry_seconds: int
    pending_expiry_seconds: int
    # When set, an object must carry SSE-KMS with this key to be accepted.
    kms_key_id: str | None = None

    def __post_init__(self) -> None:
        unknown = self.allowed_content_types - KNOWN_CONTENT_TYPES
        if unknown:
            # Post-processing checks leading bytes: a type without a signature cannot pass.
            raise ValueError(
                f"FILES_ALLOWED_CONTENT_TYPES has types without a content check: "
                f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(KNOWN_CONTENT_TYPES))})"
            )
        if self.pending_expiry_seconds < self.presign_expiry_seconds:
            raise ValueError(
                "FILES_PENDING_EXPIRY_SECONDS must be at least FILES_PRESIGN_EXPIRY_SECONDS"
            )
