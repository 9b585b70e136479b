/** Runs an [idem] write: with an Idempotency-Key it goes through withIdempotency, without one it
 * runs once in a plain transaction. */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { IdempotencyKey } from '../../shared/schemas.ts'
import { runTx, type Tx } from '../db/client.ts'
import { requestHash, type StoredResponse, withIdempotency } from '../services/idempotency.ts'
import type { AppEnv, OriginDeps } from './context.ts'
import { validationError } from './validate.ts'

export async function idempotent(
  c: Context<AppEnv>,
  deps: Pick<OriginDeps, 'db'>,
  work: (tx: Tx, now: Date) => Promise<StoredResponse>,
): Promise<Response> {
  const header = c.req.header('idempotency-key')
  const now = new Date()
  let result: StoredResponse
  if (header === undefined) {
    result = await runTx(deps.db.primary, (tx) => work(tx, now))
  } else {
    const key = IdempotencyKey.safeParse(header)
    if (!key.success) {
      throw validationError(key.error.issues.map((i) => ({ ...i, path: ['Idempotency-Key'] })))
    }
    const body = new TextDecoder().decode(await c.req.arrayBuffer())
    const url = new URL(c.req.url)
    const stored = await withIdempotency(
      deps.db.primary,
      {
        userId: c.get('userId'),
        key: key.data,
        requestHash: requestHash(c.req.method, url.pathname, body),
        now,
      },
      (tx) => work(tx, now),
    )
    if (stored.replayed) c.header('Idempotent-Replayed', 'true')
    result = stored
  }
  return c.json(result.body as object, result.status as ContentfulStatusCode)
}
