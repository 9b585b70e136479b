/**
 * The double-entry points ledger. Every movement is one transfer between two accounts with a
 * unique business key; entries are written in the caller's transaction together with the state
 * change that caused them.
 *
 * Locking: callers lock their business row (order, refund, gift) first; the ledger then locks the
 * USER accounts a transfer touches in ascending owner id. System accounts are never locked (their
 * balance is derived from entries), so no two transfers can wait on each other in a cycle. A USER
 * account's lots (lots.ts) are written only under that account's lock; the rows of transfer_lots
 * that a `lotsFrom` credit passes on are locked last.
 */
import { and, eq, sql } from 'drizzle-orm'
import { type AccountKind, accounts, type TransferKind } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import {
  type Db,
  DUPLICATE_KEY,
  formatStatement,
  mysqlErrno,
  type Numeric,
  selectRows,
  type Tx,
  writeRows,
} from '../db/client.ts'
import { formLots, freshLotOf, insertLotsStatement, NEVER, type NewLot, takeLots } from './lots.ts'

export const MAX_TRANSFER_POINTS = 1_000_000_000
export const EARNING_KINDS: readonly TransferKind[] = ['EARN', 'REFUND_CLAWBACK', 'MERCHANT_GRANT']

export type AccountRef = { kind: AccountKind; ownerId: number }

export const userAccount = (userId: number): AccountRef => ({ kind: 'USER', ownerId: userId })
export const merchantIssuance = (merchantId: number): AccountRef => ({
  kind: 'MERCHANT_ISSUANCE',
  ownerId: merchantId,
})
export const GIFT_ESCROW: AccountRef = { kind: 'GIFT_ESCROW', ownerId: 0 }
export const PLATFORM: AccountRef = { kind: 'PLATFORM', ownerId: 0 }

export interface TransferRequest {
  businessKey: string
  kind: TransferKind
  debit: AccountRef
  credit: AccountRef
  points: number
  merchantId?: number | null
  refId?: string | null
  /** Claw-backs may take a user below zero (API.md §3); everything else must be covered. */
  allowNegative?: boolean
  /**
   * For a credit to a USER account: take the lots from the earlier debit transfer with this
   * business key instead of forming a fresh lot. Same user as that debit: the lots it took are
   * restored (GIFT_RETURN, REDEEM_RETURN). Another user: new lots with the same expiries
   * (GIFT_RECEIVE), so gifting never extends a point's life. Earliest expiry first, never more
   * than that debit took and has not already passed on; may be called several times for parts of
   * it (group-gift shares, pro-rata refund returns). Without it, a USER credit first pays off any
   * debt (negative balance) and forms a new lot expiring POINTS_TTL_SECONDS after `now`.
   */
  lotsFrom?: string
  /** The expiry job's: the debit takes exactly this lot (all of what is left of it). */
  expireLot?: number
  now: Date
}

export type TransferResult =
  | { applied: true; transferId: number; userBalances: Map<number, number> }
  | { applied: false; transferId: number }

interface LockedUserAccount {
  id: number
  ownerId: number
  balance: number
  lastSeq: number
}

const systemAccountIds = new Map<string, number>()

function checkMovable(businessKey: string, points: number): void {
  if (!Number.isSafeInteger(points) || points <= 0 || points > MAX_TRANSFER_POINTS)
    throw new Error(`transfer ${businessKey}: points must be a positive integer, got ${points}`)
}

/** A system account's id if this process has seen it: such a row never changes once created. */
export const knownSystemAccount = (ref: AccountRef) => systemAccountIds.get(`${ref.kind}:${ref.ownerId}`)

export function rememberSystemAccount(ref: AccountRef, id: number): void {
  if (ref.kind !== 'USER') systemAccountIds.set(`${ref.kind}:${ref.ownerId}`, id)
}

