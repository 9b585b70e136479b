import { sql } from 'drizzle-orm'
import { afterAll, expect, it } from 'vitest'
import { MYSQL_SERVER } from '../../test/harness/stack.ts'
import { createDatabase, runTx } from './client.ts'

const db = createDatabase({ url: `${MYSQL_SERVER}/mysql`, poolSize: 3 })
afterAll(() => db.close())

it('runs every transaction READ COMMITTED in UTC, on every pooled connection', async () => {
  const seen = await Promise.all(
    Array.from({ length: 6 }, () =>
      runTx(db.primary, async (tx) => {
        const [rows] = (await tx.execute(
          sql`SELECT @@tx_isolation AS iso, @@time_zone AS tz`,
        )) as unknown as [Array<{ iso: string; tz: string }>]
        return rows[0]
      }),
    ),
  )
  expect(new Set(seen.map((r) => `${r?.iso} ${r?.tz}`))).toEqual(new Set(['READ-COMMITTED +00:00']))
})
