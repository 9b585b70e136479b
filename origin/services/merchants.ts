/** Merchant applications, review, profile, rule and staff. */
import { and, desc, eq, lt } from 'drizzle-orm'
import { merchantStaff, merchants } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { MERCHANT_STATUSES } from '../../shared/schemas.ts'
import { DEFAULT_RULE, type ListQuery, type Rule } from '../../shared/schemas.ts'
import { type Db, DUPLICATE_KEY, mysqlErrno, runTx, type Tx } from '../db/client.ts'
import { type FieldCipher, maskPhone } from '../security/field-cipher.ts'
import { recordAudit } from './audit.ts'
import { ensureAccount, merchantIssuance } from './ledger.ts'
import { lockUser } from './users.ts'

export type MerchantRow = typeof merchants.$inferSelect
export type MerchantStatus = (typeof MERCHANT_STATUSES)[number]

export const ruleOf = (m: MerchantRow): Rule => ({
  earnPoints: m.earnPoints,
  perFen: m.perFen,
  minOrderFen: m.minOrderFen,
  maxPointsPerOrder: m.maxPointsPerOrder,
  dailyCapPerUser: m.dailyCapPerUser,
  redeemFenPerPoint: m.redeemFenPerPoint,
  redeemMaxPercent: m.redeemMaxPercent,
})

export const publicMerchantView = (m: MerchantRow) => ({
  id: String(m.id),
  name: m.name,
  description: m.description,
  logoUrl: m.logoUrl,
  status: m.status,
  rule: ruleOf(m),
})

/** The console view. The contact phone is stored encrypted and shown in full only to the owner. */
export const merchantView = (m: MerchantRow, phones: FieldCipher, viewer: 'owner' | 'other') => ({
  ...publicMerchantView(m),
  ownerUserId: String(m.ownerUserId),
  subMchid: m.subMchid,
  contactPhone:
    viewer === 'owner' ? phones.decrypt(m.contactPhone) : maskPhone(phones.decrypt(m.contactPhone)),
  createdAt: m.createdAt.toISOString(),
  updatedAt: m.updatedAt.toISOString(),
})

export async function findMerchant(db: Db | Tx, merchantId: number): Promise<MerchantRow | null> {
  const [row] = await db.select().from(merchants).where(eq(merchants.id, merchantId))
  return row ?? null
}

/**
 * Locks the merchant's row for the rest of the transaction and requires it ACTIVE: a suspension
 * waits for the write in flight or that write sees it, never both half-way (API.md §16). FOR UPDATE
 * rather than a shared lock, which TiDB does not take; the writes it guards are short.
 */
export async function lockActiveMerchant(tx: Tx, merchantId: number): Promise<MerchantRow> {
  const [m] = await tx.select().from(merchants).where(eq(merchants.id, merchantId)).for('update')
  if (!m) throw new AppError('NOT_FOUND', 'merchant not found')
  if (m.status !== 'ACTIVE') {
    throw new AppError('MERCHANT_NOT_ACTIVE', `merchant is ${m.status}`, { status: m.status })
  }
  return m
}

export async function getActiveMerchant(db: Db, merchantId: number): Promise<MerchantRow> {
  const m = await findMerchant(db, merchantId)
  if (m?.status !== 'ACTIVE') throw new AppError('NOT_FOUND', 'merchant not found')
  return m
}

/** One application per user; a rejected applicant may apply again, which reopens the review. */
export async function applyForMerchant(
  db: Db,
  phones: FieldCipher,
  userId: number,
  input: { name: string; description?: string; contactPhone: string },
  now: Date,
): Promise<MerchantRow> {
  return runTx(db, async (tx) => {
    // The same per-user lock as accepting a staff invitation: one of the two sees the other.
    await lockUser(tx, userId)
    const [staff] = await tx.select().from(merchantStaff).where(eq(merchantStaff.userId, userId))
    if (staff) throw new AppError('INVALID_STATE', 'staff of a merchant cannot apply for another')
    const [existing] = await tx
      .select()
      .from(merchants)
      .where(eq(merchants.ownerUserId, userId))
      .for('update')
    const fields = {
      name: input.name,
      description: input.description ?? '',
      contactPhone: phones.encrypt(input.contactPhone),
      status: 'PENDING_REVIEW' as const,
      updatedAt: now,
    }
    if (existing) {
      if (existing.status !== 'REJECTED') {
        throw new AppError('INVALID_STATE', `you already have a merchant (${existing.status})`, {
          merchantId: String(existing.id),
        })
      }
      await tx.update(merchants).set(fields).where(eq(merchants.id, existing.id))
      return (await findMerchant(tx, existing.id))!
    }
    try {
      const [res] = await tx.insert(merchants).values({
        ...fields,
        ownerUserId: userId,
        logoUrl: '',
        ...DEFAULT_RULE,
        createdAt: now,
      })
      return (await findMerchant(tx, res.insertId))!
    } catch (err) {
      if (mysqlErrno(err) === DUPLICATE_KEY)
        throw new AppError('INVALID_STATE', 'you already have a merchant')
      throw err
    }
  })
}

const REVIEW_TRANSITIONS: Record<
  'approve' | 'reject' | 'suspend',
  { from: MerchantStatus[]; to: MerchantStatus }
