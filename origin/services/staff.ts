/**
 * Staff by consent (API.md §16). An owner invites; only the invitee's accept makes them staff. A
 * pending invitation blocks nothing: the invitee may still apply for a merchant or accept another.
 *
 * Rules:
 * - Invite: the user must exist (404); may not own or have applied for a merchant, nor already be
 *   staff anywhere, nor already hold a PENDING invitation from this merchant (409 INVALID_STATE).
 * - Accept: only the invitee (anyone else: 404); PENDING only (409); the invitee must still own no
 *   merchant and serve none (409); the merchant must be ACTIVE (422, the invitation stays PENDING).
 * - Decline: only the invitee (404); PENDING only (409).
 * - Remove: the owner removes a staff member or withdraws a pending invitation; a staff member may
 *   remove themself (leaving), which needs no ACTIVE merchant.
 * Membership changes under the user's row lock (users.lockUser), the same lock a merchant
 * application takes, so concurrent answers and applications cannot make anyone serve twice.
 */
import { and, desc, eq, lt } from 'drizzle-orm'
import { merchantStaff, merchants, staffInvitations } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { INVITATION_STATUSES, ListQuery } from '../../shared/schemas.ts'
import { type Db, runTx, type Tx } from '../db/client.ts'
import { recordAudit } from './audit.ts'
import { lockActiveMerchant, pageOf } from './merchants.ts'
import { lockUser } from './users.ts'

type InvitationStatus = (typeof INVITATION_STATUSES)[number]
const STAFF_ROLE = 'merchant_staff' as const

interface InvitationRow {
  id: number
  merchantId: number
  merchantName: string
  status: InvitationStatus
  createdAt: Date
  respondedAt: Date | null
}

export const invitationView = (r: InvitationRow) => ({
  id: String(r.id),
  merchantId: String(r.merchantId),
  merchantName: r.merchantName,
  role: STAFF_ROLE,
  status: r.status,
  createdAt: r.createdAt.toISOString(),
  respondedAt: r.respondedAt?.toISOString() ?? null,
})

const invitationColumns = {
  id: staffInvitations.id,
  merchantId: staffInvitations.merchantId,
  merchantName: merchants.name,
  userId: staffInvitations.userId,
  status: staffInvitations.status,
  createdAt: staffInvitations.createdAt,
  respondedAt: staffInvitations.respondedAt,
}

async function servesOrOwns(tx: Tx, userId: number): Promise<string | null> {
  const [owns] = await tx
    .select({ id: merchants.id })
    .from(merchants)
    .where(eq(merchants.ownerUserId, userId))
  if (owns) return 'that user owns or applied for a merchant'
  const [serves] = await tx
    .select({ merchantId: merchantStaff.merchantId })
    .from(merchantStaff)
    .where(eq(merchantStaff.userId, userId))
  if (serves) return 'that user is already staff of a merchant'
  return null
}

export async function inviteStaff(
  db: Db,
  owner: { userId: number; merchantId: number },
  userId: number,
  now: Date,
) {
  return runTx(db, async (tx) => {
    await lockActiveMerchant(tx, owner.merchantId)
    await lockUser(tx, userId)
    const taken = await servesOrOwns(tx, userId)
    if (taken) throw new AppError('INVALID_STATE', taken, { field: 'userId' })
    const [pending] = await tx
      .select({ id: staffInvitations.id })
      .from(staffInvitations)
      .where(
        and(
          eq(staffInvitations.merchantId, owner.merchantId),
          eq(staffInvitations.userId, userId),
          eq(staffInvitations.status, 'PENDING'),
        ),
      )
    if (pending) {
      throw new AppError('INVALID_STATE', 'that user already has a pending invitation from you', {
        field: 'userId',
        invitationId: String(pending.id),
      })
    }
    const [res] = await tx.insert(staffInvitations).values({
      merchantId: owner.merchantId,
      userId,
      invitedByUserId: owner.userId,
      role: STAFF_ROLE,
      status: 'PENDING',
      createdAt: now,
    })
    await recordAudit(
      tx,
      {
        actorUserId: owner.userId,
        actorRole: 'merchant_owner',
        action: 'staff.invite',
        targetType: 'user',
        targetId: userId,
        details: { merchantId: String(owner.merchantId), invitationId: String(res.insertId) },
      },
      now,
    )
    return {
      invitationId: String(res.insertId),
      status: 'PENDING' as const,
      merchantId: String(owner.merchantId),
      userId: String(userId),
      role: STAFF_ROLE,
    }
  })
}

