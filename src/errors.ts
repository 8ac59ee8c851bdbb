// The one error registry: every expected failure has a stable code and an HTTP status.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Stable error codes returned in `{"error":{"code","message"}}` bodies and MCP tool errors. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_PATH: 400,
  INVALID_REF: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  REPO_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  FILE_NOT_FOUND: 404,
  BRANCH_NOT_FOUND: 404,
  NOTHING_TO_PUSH: 409,
  MERGE_CONFLICT: 409,
  LEASE_NOT_READY: 409,
  LEASE_EXPIRED: 410,
  LEASE_ENDED: 410,
  IDEMPOTENCY_MISMATCH: 422,
  REPO_LOCKED: 423,
  RATE_LIMITED: 429,
  TOO_MANY_LEASES: 429,
  GIT_FAILED: 502,
  CLONE_FAILED: 502,
  PUSH_REJECTED: 502,
  SANDBOX_UNAVAILABLE: 502,
  PROVIDER_ERROR: 502,
  POOL_EXHAUSTED: 503,
  DATABASE_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  EXEC_TIMEOUT: 504,
  INTERNAL: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Options for an AppError: extra public fields, a Retry-After, and internal detail (logged redacted). */
export interface AppErrorOptions {
  details?: Record<string, unknown>;
  retryAfterS?: number;
  internal?: string;
  cause?: unknown;
}

/** The one error type: `message` is public, `internal` is for logs only. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details?: Record<string, unknown>;
  readonly retryAfterS?: number;
  readonly internal?: string;

  constructor(code: ErrorCode, message: string, opts: AppErrorOptions = {}) {
    super(message, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = opts.details;
    this.retryAfterS = opts.retryAfterS;
    this.internal = opts.internal;
  }

  /** The public JSON body. */
  toBody(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...(this.details ?? {}) } };
  }
}

/** True when `e` is an AppError (also across module copies). */
export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError || (e instanceof Error && e.name === 'AppError' && 'code' in e);
}
