"""Request and response bodies of /api/v1/files."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from service.app.files.application.file_service import Download, UploadGrant
from service.app.files.domain.content import MAX_FILENAME_LENGTH
from service.app.files.domain.entity import FileStatus, RejectionReason, StoredFile
from service.core.pagination import Page
from service.core.text import DisplayText


class CreateFileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[str, DisplayText(MAX_FILENAME_LENGTH)]
    content_type: str = Field(min_length=3, max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(ge=1, description="exact size in bytes of the file to upload")


class UploadForm(BaseModel):
    url: str = Field(description="POST a multipart form here")
    fields: dict[str, str] = Field(description="form fields to send before the `file` field")


class FileResponse(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    status: FileStatus
    rejection_reason: RejectionReason | None
    sha256: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    upload_expires_at: datetime

    @classmethod
    def of(cls, file: StoredFile) -> FileResponse:
        return cls(
            id=file.id,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            status=file.status,
            rejection_reason=file.rejection_reason,
            sha256=file.sha256,
            created_at=file.created_at,
            updated_at=file.updated_at,
            completed_at=file.completed_at,
            upload_expires_at=file.upload_expires_at,
        )


class CreateFileResponse(BaseModel):
    id: str
    upload: UploadForm
    expires_at: datetime

    @classmethod
    def of(cls, grant: UploadGrant) -> CreateFileResponse:
        return cls(
            id=grant.file.id,
            upload=UploadForm(url=grant.upload.url, fields=dict(grant.upload.fields)),
            expires_at=grant.expires_at,
        )


class DownloadLink(BaseModel):
    url: str
    expires_at: datetime


class FileDetailResponse(FileResponse):
    download: DownloadLink | None = Field(
        description="short-lived presigned GET, only while the file is available"
    )

    @classmethod
    def with_download(cls, file: StoredFile, download: Download | None) -> FileDetailResponse:
        link = DownloadLink(url=download.url, expires_at=download.expires_at) if download else None
        return cls(**FileResponse.of(file).model_dump(), download=link)


class FilePageResponse(BaseModel):
    items: list[FileResponse]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[StoredFile]) -> FilePageResponse:
        return cls(items=[FileResponse.of(f) for f in page.items], next_cursor=page.next_cursor)