> = {
  approve: { from: ['PENDING_REVIEW', 'SUSPENDED'], to: 'ACTIVE' },
  reject: { from: ['PENDING_REVIEW'], to: 'REJECTED' },
  suspend: { from: ['ACTIVE'], to: 'SUSPENDED' },
}

/** A made-up sub-merchant id for local stacks, where the sandbox accepts any. */
const devSubMchid = (merchantId: number) => String(1_900_000_000 + merchantId)

export async function reviewMerchant(
  db: Db,
  adminUserId: number,
  merchantId: number,
  action: keyof typeof REVIEW_TRANSITIONS,
  now: Date,
  opts: { assignDevSubMchid?: boolean } = {},
): Promise<MerchantRow> {
  const rule = REVIEW_TRANSITIONS[action]
  return runTx(db, async (tx) => {
    const [m] = await tx.select().from(merchants).where(eq(merchants.id, merchantId)).for('update')
    if (!m) throw new AppError('NOT_FOUND', 'merchant not found')
    if (!rule.from.includes(m.status)) {
      throw new AppError('INVALID_STATE', `cannot ${action} a merchant that is ${m.status}`, {
        status: m.status,
      })
    }
    const subMchid =
      rule.to === 'ACTIVE' && opts.assignDevSubMchid && !m.subMchid ? devSubMchid(merchantId) : m.subMchid
    await tx
      .update(merchants)
      .set({ status: rule.to, subMchid, updatedAt: now })
      .where(eq(merchants.id, merchantId))
    if (rule.to === 'ACTIVE') await ensureAccount(tx, merchantIssuance(merchantId), now)
    await recordAudit(
      tx,
      {
        actorUserId: adminUserId,
        actorRole: 'admin',
        action: `merchant.${action}`,
        targetType: 'merchant',
        targetId: merchantId,
        details:
          subMchid === m.subMchid
            ? { from: m.status, to: rule.to }
            : { from: m.status, to: rule.to, subMchid, devSubMchid: true },
      },
      now,
    )
    return { ...m, status: rule.to, subMchid, updatedAt: now }
  })
}

/** PUT /api/admin/merchants/:id/payment: where partner-mode payments to this merchant go. */
export async function setMerchantPayment(
  db: Db,
  adminUserId: number,
  merchantId: number,
  subMchid: string,
  now: Date,
): Promise<MerchantRow> {
  return runTx(db, async (tx) => {
    const [m] = await tx.select().from(merchants).where(eq(merchants.id, merchantId)).for('update')
    if (!m) throw new AppError('NOT_FOUND', 'merchant not found')
    await tx.update(merchants).set({ subMchid, updatedAt: now }).where(eq(merchants.id, merchantId))
    await recordAudit(
      tx,
      {
        actorUserId: adminUserId,
        actorRole: 'admin',
        action: 'merchant.payment',
        targetType: 'merchant',
        targetId: merchantId,
        details: { from: m.subMchid, to: subMchid },
      },
      now,
    )
    return { ...m, subMchid, updatedAt: now }
  })
}

export async function listMerchants(db: Db, phones: FieldCipher, q: ListQuery & { status?: MerchantStatus }) {
  const conds = [
    q.status ? eq(merchants.status, q.status) : undefined,
    q.cursor ? lt(merchants.id, Number(q.cursor)) : undefined,
  ]
  const rows = await db
    .select()
    .from(merchants)
    .where(and(...conds))
    .orderBy(desc(merchants.id))
    .limit(q.limit + 1)
  return pageOf(
    rows,
    q.limit,
    (m) => m.id,
    (m) => merchantView(m, phones, 'other'),
  )
}

export function pageOf<R, V>(rows: R[], limit: number, idOf: (r: R) => number, view: (r: R) => V) {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items: items.map(view), nextCursor: rows.length > limit && last ? String(idOf(last)) : null }
}

export async function updateMerchantProfile(
  db: Db,
  ownerUserId: number,
  merchantId: number,
  patch: { name?: string; description?: string; logoUrl?: string },
  now: Date,
): Promise<MerchantRow> {
  return runTx(db, async (tx) => {
    await lockActiveMerchant(tx, merchantId)
    await tx
      .update(merchants)
      .set({ ...patch, updatedAt: now })
      .where(eq(merchants.id, merchantId))
    await recordAudit(
      tx,
      {
        actorUserId: ownerUserId,
        actorRole: 'merchant_owner',
        action: 'merchant.update',
        targetType: 'merchant',
        targetId: merchantId,
        details: patch,
      },
      now,
    )
    return (await findMerchant(tx, merchantId))!
  })
}

/** Orders snapshot the rule when they are created, so a change never alters an order in flight. */
export async function setMerchantRule(
  db: Db,
  ownerUserId: number,
  merchantId: number,
  rule: Rule,
  now: Date,
): Promise<MerchantRow> {
  return runTx(db, async (tx) => {
    const before = await lockActiveMerchant(tx, merchantId)
    await tx
      .update(merchants)
      .set({ ...rule, updatedAt: now })
      .where(eq(merchants.id, merchantId))
    await recordAudit(
      tx,
      {
        actorUserId: ownerUserId,
        actorRole: 'merchant_owner',
        action: 'merchant.rule',
        targetType: 'merchant',
        targetId: merchantId,
        details: { before: ruleOf(before), after: rule },
      },
      now,
    )
    return (await findMerchant(tx, merchantId))!
  })
}
