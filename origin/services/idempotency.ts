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

export type IdempotencyScope = { userId: number; key: string; requestHash: string; now: Date }

/**
 * The key's state as seen inside the caller's transaction: `new` (this transaction now owns the
 * key's row lock), `done` (replay the stored answer) or `pending` (a first attempt recorded its
 * resource and then died or is still talking to WeChat; the caller may finish it).
 */
type IdempotencyClaim =
  | { state: 'new' }
  | { state: 'done'; response: StoredResponse }
  | { state: 'pending'; resource: unknown }

const PENDING_STATUS = 0

const whereKey = (scope: IdempotencyScope) =>
  and(eq(idempotencyKeys.userId, scope.userId), eq(idempotencyKeys.idemKey, scope.key))

async function claimIdempotencyKey(
  tx: Tx,
  scope: IdempotencyScope,
  pendingResource: unknown = {},
): Promise<IdempotencyClaim> {
  try {
    await tx.insert(idempotencyKeys).values({
      userId: scope.userId,
      idemKey: scope.key,
      requestHash: scope.requestHash,
      responseStatus: PENDING_STATUS,
      responseBody: pendingResource,
      createdAt: scope.now,
    })
    return { state: 'new' }
  } catch (err) {
    if (mysqlErrno(err) !== DUPLICATE_KEY) throw err
  }
  const [stored] = await tx.select().from(idempotencyKeys).where(whereKey(scope))
  if (!stored) throw new Error('idempotency key vanished after a duplicate-key error')
  if (stored.createdAt.getTime() < scope.now.getTime() - IDEMPOTENCY_TTL_MS) {
    await tx
      .update(idempotencyKeys)
      .set({
        requestHash: scope.requestHash,
        createdAt: scope.now,
        responseStatus: PENDING_STATUS,
        responseBody: pendingResource,
      })
      .where(whereKey(scope))
    return { state: 'new' }
  }
  if (stored.requestHash !== scope.requestHash) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request', {
      field: 'Idempotency-Key',
    })
  }
  if (stored.responseStatus === PENDING_STATUS) return { state: 'pending', resource: stored.responseBody }
  return { state: 'done', response: { status: stored.responseStatus, body: stored.responseBody } }
}

/** Names the resource a `new` claim created, so a retry that finds the key pending can finish it. */
async function recordPendingResource(tx: Tx, scope: IdempotencyScope, resource: unknown): Promise<void> {
  await tx
    .update(idempotencyKeys)
    .set({ responseBody: resource })
    .where(and(whereKey(scope), eq(idempotencyKeys.responseStatus, PENDING_STATUS)))
}

/** Records the answer unless another attempt recorded one first; returns the answer that stands. */
async function finishIdempotencyKey(
  tx: Tx,
  scope: IdempotencyScope,
  response: StoredResponse,
): Promise<StoredResponse> {
  const [res] = await tx
    .update(idempotencyKeys)
    .set({ responseStatus: response.status, responseBody: response.body })
    .where(and(whereKey(scope), eq(idempotencyKeys.responseStatus, PENDING_STATUS)))
  if (res.affectedRows === 1) return response
  const [stored] = await tx.select().from(idempotencyKeys).where(whereKey(scope))
  return { status: stored!.responseStatus, body: stored!.responseBody }
}

/**
 * The first half of an [idem] write that calls WeChat between two transactions (orders, refunds):
 * creates the resource and names it on the key in one transaction, or finds the resource a
 * previous attempt created (`pending`), or returns the recorded answer (`replay`).
 */
export async function createOnce(
  db: Db,
  scope: IdempotencyScope | undefined,
  create: (tx: Tx) => Promise<number>,
): Promise<{ replay: StoredResponse } | { resourceId: number }> {
  return runTx(db, async (tx) => {
    if (scope) {
      const claim = await claimIdempotencyKey(tx, scope)
      if (claim.state === 'done') return { replay: claim.response }
      if (claim.state === 'pending') {
        const resourceId = Number((claim.resource as { resourceId?: string }).resourceId)
        if (Number.isSafeInteger(resourceId) && resourceId > 0) return { resourceId }
      }
    }
    const resourceId = await create(tx)
    if (scope) await recordPendingResource(tx, scope, { resourceId: String(resourceId) })
    return { resourceId }
  })
}

/** The second half: records the answer on the key, or returns the one another attempt recorded. */
export async function finishOnce(
  db: Db,
  scope: IdempotencyScope | undefined,
  response: StoredResponse,
): Promise<StoredResponse & { replayed: boolean }> {
  if (!scope) return { ...response, replayed: false }
  const stored = await runTx(db, (tx) => finishIdempotencyKey(tx, scope, response))
  return { ...stored, replayed: stored !== response }
}

/** For writes that only touch the database: key, effect and answer commit together. */
export async function withIdempotency(
  db: Db,
  scope: IdempotencyScope,
  work: (tx: Tx) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  return runTx(db, async (tx) => {
    const claim = await claimIdempotencyKey(tx, scope)
    if (claim.state === 'done') return { ...claim.response, replayed: true }
    const result = await work(tx)
    await finishIdempotencyKey(tx, scope, result)
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