/** Creates the account if it is missing; safe under concurrency (INSERT IGNORE on the unique key). */
export async function ensureAccount(db: Db | Tx, ref: AccountRef, now: Date): Promise<number> {
  const cacheKey = `${ref.kind}:${ref.ownerId}`
  const cached = ref.kind === 'USER' ? undefined : systemAccountIds.get(cacheKey)
  if (cached !== undefined) return cached
  const [created] = await db
    .insert(accounts)
    .ignore()
    .values({ kind: ref.kind, ownerId: ref.ownerId, createdAt: now })
  const [row] = await db
    .select({ id: accounts.id })
    .from(accounts)
    .where(and(eq(accounts.kind, ref.kind), eq(accounts.ownerId, ref.ownerId)))
  if (!row) throw new Error(`account ${cacheKey} could not be created`)
  // Remembered only once committed: a row this call inserted inside a transaction that then rolls
  // back never existed, and its id is never used again.
  if (created.affectedRows === 0) rememberSystemAccount(ref, row.id)
  return row.id
}

async function lockUserAccount(tx: Tx, ownerId: number): Promise<LockedUserAccount> {
  const [row] = await selectRows<Record<keyof LockedUserAccount, Numeric>>(
    tx,
    sql`SELECT id, owner_id AS ownerId, balance, last_seq AS lastSeq FROM accounts
        WHERE kind = 'USER' AND owner_id = ${ownerId} FOR UPDATE`,
  )
  if (!row) throw new AppError('NOT_FOUND', 'user not found', { field: 'userId' })
  // Numbers whatever the driver's big-number settings: a string here would turn `+` into concatenation.
  return {
    id: Number(row.id),
    ownerId: Number(row.ownerId),
    balance: Number(row.balance),
    lastSeq: Number(row.lastSeq),
  }
}

async function insertTransfer(tx: Tx, req: TransferRequest, debitId: number, creditId: number) {
  try {
    const res = await writeRows(
      tx,
      sql`INSERT INTO transfers
            (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)
          VALUES (${req.businessKey}, ${req.kind}, ${debitId}, ${creditId}, ${req.points},
                  ${req.merchantId ?? null}, ${req.refId ?? null}, ${req.now})`,
    )
    return { inserted: true as const, transferId: res.insertId }
  } catch (err) {
    if (mysqlErrno(err) !== DUPLICATE_KEY) throw err
    const [existing] = await selectRows<{ id: number }>(
      tx,
      sql`SELECT id FROM transfers WHERE business_key = ${req.businessKey}`,
    )
    return { inserted: false as const, transferId: Number(existing!.id) }
  }
}

/**
 * Applies a transfer exactly once per business key. A repeated key is not an error: it returns
 * `applied: false` with the original transfer id, so retried callbacks and jobs are harmless.
 */
