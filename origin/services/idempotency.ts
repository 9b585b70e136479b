/**
 * Idempotency-Key handling (API.md §1). The key's record is inserted in the same transaction as
 * the effect: a concurrent duplicate blocks on the record's row lock and, once the first commits,
 * replays its answer; if the first fails or crashes, nothing is recorded and a retry runs afresh.
 * Only successful answers are recorded, so a request refused for a passing reason (not enough
 * points yet) can be retried with the same key.
 */
import { createHash } from 'node:crypto'
import { and, eq, lt } from 'drizzle-orm'
import { idempotencyKeys } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { type Db, DUPLICATE_KEY, mysqlErrno, runTx, type Tx } from '../db/client.ts'

export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000

export interface StoredResponse {
  status: number
  body: unknown
}

export function requestHash(method: string, path: string, body: string): string {
  return createHash('sha256').update(`${method.toUpperCase()} ${path}\n`).update(body).digest('hex')
}

export async function withIdempotency(
  db: Db,
  scope: { userId: number; key: string; requestHash: string; now: Date },
  work: (tx: Tx) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  return runTx(db, async (tx) => {
    const where = and(eq(idempotencyKeys.userId, scope.userId), eq(idempotencyKeys.idemKey, scope.key))
    try {
      await tx.insert(idempotencyKeys).values({
        userId: scope.userId,
        idemKey: scope.key,
        requestHash: scope.requestHash,
        responseStatus: 0,
        responseBody: {},
        createdAt: scope.now,
      })
    } catch (err) {
      if (mysqlErrno(err) !== DUPLICATE_KEY) throw err
      const [stored] = await tx.select().from(idempotencyKeys).where(where)
      if (!stored) throw err
      const expired = stored.createdAt.getTime() < scope.now.getTime() - IDEMPOTENCY_TTL_MS
      if (!expired) {
        if (stored.requestHash !== scope.requestHash) {
          throw new AppError(
            'IDEMPOTENCY_KEY_REUSED',
            'this Idempotency-Key was used with a different request',
            {
              field: 'Idempotency-Key',
            },
          )
        }
        return { status: stored.responseStatus, body: stored.responseBody, replayed: true }
      }
      await tx
        .update(idempotencyKeys)
        .set({ requestHash: scope.requestHash, createdAt: scope.now })
        .where(where)
    }
    const result = await work(tx)
    await tx
      .update(idempotencyKeys)
      .set({ responseStatus: result.status, responseBody: result.body })
      .where(where)
    return { ...result, replayed: false }
  })
}

export async function purgeExpiredIdempotencyKeys(db: Db, now: Date): Promise<number> {
  const [res] = await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, new Date(now.getTime() - IDEMPOTENCY_TTL_MS)))
    .limit(1000)
  return res.affectedRows
}
