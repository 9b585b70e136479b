/**
 * MySQL pools and the transaction runner. Writes and read-your-own-write paths use `primary`;
 * `read` is the replica when DATABASE_READ_URL is set, else the primary.
 */
import type { SQL } from 'drizzle-orm'
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2'
import mysql, { type ResultSetHeader } from 'mysql2'
import * as schema from '../../db/schema.ts'

export type Db = MySql2Database<typeof schema>
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

export interface Database {
  primary: Db
  read: Db
  /** Connections to the primary that take several statements per round trip (`runBatchTx`). */
  batches: mysql.Pool
  ping(): Promise<void>
  close(): Promise<void>
}

function createPool(uri: string, size: number, multipleStatements = false): mysql.Pool {
  const pool = mysql.createPool({
    uri,
    multipleStatements,
    connectionLimit: size,
    maxIdle: size,
    timezone: 'Z',
    supportBigNumbers: true,
    dateStrings: false,
    enableKeepAlive: true,
    connectTimeout: 5000,
    // mysql2 captures a stack for every query by default: 4 % of an award's CPU, for nicer traces.
    trace: false,
  })
  // Application timestamps are UTC; make the session agree so NOW() and DATETIME compare alike.
  // READ COMMITTED is set once per connection rather than before every transaction (one round
  // trip fewer per transaction); runTx relies on it.
  pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'")
    conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
    // Locks are held for milliseconds; a 5 s wait means something is stuck. Fail (503) well before
    // the request deadline instead of waiting InnoDB's default 50 s.
    conn.query('SET SESSION innodb_lock_wait_timeout = 5')
  })
  return pool
}

export function createDatabase(opts: {
  url: string
  readUrl?: string
  poolSize: number
  batchConnections?: number
}): Database {
  const primaryPool = createPool(opts.url, opts.poolSize)
  // Connections are opened on first use, so a process that never batches opens none.
  const batchPool = createPool(opts.url, opts.batchConnections ?? 2, true)
  const readPool = opts.readUrl ? createPool(opts.readUrl, opts.poolSize) : primaryPool
  const primary = drizzle({ client: primaryPool, schema, mode: 'default' })
  const read = opts.readUrl ? drizzle({ client: readPool, schema, mode: 'default' }) : primary
  return {
    primary,
    read,
    batches: batchPool,
    async ping() {
      await primaryPool.promise().query('SELECT 1')
      if (readPool !== primaryPool) await readPool.promise().query('SELECT 1')
    },
    async close() {
      await primaryPool.promise().end()
      await batchPool.promise().end()
      if (readPool !== primaryPool) await readPool.promise().end()
    },
  }
}

/** A number as a hand-written SELECT returns it: mysql2 gives BIGINT as text past 2^53. */
export type Numeric = number | string

/**
 * Hand-written statements, for the ledger, the award and the most frequent reads: drizzle's query
 * builder takes 20–90 µs of CPU to build each of their statements (1 µs for an `sql` template),
 * which was a fifth of an award's CPU (docs/BENCHMARKS.md). Rows carry the names the SELECT gives
 * them and mysql2's own types, not drizzle's column mapping: DATETIME as UTC text, BIGINT as a
 * number or, past 2^53 or with other pool settings, a string. So such SELECTs alias their columns
 * and their callers convert every value (Number(), ISO times) before using it.
 */
export async function selectRows<Row>(db: Db | Tx, query: SQL): Promise<Row[]> {
  const [rows] = await db.execute(query)
  return rows as unknown as Row[]
}

export async function writeRows(db: Db | Tx, query: SQL): Promise<ResultSetHeader> {
  const [result] = await db.execute(query)
  return result
}

const DEADLOCK = 1213
const MAX_TX_ATTEMPTS = 5

export function mysqlErrno(err: unknown): number | undefined {
  let cur: unknown = err
  for (let depth = 0; cur && depth < 5; depth++) {
    const errno = (cur as { errno?: unknown }).errno
    if (typeof errno === 'number') return errno
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}

export const DUPLICATE_KEY = 1062

/**
 * Runs `work` in a READ COMMITTED transaction (the session level set in createPool; no gap locks
 * from the business-key inserts), retrying the whole transaction when InnoDB picks it as a
 * deadlock victim. `work` must only touch the database, so running it again is safe.
 */
export async function runTx<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work)
    } catch (err) {
      const errno = mysqlErrno(err)
      if (errno !== DEADLOCK || attempt >= MAX_TX_ATTEMPTS) throw err
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20))
    }
  }
}

/** Sends statements in one round trip; one result per statement (rows for a SELECT). */
export type SendStatements = (statements: string[]) => Promise<unknown[]>

/**
 * `runTx` for the payment batch: a READ COMMITTED transaction on a `batches` connection, where
 * `work` sends several statements per round trip (built with `formatStatement`, so every value is
 * escaped by mysql2). A batch of awards is ten statements; in one round trip each where they do
 * not depend on each other's answers, a batch takes four. START TRANSACTION goes with the first
 * round trip and COMMIT alone. A deadlock retries the whole transaction, as `runTx` does.
 */
export async function runBatchTx<T>(db: Database, work: (send: SendStatements) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const conn = await db.batches.promise().getConnection()
    let healthy = true
    try {
      let begun = false
      const send: SendStatements = async (statements) => {
        const all = begun ? statements : ['START TRANSACTION', ...statements]
        begun = true
        const [results] = await conn.query(all.join(';\n'))
        const each = all.length === 1 ? [results] : (results as unknown[])
        return each.slice(all.length - statements.length)
      }
      const out = await work(send)
      await conn.query('COMMIT')
      return out
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => {
        healthy = false
      })
      if (mysqlErrno(err) !== DEADLOCK || attempt >= MAX_TX_ATTEMPTS) throw err
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20))
    } finally {
      if (healthy) conn.release()
      else conn.destroy()
    }
  }
}

/**
 * A statement with its `?` placeholders filled in by mysql2's own escaping, for `runBatchTx` and
 * multi-row statements: built from drizzle `sql` fragments instead, drizzle's per-value checks were
 * a fifth of the origin's CPU in the award profile (docs/BENCHMARKS.md, third round). Arrays of
 * arrays become row lists: `VALUES ?` with [[1, 'a'], [2, 'b']].
 */
export const formatStatement = (text: string, values: unknown[]): string =>
  mysql.format(text, values as never[], false, 'Z')
