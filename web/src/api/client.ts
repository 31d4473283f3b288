// The typed API client: openapi-fetch over the types generated from the service's own OpenAPI
// document (schema.d.ts, by openapi-typescript; `scripts/web client` regenerates both).
import createClient, { type Middleware } from "openapi-fetch";
import { ApiError, networkProblem, toProblem } from "./problem";
import { Session } from "./session";
import type { components, paths } from "./schema";

export type User = components["schemas"]["UserResponse"];
export type StoredFile = components["schemas"]["FileResponse"];
export type FileDetail = components["schemas"]["FileDetailResponse"];
export type FilePage = components["schemas"]["FilePageResponse"];
export type UploadGrant = components["schemas"]["CreateFileResponse"];

// Same origin by default: CloudFront routes /api/* to the API, and so does the local server.
export const API_BASE_URL: string = import.meta.env.VITE_API_BASE_URL ?? "";

export const session = new Session(API_BASE_URL);

const bearer: Middleware = {
  onRequest({ request }) {
    const token = session.access;
    if (token !== null) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: API_BASE_URL });
api.use(bearer);

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a call, or an ApiError carrying the problem the API answered with. */
async function settle<T>(call: () => Promise<Result<T>>): Promise<{ data: T; response: Response }> {
  let result: Result<T>;
  try {
    result = await call();
  } catch (cause) {
    throw new ApiError(networkProblem(cause));
  }
  if (result.response.ok) {
    return { data: result.data as T, response: result.response };
  }
  throw new ApiError(toProblem(result.error, result.response));
}

/** An authenticated call: an expired access token is refreshed once, transparently, and the
 * call repeated; a refused refresh ends the session (Session.end tells the UI). */
export async function authed<T>(
  call: () => Promise<Result<T>>,
): Promise<{ data: T; response: Response }> {
  await session.ensureAccess();
  try {
    return await settle(call);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !session.signedIn) {
      throw error;
    }
    await session.refresh();
    return await settle(call);
  }
}

export { settle as call };
