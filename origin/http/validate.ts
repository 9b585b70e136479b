/** zod validation of body, query and params via @hono/zod-validator, failing in the API's format
 * with the offending field named. */
import { zValidator } from '@hono/zod-validator'
import type { ValidationTargets } from 'hono'
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

/**
 * Ids are opaque (API.md): a path id we could not have issued names nothing, so it is 404 like any
 * other unknown id, not a 400 that tells a prober which shapes are "ours".
 */
export const valid = <Target extends keyof ValidationTargets, S extends z.ZodType>(
  target: Target,
  schema: S,
) =>
  zValidator(target, schema, (result) => {
    if (result.success) return
    if (target === 'param') throw new AppError('NOT_FOUND', 'No such resource')
    throw validationError(result.error.issues)
  })

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