export async function transfer(tx: Tx, req: TransferRequest): Promise<TransferResult> {
  checkMovable(req.businessKey, req.points)
  const userSides = [req.debit, req.credit]
    .filter((a) => a.kind === 'USER')
    .sort((a, b) => a.ownerId - b.ownerId)
  const locked = new Map<number, LockedUserAccount>()
  for (const side of userSides) locked.set(side.ownerId, await lockUserAccount(tx, side.ownerId))

  const idOf = async (ref: AccountRef) =>
    ref.kind === 'USER' ? locked.get(ref.ownerId)!.id : ensureAccount(tx, ref, req.now)
  const debitId = await idOf(req.debit)
  const creditId = await idOf(req.credit)
  if (debitId === creditId)
    throw new Error(`transfer ${req.businessKey}: debit and credit are the same account`)
  if (req.lotsFrom !== undefined && req.credit.kind !== 'USER')
    throw new Error(`transfer ${req.businessKey}: lotsFrom needs a USER credit`)

  const inserted = await insertTransfer(tx, req, debitId, creditId)
  if (!inserted.inserted) return { applied: false, transferId: inserted.transferId }

  const userBalances = new Map<number, number>()
  const entry = (ref: AccountRef, accountId: number, delta: number) => {
    const base = {
      accountId,
      transferId: inserted.transferId,
      delta,
      kind: req.kind,
      refId: req.refId ?? null,
      merchantId: req.merchantId ?? null,
      createdAt: req.now,
    }
    if (ref.kind !== 'USER') return { ...base, seq: null, balanceAfter: null }
    const acct = locked.get(ref.ownerId)!
    const balanceAfter = acct.balance + delta
    if (delta < 0 && balanceAfter < 0 && !req.allowNegative) {
      throw new AppError(
        'INSUFFICIENT_POINTS',
        `not enough points: balance ${acct.balance}, needed ${-delta}`,
        {
          balance: acct.balance,
          needed: -delta,
        },
      )
    }
    userBalances.set(ref.ownerId, balanceAfter)
    return { ...base, seq: acct.lastSeq + 1, balanceAfter }
  }
  const rows = [entry(req.debit, debitId, -req.points), entry(req.credit, creditId, req.points)]
  const values = rows.map(
    (r) =>
      sql`(${r.accountId}, ${r.transferId}, ${r.seq}, ${r.delta}, ${r.balanceAfter}, ${r.kind}, ${r.refId}, ${r.merchantId}, ${r.createdAt})`,
  )
  await writeRows(
    tx,
    sql`INSERT INTO ledger_entries
          (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
        VALUES ${sql.join(values, sql`, `)}`,
  )

  const earning = EARNING_KINDS.includes(req.kind)
  for (const row of rows) {
    if (row.seq === null) continue
    const res = await writeRows(
      tx,
      sql`UPDATE accounts
          SET balance = ${row.balanceAfter}, last_seq = ${row.seq},
              total_earned = total_earned + ${earning ? row.delta : 0}
          WHERE id = ${row.accountId} AND last_seq = ${row.seq - 1}`,
    )
    // The row is locked, so this can only fail if the lock discipline above was broken: stop loudly.
    if (res.affectedRows !== 1)
      throw new Error(`ledger invariant: account ${row.accountId} moved under its lock`)
  }
  if (req.debit.kind === 'USER') {
    await takeLots(tx, locked.get(req.debit.ownerId)!, req.points, inserted.transferId, req.expireLot)
  }
  if (req.credit.kind === 'USER') {
    const acct = locked.get(req.credit.ownerId)!
    await formLots(tx, acct, req.points, inserted.transferId, req.lotsFrom, req.now)
  }
  return { applied: true, transferId: inserted.transferId, userBalances }
}

/**
 * Many credits from system accounts to USER accounts as a few multi-row statements, for the
 * payment batch: the same rules as `transfer()` (a transfer row per credit under its unique
 * business key, two entries each, each USER account's seq and balance extended in order, earning
 * kinds counted in total_earned, a debt paid off before a lot forms). The caller sends
 * `lockUserAccountsStatement` first, in the same transaction.
 */
export const lockUserAccountsStatement = (ownerIds: number[]) =>
  formatStatement(
    `SELECT id, owner_id AS ownerId, balance, last_seq AS lastSeq FROM accounts
     WHERE kind = 'USER' AND owner_id IN (?) ORDER BY owner_id FOR UPDATE`,
    [[...ownerIds].sort((a, b) => a - b)],
  )

/** A USER account locked by `lockUserAccountsStatement`, as the batch's credits move it. */
export interface BatchAccount {
  id: number
  balance: number
  lastSeq: number
  readonly lockedSeq: number
  earned: number
}

/** The rows of `lockUserAccountsStatement` by owner id, as numbers whatever the driver gave. */
export const batchAccountsOf = (rows: Array<Record<string, unknown>>) =>
  new Map(
    rows.map((a): [number, BatchAccount] => {
      const lastSeq = Number(a.lastSeq)
      return [
        Number(a.ownerId),
        { id: Number(a.id), balance: Number(a.balance), lastSeq, lockedSeq: lastSeq, earned: 0 },
      ]
    }),
  )

