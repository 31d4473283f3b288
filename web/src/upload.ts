// A file goes straight from the browser to S3 with the presigned POST the API granted
// (XMLHttpRequest, because fetch reports no upload progress); then the API is told to check it.
import { api, authed, type StoredFile, type UploadGrant } from "./api/client";
import { ApiError } from "./api/problem";
import type { components } from "./api/schema";

/** The content types the deployed API allows (an enum in its document, built from its settings). */
type ContentType = components["schemas"]["CreateFileRequest"]["content_type"];

export type Progress = (sent: number, total: number) => void;

function postForm(grant: UploadGrant, file: File, progress: Progress): Promise<void> {
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.upload.fields)) {
    form.append(name, value);
  }
  form.append("file", file); // S3 ignores every field after `file`: it goes last
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", grant.upload.url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress(event.loaded, event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        progress(file.size, file.size);
        resolve();
        return;
      }
      // S3 answers XML; its <Message> says why (policy, size, signature, expiry).
      const message = /<Message>([^<]*)<\/Message>/.exec(request.responseText)?.[1];
      reject(
        new ApiError({
          type: "about:blank",
          title: "The storage refused the upload",
          status: request.status,
          detail: message ?? `S3 answered ${request.status}.`,
          code: "upload_refused",
        }),
      );
    });
    // A CORS refusal, a dropped connection: the browser says nothing more specific.
    request.addEventListener("error", () =>
      reject(
        new ApiError({
          type: "about:blank",
          title: "The upload did not reach the storage",
          status: 0,
          detail: "The connection failed or the storage does not accept uploads from this site.",
          code: "upload_failed",
        }),
      ),
    );
    request.send(form);
  });
}

/** Grant, upload, complete: the stored file as the API reports it afterwards. */
export async function uploadFile(file: File, progress: Progress): Promise<StoredFile> {
  const { data: grant } = await authed(() =>
    api.POST("/api/v1/files", {
      body: {
        filename: file.name,
        // Sent as the browser reports it: a type outside the list gets the API's readable 422.
        content_type: (file.type || "application/octet-stream") as ContentType,
        size: file.size,
      },
    }),
  );
  await postForm(grant, file, progress);
  const { data } = await authed(() =>
    api.POST("/api/v1/files/{file_id}/complete", { params: { path: { file_id: grant.id } } }),
  );
  return data;
}
