/**
 * The transactional outbox (API.md §15). Producers call an enqueue function inside the transaction
 * that makes the change, so the message exists exactly when the change does; the `send_outbox` job
 * delivers due messages, each claimed first so two instances never send one together. Network
 * errors, 5xx and errcode -1 are retried with backoff; 43101 (the user has not subscribed) is a
 * final, normal answer; any other errcode is final too, with WeChat's errmsg kept.
 */
import { and, eq, inArray, lte, sql } from 'drizzle-orm'
import { outbox, users } from '../../db/schema.ts'
import { type Database, formatStatement, type Tx, writeRows } from '../db/client.ts'
import { retryDelayMs } from '../jobs/backoff.ts'
import type { Logger } from '../obs/logger.ts'
import type { ServiceMetrics } from '../obs/metrics.ts'
import { WechatApiError } from '../wechat/errors.ts'
import type { WechatMiniClient } from '../wechat/mini-client.ts'

export const SUBSCRIBE_TOPIC = 'wechat.subscribe'
const SUBSCRIBE_SEND_PATH = '/cgi-bin/message/subscribe/send'
/** "user refuse to accept the msg": the user has not subscribed to this template. */
const NOT_SUBSCRIBED = 43101
const BATCH = 50
const CLAIM_MS = 60_000
const MAX_ERROR = 255
/** The mini-program page a message opens. */
const POINTS_PAGE = 'pages/points/index'

export interface OutboxDeps {
  db: Database
  mini: WechatMiniClient
  metrics: ServiceMetrics
  log: Logger
  config: { JOB_INTERVAL_MS: number }
}

export interface SubscribeMessage {
  touser: string
  template_id: string
  page: string
  data: Record<string, { value: string }>
}

/** 'thing' values are at most 20 characters. */
const thing = (text: string) => ({
  value: Array.from(text || '-')
    .slice(0, 20)
    .join(''),
})
const beijingMinute = (at: Date) =>
  new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ')

interface Outgoing {
  dedupeKey: string
  userId: number
  message: Omit<SubscribeMessage, 'touser'>
  at: Date
}

/** One INSERT for the messages whose user is still there (a message to a user who is gone is dropped). */
function insertStatement(outgoing: Outgoing[], openidOf: Map<number, string>): string | undefined {
  const rows = outgoing.flatMap((o) => {
    const touser = openidOf.get(o.userId)
    if (touser === undefined) return []
    const payload: SubscribeMessage = { touser, ...o.message }
    return [[SUBSCRIBE_TOPIC, o.dedupeKey, JSON.stringify(payload), 'PENDING', 0, o.at, o.at]]
  })
  if (rows.length === 0) return undefined
  // The business key makes a re-run of the producing step one message, not two.
  return formatStatement(
    `INSERT IGNORE INTO outbox (topic, dedupe_key, payload, status, attempts, next_attempt_at, created_at)
     VALUES ?`,
    [rows],
  )
}

async function enqueueMany(tx: Tx, outgoing: Outgoing[]) {
  if (outgoing.length === 0) return
  const found = await tx
    .select({ id: users.id, openid: users.openid })
    .from(users)
    .where(inArray(users.id, [...new Set(outgoing.map((o) => o.userId))]))
  const statement = insertStatement(outgoing, new Map(found.map((u) => [u.id, u.openid])))
  if (statement) await writeRows(tx, sql.raw(statement))
}

const enqueue = (
  tx: Tx,
  dedupeKey: string,
  userId: number,
  message: Omit<SubscribeMessage, 'touser'>,
  at: Date,
) => enqueueMany(tx, [{ dedupeKey, userId, message, at }])

export interface PointsEarned {
  orderId: number
  userId: number
  merchantName: string
  points: number
  at: Date
}

const pointsEarned = (templateId: string, input: PointsEarned): Outgoing => ({
  dedupeKey: `points_earned:${input.orderId}`,
  userId: input.userId,
  message: {
    template_id: templateId,
    page: POINTS_PAGE,
    data: {
      thing1: thing(input.merchantName),
      number2: { value: String(input.points) },
      time3: { value: beijingMinute(input.at) },
    },
  },
  at: input.at,
})

/** Points earned for paid orders, to each payer (template: thing1 shop, number2 points, time3 when). */
export function enqueuePointsEarned(tx: Tx, templateId: string | undefined, earned: PointsEarned[]) {
  if (!templateId) return Promise.resolve()
  return enqueueMany(
    tx,
    earned.map((e) => pointsEarned(templateId, e)),
  )
}

