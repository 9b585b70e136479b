/** Audit trail of admin and merchant-owner writes (and staff leaving), written in the transaction of
 * the write itself. */
import { auditLog } from '../../db/schema.ts'
import type { Tx } from '../db/client.ts'

export interface AuditEvent {
  actorUserId: number
  actorRole: 'admin' | 'merchant_owner' | 'merchant_staff'
  action: string
  targetType: string
  targetId: string | number
  details?: Record<string, unknown>
}

export async function recordAudit(tx: Tx, event: AuditEvent, now: Date): Promise<void> {
  await tx.insert(auditLog).values({
    actorUserId: event.actorUserId,
    actorRole: event.actorRole,
    action: event.action,
    targetType: event.targetType,
    targetId: String(event.targetId),
    details: event.details ?? null,
    createdAt: now,
  })
}
