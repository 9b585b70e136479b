/**
 * The lot rules of API.md §14 against a real database, through transfer() and the expiry job with
 * explicit times: debits take the earliest expiry first, returns restore, gifts keep the sender's
 * expiry, debt is paid before lots form, expiry writes EXPIRE once even with two runners, TTL 0
 * never expires. The ledger invariants (balance = Σ open lots − debt among them) after each.
 */
import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/mysql2'
import mysql from 'mysql2'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { migrateDatabase } from '../../db/migrate.ts'
import * as schema from '../../db/schema.ts'
import { HOLDS, MYSQL_SERVER } from '../../test/harness/stack.ts'
import { type Db, runTx, selectRows } from '../db/client.ts'
import {
  checkLedgerInvariants,
  ensureAccount,
  GIFT_ESCROW,
  merchantIssuance,
  PLATFORM,
  type TransferRequest,
  transfer,
  userAccount,
} from './ledger.ts'
import { DEFAULT_POINTS_TTL_SECONDS, dateOf, setLotPolicy } from './lots.ts'
import { balanceOf } from './points.ts'
import { expireDueLots } from './points-expiry.ts'

const TTL = 1000
const T0 = new Date('2030-01-01T00:00:00.000Z')
/**
 * Each test lives before the one before it, so the expiry job run by a test (it expires every due
 * lot in the database) never reaches the lots of earlier tests.
 */
const TEST_SPAN_SECONDS = 10_000_000
let base = T0.getTime()
const at = (seconds: number) => new Date(base + seconds * 1000)

const databaseUrl = `${MYSQL_SERVER}/points_lots_${randomBytes(5).toString('hex')}`
let pool: mysql.Pool
let db: Db
let merchantId: number
let keys = 0

