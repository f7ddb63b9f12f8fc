// Errors of the HTTP API, in OpenAI's shape: status code and {"error": {message, type, param, code}}.

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'overloaded_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Seconds for a Retry-After header (503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming the request field. */
export const invalid = (param: string, message: string, code: string | null = null): ApiError =>
  new ApiError(400, message, 'invalid_request_error', param, code);
