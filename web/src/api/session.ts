// The signed-in session: the access token lives in memory only; the refresh token in this
// tab's sessionStorage, so a reload stays signed in. Refreshes are single-flight: two at once
// would present the same refresh token twice, which the API treats as theft (reuse).
import createClient from "openapi-fetch";
import { ApiError, networkProblem, toProblem } from "./problem";
import type { paths } from "./schema";

const REFRESH_KEY = "biwoco.refresh_token";

export type SignOutReason = "signed_out" | "session_ended" | "password_changed";
type Listener = (reason: SignOutReason) => void;

export class Session {
  private accessToken: string | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly listeners: Listener[] = [];
  private readonly raw;

  constructor(baseUrl: string) {
    // A client of its own, without the auth middleware: refreshing must never recurse.
    this.raw = createClient<paths>({ baseUrl });
  }

  get signedIn(): boolean {
    return this.accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
  }

  get access(): string | null {
    return this.accessToken;
  }

  onSignOut(listener: Listener): void {
    this.listeners.push(listener);
  }

  start(tokens: { access_token: string; refresh_token: string }): void {
    this.accessToken = tokens.access_token;
    sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  }

  /** Forget the tokens (the server side is the caller's business) and tell the listeners. */
  end(reason: SignOutReason): void {
    this.accessToken = null;
    this.refreshing = null;
    sessionStorage.removeItem(REFRESH_KEY);
    for (const listener of this.listeners) {
      listener(reason);
    }
  }

  /** An access token for the next call: refreshes first when only a refresh token is held. */
  async ensureAccess(): Promise<void> {
    if (this.accessToken === null && sessionStorage.getItem(REFRESH_KEY) !== null) {
      await this.refresh();
    }
  }

  /** Rotate the pair. A refused refresh (reused, revoked, expired) ends the session. */
  refresh(): Promise<void> {
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async rotate(): Promise<void> {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    if (refreshToken === null) {
      throw new ApiError({
        type: "about:blank",
        title: "Signed out",
        status: 401,
        detail: "Sign in to continue.",
        code: "signed_out",
      });
    }
    let result;
    try {
      result = await this.raw.POST("/api/v1/auth/refresh", {
        body: { refresh_token: refreshToken },
      });
    } catch (cause) {
      throw new ApiError(networkProblem(cause));
    }
    if (result.data) {
      this.start(result.data);
      return;
    }
    const problem = toProblem(result.error, result.response);
    if (problem.status === 401 || problem.status === 422) {
      this.end("session_ended");
    }
    throw new ApiError(problem);
  }
}