beforeAll(async () => {
  await migrateDatabase(databaseUrl)
  pool = mysql.createPool({ uri: databaseUrl, timezone: 'Z', connectionLimit: 8 })
  pool.on('connection', (conn) => conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'))
  db = drizzle({ client: pool, schema, mode: 'default' })
  const owner = await newUser()
  const [{ insertId }] = await db.insert(schema.merchants).values({
    ownerUserId: owner,
    name: 'Lots',
    contactPhone: 'x',
    status: 'ACTIVE',
    earnPoints: 1,
    perFen: 100,
    minOrderFen: 0,
    createdAt: T0,
    updatedAt: T0,
  })
  merchantId = insertId
})
beforeEach(() => {
  base -= TEST_SPAN_SECONDS * 1000
})
afterEach(async () => {
  setLotPolicy({ ttlSeconds: TTL })
  expect(await checkLedgerInvariants(db)).toEqual(HOLDS)
})
afterAll(async () => {
  setLotPolicy({ ttlSeconds: DEFAULT_POINTS_TTL_SECONDS })
  await db?.execute(`DROP DATABASE IF EXISTS \`${databaseUrl.split('/').pop()}\``)
  await pool?.promise().end()
})
setLotPolicy({ ttlSeconds: TTL })

async function newUser(): Promise<number> {
  const [{ insertId }] = await db
    .insert(schema.users)
    .values({ openid: `lots-${randomBytes(6).toString('hex')}`, createdAt: T0, updatedAt: T0 })
  await ensureAccount(db, userAccount(insertId), T0)
  return insertId
}

const move = (req: Omit<TransferRequest, 'businessKey'> & { businessKey?: string }) =>
  runTx(db, (tx) => transfer(tx, { businessKey: `k${++keys}`, ...req }))

const grant = (userId: number, points: number, now: Date) =>
  move({
    kind: 'MERCHANT_GRANT',
    debit: merchantIssuance(merchantId),
    credit: userAccount(userId),
    points,
    merchantId,
    now,
  })

/** A gift's two halves: the sender's points into escrow, then to someone with the sender's lots. */
async function send(userId: number, points: number, now: Date) {
  const businessKey = `send-${++keys}`
  await move({ businessKey, kind: 'GIFT_SEND', debit: userAccount(userId), credit: GIFT_ESCROW, points, now })
  return businessKey
}
const receive = (
  userId: number,
  points: number,
  lotsFrom: string,
  now: Date,
  kind: 'GIFT_RECEIVE' | 'GIFT_RETURN' = 'GIFT_RECEIVE',
) => move({ kind, debit: GIFT_ESCROW, credit: userAccount(userId), points, lotsFrom, now })

/** Open lots as [remaining, seconds after T0 when they expire (null: never)], earliest first. */
async function lotsOf(userId: number) {
  const rows = await selectRows<{ remaining: number; expiresAt: string | Date | null }>(
    db,
    sql`SELECT l.remaining, l.expires_at AS expiresAt FROM point_lots l
        JOIN accounts a ON a.id = l.account_id
        WHERE a.kind = 'USER' AND a.owner_id = ${userId} AND l.open_until IS NOT NULL
        ORDER BY l.open_until, l.id`,
  )
  return rows.map((r) => [
    Number(r.remaining),
    r.expiresAt === null ? null : (dateOf(r.expiresAt).getTime() - base) / 1000,
  ])
}
const balance = async (userId: number) => (await balanceOf(db, userId, 0)).balance

describe('debits', () => {
  it('take the lots that expire first, not the ones credited first', async () => {
    const sender = await newUser()
    const user = await newUser()
    await grant(sender, 10, at(0))
    await grant(user, 10, at(100))
    // Credited later, expiring earlier: the gift keeps the sender's expiry.
    await receive(user, 10, await send(sender, 10, at(200)), at(200))
    expect(await lotsOf(user)).toEqual([
      [10, TTL],
      [10, 100 + TTL],
    ])
    await move({ kind: 'ADMIN_ADJUST', debit: userAccount(user), credit: PLATFORM, points: 14, now: at(300) })
    expect(await lotsOf(user)).toEqual([[6, 100 + TTL]])
    expect(await balance(user)).toBe(6)
  })

  it('never take more than the balance covered: a claw-back past zero is debt, paid before lots form', async () => {
    const user = await newUser()
    await grant(user, 10, at(0))
    await move({
      kind: 'REFUND_CLAWBACK',
      debit: userAccount(user),
      credit: merchantIssuance(merchantId),
      points: 30,
      merchantId,
      allowNegative: true,
      now: at(10),
    })
    expect(await balance(user)).toBe(-20)
    expect(await lotsOf(user)).toEqual([])
    await grant(user, 15, at(20))
    expect(await lotsOf(user)).toEqual([])
    await grant(user, 15, at(30))
    expect(await lotsOf(user)).toEqual([[10, 30 + TTL]])
    expect(await balance(user)).toBe(10)
  })
})

describe('lotsFrom', () => {
  it('restores what a debit took, expiries included, when it comes back', async () => {
    const user = await newUser()
    await grant(user, 10, at(0))
    await grant(user, 10, at(50))
    const key = await send(user, 15, at(60))
    expect(await lotsOf(user)).toEqual([[5, 50 + TTL]])
    await receive(user, 15, key, at(70), 'GIFT_RETURN')
    const byExpiry = new Map<unknown, number>()
    for (const [points, expiry] of await lotsOf(user))
      byExpiry.set(expiry, (byExpiry.get(expiry) ?? 0) + points!)
    expect([...byExpiry]).toEqual([
      [TTL, 10],
      [50 + TTL, 10],
    ])
  })

  it('passes a gift on in shares with the sender’s expiries, never more than it took', async () => {
    const sender = await newUser()
    await grant(sender, 4, at(0))
    await grant(sender, 6, at(10))
    const key = await send(sender, 10, at(20))
    const [a, b, c] = [await newUser(), await newUser(), await newUser()]
    await receive(a, 3, key, at(30))
    await receive(b, 3, key, at(30))
    expect(await lotsOf(a)).toEqual([[3, TTL]])
    expect(await lotsOf(b)).toEqual([
      [1, TTL],
      [2, 10 + TTL],
    ])
    // The source has 4 left; a 5-point share beyond it forms a fresh lot for the excess.
    await receive(c, 5, key, at(40))
    expect(await lotsOf(c)).toEqual([
      [4, 10 + TTL],
      [1, 40 + TTL],
    ])
  })

  it('passes concurrent shares of one debit on exactly once', async () => {
    const sender = await newUser()
    await grant(sender, 12, at(0))
    const key = await send(sender, 12, at(10))
    const claimers = await Promise.all(Array.from({ length: 6 }, () => newUser()))
    await Promise.all(claimers.map((u) => receive(u, 2, key, at(20))))
    for (const u of claimers) expect(await lotsOf(u)).toEqual([[2, TTL]])
  })

  it('keeps an expired sender’s expiry: the received points expire at the next run', async () => {
    const sender = await newUser()
    const friend = await newUser()
    await grant(sender, 8, at(0))
    const key = await send(sender, 8, at(10))
    await receive(friend, 8, key, at(TTL + 5))
    expect(await expireDueLots(db, at(TTL + 6))).toBe(1)
    expect(await balance(friend)).toBe(0)
  })
})

describe('the expiry job', () => {
  it('turns what is left of an expired lot into one EXPIRE record', async () => {
    const user = await newUser()
    await grant(user, 10, at(0))
    await grant(user, 10, at(500))
    await move({ kind: 'ADMIN_ADJUST', debit: userAccount(user), credit: PLATFORM, points: 4, now: at(600) })
    expect(await expireDueLots(db, at(TTL - 1))).toBe(0)
    expect(await expireDueLots(db, at(TTL))).toBe(1)
    expect(await balance(user)).toBe(10)
    const [entry] = await selectRows<{ delta: number; kind: string }>(
      db,
      sql`SELECT e.delta, e.kind FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
          WHERE a.kind = 'USER' AND a.owner_id = ${user} ORDER BY e.seq DESC LIMIT 1`,
    )
    expect(entry).toEqual({ delta: -6, kind: 'EXPIRE' })
    expect(await lotsOf(user)).toEqual([[10, 500 + TTL]])
  })

  it('expires each lot once when two runners race', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => newUser()))
    for (const [i, u] of users.entries()) for (let j = 0; j < 15; j++) await grant(u, 1 + i, at(j))
    const runs = await Promise.all([expireDueLots(db, at(TTL + 20)), expireDueLots(db, at(TTL + 20))])
    expect(runs[0] + runs[1]).toBe(60)
    const [row] = await selectRows<{ n: number }>(
      db,
      sql`SELECT COUNT(*) AS n FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
          WHERE t.kind = 'EXPIRE' AND a.owner_id IN (${sql.join(users, sql`, `)})`,
    )
    expect(Number(row!.n)).toBe(60)
    for (const u of users) expect(await balance(u)).toBe(0)
  })

  it('never expires points credited while POINTS_TTL_SECONDS=0', async () => {
    setLotPolicy({ ttlSeconds: 0 })
    const user = await newUser()
    await grant(user, 7, at(0))
    expect(await lotsOf(user)).toEqual([[7, null]])
    expect(await expireDueLots(db, at(TEST_SPAN_SECONDS / 2))).toBe(0)
    expect((await balanceOf(db, user, 10 * 365 * 24 * 3600, at(0))).expiringSoon).toBeNull()
    expect(await balance(user)).toBe(7)
  })
})

describe('expiringSoon', () => {
  it('sums the lots expiring within the notice period and names the earliest', async () => {
    const user = await newUser()
    await grant(user, 5, at(0))
    await grant(user, 7, at(100))
    await grant(user, 9, at(400))
    const soon = (notice: number, now: Date) => balanceOf(db, user, notice, now)
    expect((await soon(200, at(500))).expiringSoon).toBeNull()
    expect((await soon(200, at(TTL - 150))).expiringSoon).toEqual({ points: 5, at: at(TTL).toISOString() })
    expect((await soon(200, at(TTL - 50))).expiringSoon).toEqual({ points: 12, at: at(TTL).toISOString() })
    expect((await soon(200, at(TTL - 50))).balance).toBe(21)
  })
})
