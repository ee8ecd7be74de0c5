// Operator-facing errors with stable codes. The API maps `status` to HTTP; the CLI prints `message`.
// Every code is listed in docs/api.md ("Error codes"); daemon/test/docs.ts checks it.

export const ERRORS = {
  RB_VALIDATION: 400,
  RB_BAD_REQUEST: 400,
  RB_LAN_UNKNOWN: 422,
  RB_IP_INVALID: 422,
  RB_IMPORT_INVALID: 422,
  RB_IMAGE_UNKNOWN: 422,
  RB_IMAGE_ARCH: 422,
  RB_AUTH_MISSING: 401,
  RB_AUTH_INVALID: 401,
  RB_AUTH_READ_ONLY: 403,
  RB_NOT_FOUND: 404,
  RB_ROUTE_NOT_FOUND: 404,
  RB_CONFLICT_MAC: 409,
  RB_CONFLICT_HOSTNAME: 409,
  RB_CONFLICT_IP: 409,
  RB_STATE_TRANSITION: 409,
  RB_TOKEN_EXISTS: 409,
  RB_CONFLICT_POOL: 409,
  RB_POOL_IN_USE: 409,
  RB_POOL_EXHAUSTED: 409,
  RB_CONFLICT_CLUSTER: 409,
  RB_CLUSTER_IN_USE: 409,
  RB_CLUSTER_UNKNOWN: 422,
  RB_CLUSTER_ROLE: 422,
  RB_BMC_NOT_CONFIGURED: 422,
  RB_BMC_UNSUPPORTED: 422,
  RB_BMC_AUTH: 502,
  RB_BMC_FAILED: 502,
  RB_BMC_BUSY: 503,
  RB_BMC_UNREACHABLE: 504,
  RB_PAYLOAD_TOO_LARGE: 413,
  RB_UNSUPPORTED_MEDIA_TYPE: 415,
  RB_INTERNAL: 500
} as const

export type ErrorCode = keyof typeof ERRORS

export interface FieldProblem { field: string; code: ErrorCode; message: string }

/** An operator error: a stable code, a sentence naming the field and value, and an HTTP status. */
export class RackbootError extends Error {
  readonly status: number
  constructor (readonly code: ErrorCode, message: string, readonly field?: string, readonly details?: readonly unknown[]) {
    super(message)
    this.name = 'RackbootError'
    this.status = ERRORS[code]
  }
}
