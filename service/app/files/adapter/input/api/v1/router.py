from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from service.app.files.adapter.input.api.v1.schemas import (
    CreateFileRequest,
    CreateFileResponse,
    FileDetailResponse,
    FilePageResponse,
    FileResponse,
)
from service.app.files.application.file_service import FileService
from service.app.files.container import FilesContainer
from service.app.files.settings import FilesSettings
from service.core.fastapi.dependencies import CurrentPrincipal, Inject
from service.core.fastapi.pagination import INVALID_CURSOR_RESPONSES, PageCursor, PageLimit

files_router = APIRouter(prefix="/files", tags=["files"])

Files = Annotated[FileService, Inject(FilesContainer.service)]
FileId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such file of the caller's (another user's is a 404 too)"}
}


def document_upload_policy(settings: FilesSettings, document: dict[str, Any]) -> None:
    """The served document states the upload policy the service enforces: the content types
    an upload may declare (an enum) and its largest size."""
    request = document["components"]["schemas"]["CreateFileRequest"]["properties"]
    request["content_type"]["enum"] = sorted(settings.files_allowed_content_types)
    request["size"]["maximum"] = settings.files_max_size_bytes


@files_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start an upload: a presigned POST for exactly this key, type and size",
    responses={
        409: {"description": "File count quota reached (file_quota_count_exceeded)"},
        413: {"description": "Storage bytes quota reached (file_quota_bytes_exceeded)"},
        422: {"description": "An invalid body, or an unusable filename (invalid_filename)"},
    },
)
async def create_file(
    body: CreateFileRequest, principal: CurrentPrincipal, files: Files
) -> CreateFileResponse:
    grant = await files.grant_upload(
        principal.id, filename=body.filename, content_type=body.content_type, size=body.size
    )
    return CreateFileResponse.of(grant)


@files_router.post(
    "/{file_id}/complete",
    summary="Confirm the upload: the object is checked, then available or rejected",
    responses={**_NOT_FOUND, 409: {"description": "Not pending, or nothing uploaded yet"}},
)
async def complete_file(file_id: FileId, principal: CurrentPrincipal, files: Files) -> FileResponse:
    return FileResponse.of(await files.complete(principal.id, file_id))


@files_router.get(
    "",
    summary="The caller's files, newest first (keyset pagination)",
    responses=INVALID_CURSOR_RESPONSES,
)
async def list_files(
    principal: CurrentPrincipal, files: Files, limit: PageLimit = 20, cursor: PageCursor = None
) -> FilePageResponse:
    return FilePageResponse.of(await files.list(principal.id, limit=limit, cursor=cursor))


@files_router.get(
    "/{file_id}",
    summary="Metadata, plus a short-lived download URL while available",
    responses=_NOT_FOUND,
)
async def get_file(
    file_id: FileId, principal: CurrentPrincipal, files: Files
) -> FileDetailResponse:
    record, download = await files.get(principal.id, file_id)
    return FileDetailResponse.with_download(record, download)


@files_router.delete(
    "/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete: gone from the API at once, the object is removed in the background",
    responses=_NOT_FOUND,
)
async def delete_file(file_id: FileId, principal: CurrentPrincipal, files: Files) -> Response:
    await files.delete(principal.id, file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