export interface BatchCredit {
  businessKey: string
  kind: TransferKind
  debitAccountId: number
  userId: number
  points: number
  merchantId: number
  refId: string
}

/** The transfer rows; their ids are read back by business key (`transferIdsStatement`). */
export function insertTransfersStatement(
  credits: BatchCredit[],
  accounts: Map<number, BatchAccount>,
  now: Date,
) {
  for (const c of credits) checkMovable(c.businessKey, c.points)
  return formatStatement(
    `INSERT INTO transfers
       (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)
     VALUES ?`,
    [
      credits.map((c) => [
        c.businessKey,
        c.kind,
        c.debitAccountId,
        accounts.get(c.userId)!.id,
        c.points,
        c.merchantId,
        c.refId,
        now,
      ]),
    ],
  )
}

/** Auto-increment values of one statement need not be consecutive everywhere: read them back. */
export const transferIdsStatement = (credits: BatchCredit[]) =>
  formatStatement('SELECT id, business_key AS businessKey FROM transfers WHERE business_key IN (?)', [
    credits.map((c) => c.businessKey),
  ])

/**
 * The credits' entries, the new balances (the caller checks that `balances` changed
 * `accountsCredited` rows) and their lots (none when every credit only paid off a debt).
 */
export function creditEntriesStatements(
  credits: BatchCredit[],
  accounts: Map<number, BatchAccount>,
  transferIds: Array<Record<string, unknown>>,
  now: Date,
): { entries: string; balances: string; lots?: string; accountsCredited: number } {
  const idOf = new Map(transferIds.map((t) => [String(t.businessKey), Number(t.id)]))
  const entries: unknown[][] = []
  const lots: NewLot[] = []
  const earning = (c: BatchCredit) => (EARNING_KINDS.includes(c.kind) ? c.points : 0)
  for (const c of credits) {
    const acct = accounts.get(c.userId)!
    const transferId = idOf.get(c.businessKey)
    if (transferId === undefined) throw new Error(`transfer ${c.businessKey} was not written`)
    const lot = freshLotOf(acct.balance, c.points, now)
    if (lot) lots.push({ accountId: acct.id, transferId, ...lot })
    acct.balance += c.points
    acct.lastSeq += 1
    acct.earned += earning(c)
    entries.push(
      [c.debitAccountId, transferId, null, -c.points, null, c.kind, c.refId, c.merchantId, now],
      [acct.id, transferId, acct.lastSeq, c.points, acct.balance, c.kind, c.refId, c.merchantId, now],
    )
  }
  // Locked but credited nothing (an award the daily cap took to zero): left as they are.
  const credited = [...accounts.values()].filter((a) => a.lastSeq > a.lockedSeq)
  const byId = (value: (a: BatchAccount) => number) => ({
    text: `CASE id ${credited.map(() => 'WHEN ? THEN ?').join(' ')} END`,
    values: credited.flatMap((a) => [a.id, value(a)]),
  })
  const balance = byId((a) => a.balance)
  const seq = byId((a) => a.lastSeq)
  const earned = byId((a) => a.earned)
  const locked = byId((a) => a.lockedSeq)
  return {
    entries: formatStatement(
      `INSERT INTO ledger_entries
         (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
       VALUES ?`,
      [entries],
    ),
    balances: formatStatement(
      `UPDATE accounts SET balance = ${balance.text}, last_seq = ${seq.text},
         total_earned = total_earned + ${earned.text}
       WHERE id IN (?) AND last_seq = ${locked.text}`,
      [...balance.values, ...seq.values, ...earned.values, credited.map((a) => a.id), ...locked.values],
    ),
    lots: lots.length > 0 ? insertLotsStatement(lots, now) : undefined,
    accountsCredited: credited.length,
  }
}

