/** Idempotency-Key plumbing for [idem] routes (API.md §1). */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { IdempotencyKey } from '../../shared/schemas.ts'
import { runTx, type Tx } from '../db/client.ts'
import {
  type IdempotencyScope,
  requestHash,
  type StoredResponse,
  withIdempotency,
} from '../services/idempotency.ts'
import type { AppEnv, OriginDeps } from './context.ts'
import { validationError } from './validate.ts'

/** The caller's key scope, or undefined when the request carries no Idempotency-Key. */
export async function idempotencyScope(c: Context<AppEnv>): Promise<IdempotencyScope | undefined> {
  const header = c.req.header('idempotency-key')
  if (header === undefined) return undefined
  const key = IdempotencyKey.safeParse(header)
  if (!key.success) throw validationError(key.error.issues.map((i) => ({ ...i, path: ['Idempotency-Key'] })))
  const body = new TextDecoder().decode(await c.req.arrayBuffer())
  return {
    userId: c.get('userId'),
    key: key.data,
    requestHash: requestHash(c.req.method, new URL(c.req.url).pathname, body),
    now: new Date(),
  }
}

/**
 * Typed `never` so a route may return it whatever answers it declares: the status and body were
 * produced by that same route (or are a replay of them), which the route tests check.
 */
export function storedResponse(c: Context<AppEnv>, result: StoredResponse & { replayed: boolean }): never {
  if (result.replayed) c.header('Idempotent-Replayed', 'true')
  return c.json(result.body as object, result.status as ContentfulStatusCode) as never
}

/** An [idem] write that only touches the database: key, effect and answer commit together. */
export async function idempotent(
  c: Context<AppEnv>,
  deps: Pick<OriginDeps, 'db'>,
  work: (tx: Tx, now: Date) => Promise<StoredResponse>,
): Promise<never> {
  const scope = await idempotencyScope(c)
  if (!scope) {
    const now = new Date()
    return storedResponse(c, { ...(await runTx(deps.db.primary, (tx) => work(tx, now))), replayed: false })
  }
  return storedResponse(c, await withIdempotency(deps.db.primary, scope, (tx) => work(tx, scope.now)))
}