export async function listInvitations(db: Db, userId: number, q: ListQuery & { status?: InvitationStatus }) {
  const rows = await db
    .select(invitationColumns)
    .from(staffInvitations)
    .innerJoin(merchants, eq(merchants.id, staffInvitations.merchantId))
    .where(
      and(
        eq(staffInvitations.userId, userId),
        q.status ? eq(staffInvitations.status, q.status) : undefined,
        q.cursor ? lt(staffInvitations.id, Number(q.cursor)) : undefined,
      ),
    )
    .orderBy(desc(staffInvitations.id))
    .limit(q.limit + 1)
  return pageOf(rows, q.limit, (r) => r.id, invitationView)
}

export async function answerInvitation(
  db: Db,
  userId: number,
  invitationId: number,
  answer: 'accept' | 'decline',
  now: Date,
) {
  return runTx(db, async (tx) => {
    const find = () =>
      tx
        .select(invitationColumns)
        .from(staffInvitations)
        .innerJoin(merchants, eq(merchants.id, staffInvitations.merchantId))
        .where(eq(staffInvitations.id, invitationId))
    const [seen] = await find()
    // Someone else's invitation is answered like a missing one: ids are sequential.
    if (!seen || seen.userId !== userId) throw new AppError('NOT_FOUND', 'invitation not found')
    // Merchant before user, as inviting takes them, so the two never wait on each other in a circle.
    if (answer === 'accept') await lockActiveMerchant(tx, seen.merchantId)
    await lockUser(tx, userId)
    const [inv] = await find().for('update')
    if (inv!.status !== 'PENDING') {
      throw new AppError('INVALID_STATE', `the invitation is already ${inv!.status}`, { status: inv!.status })
    }
    if (answer === 'accept') {
      const taken = await servesOrOwns(tx, userId)
      if (taken) {
        throw new AppError('INVALID_STATE', 'you already own or serve a merchant; leave it first')
      }
      await tx.insert(merchantStaff).values({ userId, merchantId: inv!.merchantId, createdAt: now })
    }
    const status = answer === 'accept' ? 'ACCEPTED' : 'DECLINED'
    await tx
      .update(staffInvitations)
      .set({ status, respondedAt: now })
      .where(eq(staffInvitations.id, invitationId))
    return invitationView({ ...inv!, status, respondedAt: now })
  })
}

/**
 * The owner removes a staff member or withdraws their pending invitations; a staff member may
 * remove only themself. Anyone else, or nothing to remove: 404 (no hint who serves where).
 */
export async function removeStaff(
  db: Db,
  caller: { userId: number; merchantId: number; role: 'merchant_owner' | 'merchant_staff' },
  userId: number,
  now: Date,
): Promise<void> {
  const leaving = caller.role === 'merchant_staff'
  if (leaving && userId !== caller.userId) {
    throw new AppError('FORBIDDEN', 'staff may remove only themselves')
  }
  await runTx(db, async (tx) => {
    if (!leaving) await lockActiveMerchant(tx, caller.merchantId)
    const [removed] = await tx
      .delete(merchantStaff)
      .where(and(eq(merchantStaff.userId, userId), eq(merchantStaff.merchantId, caller.merchantId)))
    const [withdrawn] = leaving
      ? [{ affectedRows: 0 }]
      : await tx
          .update(staffInvitations)
          .set({ status: 'CANCELLED', respondedAt: now })
          .where(
            and(
              eq(staffInvitations.merchantId, caller.merchantId),
              eq(staffInvitations.userId, userId),
              eq(staffInvitations.status, 'PENDING'),
            ),
          )
    if (removed.affectedRows === 0 && withdrawn.affectedRows === 0) {
      throw new AppError('NOT_FOUND', 'no such staff member or pending invitation', { field: 'userId' })
    }
    await recordAudit(
      tx,
      {
        actorUserId: caller.userId,
        actorRole: caller.role,
        action: leaving ? 'staff.leave' : 'staff.remove',
        targetType: 'user',
        targetId: userId,
        details: {
          merchantId: String(caller.merchantId),
          wasStaff: removed.affectedRows > 0,
          invitationsWithdrawn: withdrawn.affectedRows,
        },
      },
      now,
    )
  })
}