export interface LedgerInvariantReport {
  sumOfAllEntries: number
  usersWhoseTotalEarnedDiffers: number
  usersWhoseBalanceDiffersFromEntries: number
  brokenChains: number
  transfersNotBalanced: number
  /** USER accounts whose open lots do not sum to max(0, balance) (balance = Σ open lots − debt). */
  usersWhoseLotsDifferFromBalance: number
  /** Lots out of shape, lots whose taken points differ from what transfer_lots says debits took,
   * and debits that passed on more than they took. */
  malformedLots: number
}

/** The global invariants, computed from scratch: all must be zero. */
export async function checkLedgerInvariants(db: Db): Promise<LedgerInvariantReport> {
  const [[total], [earned], [mismatch], [chains], [unbalanced], [lotSums], [badLots]] = await Promise.all([
    db.execute(sql`SELECT COALESCE(SUM(delta), 0) AS n FROM ledger_entries`),
    db.execute(sql`SELECT COUNT(*) AS n FROM accounts a
      LEFT JOIN (SELECT account_id, SUM(delta) s FROM ledger_entries
                 WHERE kind IN ('EARN', 'REFUND_CLAWBACK', 'MERCHANT_GRANT') GROUP BY account_id) e
        ON e.account_id = a.id
      WHERE a.kind = 'USER' AND a.total_earned <> COALESCE(e.s, 0)`),
    db.execute(sql`SELECT COUNT(*) AS n FROM accounts a
      LEFT JOIN (SELECT account_id, SUM(delta) s, COUNT(*) c, MAX(seq) m FROM ledger_entries GROUP BY account_id) e
        ON e.account_id = a.id
      WHERE a.kind = 'USER' AND (a.balance <> COALESCE(e.s, 0) OR a.last_seq <> COALESCE(e.m, 0) OR a.last_seq <> COALESCE(e.c, 0))`),
    db.execute(sql`SELECT COUNT(*) AS n FROM ledger_entries cur
      LEFT JOIN ledger_entries prev ON prev.account_id = cur.account_id AND prev.seq = cur.seq - 1
      WHERE cur.seq IS NOT NULL AND cur.balance_after <> COALESCE(prev.balance_after, 0) + cur.delta`),
    db.execute(sql`SELECT COUNT(*) AS n FROM (SELECT transfer_id FROM ledger_entries GROUP BY transfer_id
      HAVING SUM(delta) <> 0 OR COUNT(*) <> 2) x`),
    db.execute(sql`SELECT COUNT(*) AS n FROM accounts a
      LEFT JOIN (SELECT account_id, SUM(remaining) s FROM point_lots WHERE open_until IS NOT NULL
                 GROUP BY account_id) l ON l.account_id = a.id
      WHERE a.kind = 'USER' AND COALESCE(l.s, 0) <> GREATEST(a.balance, 0)`),
    db.execute(sql`SELECT
      (SELECT COUNT(*) FROM point_lots WHERE points <= 0 OR remaining < 0 OR remaining > points
         OR (remaining = 0) <> (open_until IS NULL)
         OR (open_until IS NOT NULL AND open_until <> COALESCE(expires_at, ${NEVER})))
      + (SELECT COUNT(*) FROM point_lots l
         LEFT JOIN (SELECT lot_id, SUM(points) s FROM transfer_lots GROUP BY lot_id) t ON t.lot_id = l.id
         WHERE l.points - l.remaining <> COALESCE(t.s, 0))
      + (SELECT COUNT(*) FROM transfer_lots WHERE points <= 0 OR passed_on < 0 OR passed_on > points) AS n`),
  ])
  const n = (r: unknown) => Number((r as Array<{ n: number | string }>)[0]?.n ?? 0)
  return {
    sumOfAllEntries: n(total),
    usersWhoseTotalEarnedDiffers: n(earned),
    usersWhoseBalanceDiffersFromEntries: n(mismatch),
    brokenChains: n(chains),
    transfersNotBalanced: n(unbalanced),
    usersWhoseLotsDifferFromBalance: n(lotSums),
    malformedLots: n(badLots),
  }
}
