"""The files module's errors, each with a stable problem `code`."""

from __future__ import annotations

from service.core.exceptions import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
)


class InvalidFilenameError(UnprocessableError):
    code = "invalid_filename"


class ContentTypeNotAllowedError(UnprocessableError):
    code = "content_type_not_allowed"


class FileTooLargeError(UnprocessableError):
    code = "file_too_large"


class FileQuotaCountExceededError(ConflictError):
    code = "file_quota_count_exceeded"


class FileQuotaBytesExceededError(PayloadTooLargeError):
    code = "file_quota_bytes_exceeded"


class StoredFileNotFoundError(NotFoundError):
    """The same answer for a missing file and for someone else's: existence is not revealed."""

    code = "file_not_found"


class FileNotPendingError(ConflictError):
    code = "file_not_pending"


class UploadNotFoundError(ConflictError):
    code = "upload_not_found"