/** `enqueuePointsEarned` as one statement for the payment batch, which read the payers' openids. */
export const pointsEarnedStatement = (
  templateId: string,
  earned: PointsEarned[],
  openidOf: Map<number, string>,
) =>
  insertStatement(
    earned.map((e) => pointsEarned(templateId, e)),
    openidOf,
  )

/** A gift claimed, to its sender (template: thing1 who, number2 points, time3 when). */
export function enqueueGiftClaimed(
  tx: Tx,
  templateId: string | undefined,
  input: { giftId: number; senderUserId: number; claimerNickname: string; points: number; at: Date },
) {
  if (!templateId) return Promise.resolve()
  return enqueue(
    tx,
    `gift_claimed:${input.giftId}`,
    input.senderUserId,
    {
      template_id: templateId,
      page: POINTS_PAGE,
      data: {
        thing1: thing(input.claimerNickname || '好友'),
        number2: { value: String(input.points) },
        time3: { value: beijingMinute(input.at) },
      },
    },
    input.at,
  )
}

/** A lot's points expire soon, to its owner, once per lot (template: thing1 note, number2 points, time3 expiry). */
export function enqueuePointsExpiring(
  tx: Tx,
  templateId: string,
  input: { lotId: number; userId: number; points: number; expiresAt: Date; at: Date },
) {
  return enqueue(
    tx,
    `points_expiring:${input.lotId}`,
    input.userId,
    {
      template_id: templateId,
      page: POINTS_PAGE,
      data: {
        thing1: thing('积分即将过期'),
        number2: { value: String(input.points) },
        time3: { value: beijingMinute(input.expiresAt) },
      },
    },
    input.at,
  )
}

function retryable(err: unknown): boolean {
  if (!(err instanceof WechatApiError)) return true
  return err.kind === 'UNAVAILABLE' || err.kind === 'BAD_RESPONSE' || err.errcode === -1
}

async function sendOne(deps: OutboxDeps, row: typeof outbox.$inferSelect): Promise<boolean> {
  const attempts = row.attempts + 1
  const finish = (set: Partial<typeof outbox.$inferInsert>) =>
    deps.db.primary
      .update(outbox)
      .set({ attempts, ...set })
      .where(and(eq(outbox.id, row.id), eq(outbox.status, 'PENDING')))
  try {
    await deps.mini.postWithToken(SUBSCRIBE_SEND_PATH, row.payload)
  } catch (err) {
    const message = (err as Error).message.slice(0, MAX_ERROR)
    if (err instanceof WechatApiError && err.errcode === NOT_SUBSCRIBED) {
      await finish({ status: 'REFUSED', lastError: message })
      deps.metrics.outboxMessages.inc({ outcome: 'refused' })
      return false
    }
    if (retryable(err)) {
      const nextAttemptAt = new Date(Date.now() + retryDelayMs(attempts, deps.config.JOB_INTERVAL_MS))
      await finish({ nextAttemptAt, lastError: message })
      deps.metrics.outboxMessages.inc({ outcome: 'retry' })
      return false
    }
    await finish({ status: 'FAILED', lastError: message })
    deps.metrics.outboxMessages.inc({ outcome: 'failed' })
    deps.log.error('WeChat refused an outbox message', { id: row.id, error: message })
    return false
  }
  await finish({ status: 'SENT', sentAt: new Date(), lastError: null })
  deps.metrics.outboxMessages.inc({ outcome: 'sent' })
  return true
}

/** The job: delivers due messages, oldest first. */
export async function sendDueOutbox(deps: OutboxDeps, now: Date): Promise<number> {
  const due = await deps.db.primary
    .select({ id: outbox.id })
    .from(outbox)
    .where(and(eq(outbox.status, 'PENDING'), lte(outbox.nextAttemptAt, now)))
    .orderBy(outbox.nextAttemptAt)
    .limit(BATCH)
  let sent = 0
  for (const { id } of due) {
    const [claim] = await deps.db.primary
      .update(outbox)
      .set({ nextAttemptAt: new Date(now.getTime() + CLAIM_MS) })
      .where(and(eq(outbox.id, id), eq(outbox.status, 'PENDING'), lte(outbox.nextAttemptAt, now)))
    if (claim.affectedRows !== 1) continue
    const [row] = await deps.db.primary.select().from(outbox).where(eq(outbox.id, id))
    if (row?.topic === SUBSCRIBE_TOPIC && (await sendOne(deps, row))) sent++
  }
  return sent
}
