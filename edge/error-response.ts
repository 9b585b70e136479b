import type { Context } from 'hono'
import { AppError, errorBody } from '../shared/errors.ts'
import type { EdgeEnv } from './types.ts'

/** The one place the edge turns a failure into the API.md §1 error format. */
export function errorResponse(c: Context<EdgeEnv>, err: unknown): Response {
  const requestId = c.get('requestId') ?? crypto.randomUUID()
  const appError =
    err instanceof AppError ? err : new AppError('INTERNAL', 'Something went wrong at the edge')
  if (!(err instanceof AppError)) console.error(`edge: unhandled error (request ${requestId}):`, err)
  const headers = new Headers(appError.headers)
  headers.set('content-type', 'application/json; charset=utf-8')
  return new Response(
    JSON.stringify(errorBody(appError.code, appError.message, requestId, appError.details)),
    {
      status: appError.status,
      headers,
    },
  )
}
