// RFC 9457 problem details, as the API sends them for every error, made readable.
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];

/** An API call that answered with a problem (or failed before an answer came). */
export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }

  get code(): string {
    return this.problem.code;
  }
}

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Problem).title === "string" &&
    typeof (value as Problem).status === "number"
  );
}

/** The problem of a failed response; a synthetic one when the body is not problem+json
 * (a proxy's HTML error page, an empty 502). */
export function toProblem(body: unknown, response: Response): Problem {
  if (isProblem(body)) {
    return body;
  }
  return {
    type: "about:blank",
    title: response.statusText || "Request failed",
    status: response.status,
    detail: `The server answered ${response.status} without details.`,
    code: "unexpected_response",
  };
}

export function networkProblem(cause: unknown): Problem {
  return {
    type: "about:blank",
    title: "The service cannot be reached",
    status: 0,
    detail: `Check your connection and try again (${cause instanceof Error ? cause.message : String(cause)}).`,
    code: "network_error",
  };
}

/** One readable message: the title, the detail when it adds something, each field error. */
export function describe(problem: Problem): string {
  const lines = [problem.title];
  if (problem.detail && problem.detail !== problem.title) {
    lines[0] = `${problem.title}: ${problem.detail}`;
  }
  for (const error of problem.errors ?? []) {
    const field = error.field.replace(/^body\./, "");
    lines.push(`${field}: ${error.message}`);
  }
  return lines.join("\n");
}
