/** The one place where failures become HTTP answers in the API.md §1 format. */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { AppError, type ErrorCode, errorBody } from '../../shared/errors.ts'
import type { AppEnv } from './context.ts'
import type { Logger } from './logger.ts'

const CODE_FOR_HTTP_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
}

export function errorResponse(c: Context<AppEnv>, err: AppError): Response {
  for (const [name, value] of Object.entries(err.headers ?? {})) c.header(name, value)
  return c.json(
    errorBody(err.code, err.message, c.get('requestId') ?? '', err.details),
    err.status as ContentfulStatusCode,
  )
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST',
  'ETIMEDOUT',
  'EPIPE',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
])

/**
 * A backing service (MySQL, Redis) is down or unreachable. Walks the cause chain: when a connection
 * dies mid-transaction, drizzle's rollback fails too and wraps mysql2's fatal "connection is in
 * closed state" error (no code), which hides the original connection error.
 */
export function isUnavailable(err: unknown): boolean {
  let cur: unknown = err
  for (let depth = 0; cur && depth < 5; depth++) {
    const { code, fatal, name } = cur as { code?: unknown; fatal?: unknown; name?: unknown }
    if (fatal === true || name === 'MaxRetriesPerRequestError') return true
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true
    if (
      cur instanceof Error &&
      /Command timed out|Connection is closed|Stream isn't writeable/.test(cur.message)
    )
      return true
    cur = (cur as { cause?: unknown }).cause
  }
  return false
}

export function createErrorHandler(log: Logger) {
  return (err: Error, c: Context<AppEnv>): Response => {
    if (err instanceof AppError) return errorResponse(c, err)
    if (err instanceof HTTPException) {
      // A route's media-type gate: the same answer jsonOnly gives a body that is not JSON.
      if (err.status === 415) {
        return errorResponse(
          c,
          new AppError('VALIDATION_FAILED', 'Content-Type must be application/json', {
            field: 'Content-Type',
          }),
        )
      }
      const code = CODE_FOR_HTTP_STATUS[err.status] ?? 'VALIDATION_FAILED'
      return errorResponse(c, new AppError(code, err.message || 'bad request'))
    }
    if (isUnavailable(err)) {
      log.error('dependency unavailable', { requestId: c.get('requestId'), error: err.message })
      return errorResponse(
        c,
        new AppError('ORIGIN_UNAVAILABLE', 'a backing service is unavailable, retry shortly'),
      )
    }
    log.error('unhandled error', {
      requestId: c.get('requestId'),
      ...redactedError(err),
    })
    return errorResponse(c, new AppError('INTERNAL', 'internal error'))
  }
}

/** The driver's codes beside the message (the logger drops drizzle's bound parameters from it). */
function redactedError(err: Error) {
  const cause = (err as { cause?: { code?: string; errno?: number; sqlState?: string } }).cause
  return {
    error: err.message.slice(0, 500),
    ...(cause
      ? {
          code: cause.code,
          errno: cause.errno,
          sqlState: cause.sqlState,
        }
      : {}),
    stack: err.stack
      ?.split('\n')
      .filter((line) => line.trimStart().startsWith('at '))
      .slice(0, 8)
      .join('\n'),
  }
}

export function notFound(c: Context<AppEnv>): Response {
  return errorResponse(c, new AppError('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`))
}
