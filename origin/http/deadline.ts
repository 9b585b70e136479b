/**
 * Answers 503 ORIGIN_UNAVAILABLE when a request has not finished within `ms` — e.g. MySQL or Redis
 * silently unreachable (a partition), where a query would otherwise wait for TCP to give up. The
 * work itself is not cancelled: it commits or rolls back on its own, and every write is safe to
 * retry (business keys, Idempotency-Key), so the caller retries and gets one effect.
 */
import { createMiddleware } from 'hono/factory'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from './context.ts'

export function deadline(ms: number) {
  return createMiddleware<AppEnv>(async (_c, next) => {
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AppError('ORIGIN_UNAVAILABLE', `no answer within ${ms} ms; retry shortly`, undefined, {
              'Retry-After': '5',
            }),
          ),
        ms,
      )
    })
    try {
      await Promise.race([next(), expired])
    } finally {
      clearTimeout(timer)
    }
  })
}
