/** Users, their roles and their profile. Roles are derived from the database on every request, so
 * an approval, a suspension or a staff removal takes effect at once, whatever a token says. */
import { and, eq, isNull, sql } from 'drizzle-orm'
import { merchantStaff, merchants, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { Role } from '../../shared/schemas.ts'
import { type Db, type Numeric, selectRows, type Tx } from '../db/client.ts'
import { ensureAccount, userAccount } from './ledger.ts'

export interface Identity {
  userId: number
  openid: string
  nickname: string
  avatarUrl: string
  roles: Role[]
  merchantId: number | null
  /** Set only while the merchant is approved (ACTIVE or SUSPENDED). */
  merchantRole: 'merchant_owner' | 'merchant_staff' | null
  /** The status of that merchant while merchantRole is set: writes need ACTIVE (API.md §16). */
  merchantStatus: string | null
  /** Frozen by an admin (API.md §14): reads only. */
  frozen: boolean
}

const APPROVED = new Set(['ACTIVE', 'SUSPENDED'])

export async function identityOf(
  db: Db,
  userId: number,
  adminOpenids: readonly string[],
): Promise<Identity | null> {
  const [row] = await db
    .select({
      id: users.id,
      openid: users.openid,
      nickname: users.nickname,
      avatarUrl: users.avatarUrl,
      frozenAt: users.frozenAt,
      ownedId: merchants.id,
      ownedStatus: merchants.status,
      staffOf: merchantStaff.merchantId,
      staffMerchantStatus: sql<
        string | null
      >`(SELECT status FROM merchants sm WHERE sm.id = ${merchantStaff.merchantId})`,
    })
    .from(users)
    .leftJoin(merchants, eq(merchants.ownerUserId, users.id))
    .leftJoin(merchantStaff, eq(merchantStaff.userId, users.id))
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
  if (!row) return null
  const roles: Role[] = ['user']
  let merchantRole: Identity['merchantRole'] = null
  if (row.ownedId !== null && APPROVED.has(row.ownedStatus ?? '')) merchantRole = 'merchant_owner'
  else if (row.staffOf !== null && APPROVED.has(row.staffMerchantStatus ?? ''))
    merchantRole = 'merchant_staff'
  if (merchantRole) roles.push(merchantRole)
  if (adminOpenids.includes(row.openid)) roles.push('admin')
  const merchantStatus =
    merchantRole === 'merchant_owner'
      ? row.ownedStatus
      : merchantRole === 'merchant_staff'
        ? row.staffMerchantStatus
        : null
  return {
    userId: row.id,
    openid: row.openid,
    nickname: row.nickname,
    avatarUrl: row.avatarUrl,
    roles,
    merchantId: row.ownedId ?? row.staffOf ?? null,
    merchantRole,
    merchantStatus,
    frozen: row.frozenAt !== null,
  }
}

/** Upserts the user behind a WeChat openid and makes sure their points account exists. */
export async function upsertUserByOpenid(
  db: Db,
  who: { openid: string; unionid?: string | null },
  now: Date,
): Promise<number> {
  await db
    .insert(users)
    .values({ openid: who.openid, unionid: who.unionid ?? null, createdAt: now, updatedAt: now })
    .onDuplicateKeyUpdate({ set: { unionid: sql`COALESCE(VALUES(unionid), unionid)` } })
  const [row] = await db.select({ id: users.id }).from(users).where(eq(users.openid, who.openid))
  if (!row) throw new Error('user upsert returned no row')
  await ensureAccount(db, userAccount(row.id), now)
  return row.id
}

export async function updateProfile(
  db: Db,
  userId: number,
  patch: { nickname?: string; avatarUrl?: string },
  now: Date,
): Promise<void> {
  if (patch.nickname === undefined && patch.avatarUrl === undefined) return
  await db
    .update(users)
    .set({ ...patch, updatedAt: now })
    .where(eq(users.id, userId))
}

/**
 * Takes the user's row lock for the rest of the transaction: the one per-user lock under which
 * staff membership and merchant ownership change, so "owns or serves at most one merchant" holds
 * under concurrent invitations, answers and applications.
 */
export async function lockUser(tx: Tx, userId: number): Promise<void> {
  const [row] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update')
  if (!row) throw new AppError('NOT_FOUND', 'user not found', { field: 'userId' })
}

/** A deleted account is not a user any more: nothing may be granted or adjusted to it. */
export async function requireUserExists(db: Db, userId: number): Promise<void> {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
  if (!row) throw new AppError('NOT_FOUND', 'user not found', { field: 'userId' })
}

/**
 * Share-locks the user's row until commit. Deleting an account takes that row's exclusive lock
 * before it forfeits the balance, so a credit made under this lock either commits first (and is
 * forfeited with the rest) or waits and then finds the account deleted: nothing is ever credited
 * to a deleted account after its forfeit.
 */
async function shareLockUser(tx: Tx, userId: number) {
  // LOCK IN SHARE MODE, not FOR SHARE: MariaDB 10.11 knows only the former, MySQL 8 both.
  const [row] = await selectRows<{ frozen: Numeric; deleted: Numeric }>(
    tx,
    sql`SELECT frozen_at IS NOT NULL AS frozen, deleted_at IS NOT NULL AS deleted
        FROM users WHERE id = ${userId} LOCK IN SHARE MODE`,
  )
  return row && { frozen: Number(row.frozen) === 1, deleted: Number(row.deleted) === 1 }
}

/** Whether the account was deleted, share-locking the user row so a deletion cannot commit meanwhile. */
export async function isClosedAccount(tx: Tx, userId: number): Promise<boolean> {
  return (await shareLockUser(tx, userId))?.deleted ?? false
}

/** For points credited to someone else (grants, adjustments): a deleted account is 404. */
export async function lockLiveUser(tx: Tx, userId: number): Promise<void> {
  const row = await shareLockUser(tx, userId)
  if (!row || row.deleted) throw new AppError('NOT_FOUND', 'user not found', { field: 'userId' })
}

/**
 * For the caller's own writes that move points (gifts, claims): the middleware already refused a
 * frozen or deleted caller; this repeats the check under the lock, for a freeze or deletion that
 * committed since.
 */
export async function lockActingUser(tx: Tx, userId: number): Promise<void> {
  const row = await shareLockUser(tx, userId)
  if (!row || row.deleted) throw new AppError('UNAUTHENTICATED', 'this account was deleted')
  if (row.frozen) throw new AppError('ACCOUNT_FROZEN', 'this account is frozen: it may read but not write')
}

export function meView(identity: Identity) {
  return {
    id: String(identity.userId),
    nickname: identity.nickname,
    avatarUrl: identity.avatarUrl,
    roles: identity.roles,
    merchantId: identity.merchantId === null ? null : String(identity.merchantId),
  }
}
