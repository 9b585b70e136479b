/** Validation failures in the API's format, with the offending field named. */
import { createMiddleware } from 'hono/factory'
import type { z } from 'zod'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from './context.ts'

function fieldOf(path: PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : 'body'
}

export function validationError(issues: z.core.$ZodIssue[]): AppError {
  const first = issues[0]
  const field = first ? fieldOf(first.path) : 'body'
  return new AppError('VALIDATION_FAILED', `${field}: ${first?.message ?? 'invalid'}`, {
    field,
    issues: issues.slice(0, 10).map((i) => ({ field: fieldOf(i.path), message: i.message })),
  })
}

/** Bodies must be declared JSON: a form or text body is refused instead of being read as `{}`. */
export const jsonOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (['POST', 'PUT', 'PATCH'].includes(c.req.method)) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    const hasBody = c.req.header('content-length') !== '0' && (await c.req.arrayBuffer()).byteLength > 0
    if (hasBody && type !== 'application/json') {
      throw new AppError('VALIDATION_FAILED', 'Content-Type must be application/json', {
        field: 'Content-Type',
      })
    }
  }
  await next()
})
