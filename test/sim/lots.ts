/**
 * The lot rules of API.md §14 the model's balances cannot see, read from the stack's database at
 * each checkpoint: no EXPIRE before its lot's expiry; no lot left open more than 2 job intervals
 * (plus a loaded machine's allowance) past its expiry; a received gift never expires later than the
 * sender's points it came from. Σ open lots = max(0, balance) and the lots' bookkeeping are the
 * ledger invariants' (checkLedgerInvariants), which run at every checkpoint too.
 */
import { sql } from 'drizzle-orm'
import type { Stack } from '../harness/stack.ts'

/**
 * What a job run may take beyond the contract's bound here. The simulation runs three stacks at
 * once beside the rest of the suite on 2 cores, so this only checks that lots do get expired;
 * test/points-expiry.test.ts checks the 2-interval bound itself on a stack of its own.
 */
const LOAD_ALLOWANCE_MS = 10_000

const count = async (stack: Stack, query: ReturnType<typeof sql>) => {
  const [rows] = await stack.db.primary.execute(query)
  return Number((rows as unknown as Array<{ n: number }>)[0]?.n ?? 0)
}

export async function checkLotRules(
  stack: Stack,
  jobIntervalMs: number,
  readStartMs: number,
): Promise<string[]> {
  const problems: string[] = []
  const early = await count(
    stack,
    sql`SELECT COUNT(*) AS n FROM transfers t JOIN point_lots l ON l.id = CAST(t.ref_id AS UNSIGNED)
        WHERE t.kind = 'EXPIRE' AND (l.expires_at IS NULL OR t.created_at < l.expires_at)`,
  )
  if (early) problems.push(`${early} EXPIRE records before their lot expired`)
  const overdue = new Date(readStartMs - 2 * jobIntervalMs - LOAD_ALLOWANCE_MS)
  const late = await count(stack, sql`SELECT COUNT(*) AS n FROM point_lots WHERE open_until < ${overdue}`)
  if (late) problems.push(`${late} lots still open 2 job intervals after they expired`)
  // A GIFT_RECEIVE's lots against the lots its GIFT_SEND took: never a later expiry.
  const extended = await count(
    stack,
    sql`SELECT COUNT(*) AS n FROM point_lots r
        JOIN transfers recv ON recv.id = r.source_transfer_id AND recv.kind = 'GIFT_RECEIVE'
        JOIN transfers send ON send.business_key = CONCAT('GIFT_SEND:', recv.ref_id)
        WHERE r.expires_at > (SELECT MAX(l.expires_at) FROM transfer_lots tl JOIN point_lots l ON l.id = tl.lot_id
                              WHERE tl.transfer_id = send.id)`,
  )
  if (extended) problems.push(`${extended} received-gift lots expire later than the sender's points`)
  return problems
}

/** Open lots that will still expire: the simulation settles until there are none. */
export function expiringLots(stack: Stack): Promise<number> {
  return count(stack, sql`SELECT COUNT(*) AS n FROM point_lots WHERE open_until < '9999-01-01'`)
}
