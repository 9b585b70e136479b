import { randomBytes } from 'node:crypto'
import { drizzle } from 'drizzle-orm/mysql2'
import mysql from 'mysql2'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { migrateDatabase } from '../../db/migrate.ts'
import * as schema from '../../db/schema.ts'
import { HOLDS, MYSQL_SERVER } from '../../test/harness/stack.ts'
import { type Db, runTx } from '../db/client.ts'
import { checkLedgerInvariants, ensureAccount, merchantIssuance, transfer, userAccount } from './ledger.ts'
import { balanceOf } from './points.ts'

// The ledger's hand-written statements read mysql2's own types. With every BIGINT delivered as a
// string, arithmetic on an unconverted balance would concatenate ("10" + 5 = "105").
const databaseUrl = `${MYSQL_SERVER}/points_ledger_${randomBytes(5).toString('hex')}`
let pool: mysql.Pool
let db: Db

beforeAll(async () => {
  await migrateDatabase(databaseUrl)
  pool = mysql.createPool({
    uri: databaseUrl,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
  })
  db = drizzle({ client: pool, schema, mode: 'default' })
})
afterAll(async () => {
  await db?.execute(`DROP DATABASE IF EXISTS \`${databaseUrl.split('/').pop()}\``)
  await pool?.promise().end()
})

it('keeps balances exact when the driver hands BIGINTs back as strings', async () => {
  const now = new Date()
  // Real rows, as the services would have them: a user and a merchant a transfer names.
  const [{ insertId: userId }] = await db
    .insert(schema.users)
    .values({ openid: 'string-test', createdAt: now, updatedAt: now })
  const [{ insertId: merchantId }] = await db.insert(schema.merchants).values({
    ownerUserId: userId,
    name: 'String Test',
    contactPhone: 'x',
    status: 'ACTIVE',
    earnPoints: 1,
    perFen: 100,
    minOrderFen: 0,
    createdAt: now,
    updatedAt: now,
  })
  await ensureAccount(db, userAccount(userId), now)
  for (const [i, points] of [10, 5, 20].entries()) {
    const moved = await runTx(db, (tx) =>
      transfer(tx, {
        businessKey: `GRANT:string-test:${i}`,
        kind: 'MERCHANT_GRANT',
        debit: merchantIssuance(merchantId),
        credit: userAccount(userId),
        points,
        merchantId,
        now,
      }),
    )
    expect(moved.applied).toBe(true)
  }
  expect(await balanceOf(db, userId, 0)).toEqual({
    balance: 35,
    heldInGifts: 0,
    totalEarned: 35,
    expiringSoon: null,
  })
  expect(await checkLedgerInvariants(db)).toEqual(HOLDS)
})
