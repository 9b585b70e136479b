/**
 * What MariaDB was doing during a phase: the states its connections to the bench database were
 * seen in (sampled from the processlist) and global counters (row-lock waits, fsyncs, commits). The
 * counters are server-wide, so other databases' traffic on a shared server shows up in them too.
 */
import mysql from 'mysql2/promise'

const COUNTERS = [
  'Innodb_row_lock_waits',
  'Innodb_row_lock_time',
  'Innodb_data_fsyncs',
  'Com_commit',
  'Questions',
] as const

export interface DbActivity {
  samples: number
  /** Average number of this database's connections waiting for a row lock (innodb_trx LOCK WAIT). */
  avgLockWaiting: number
  /** Share of sampled connection-moments per command|state|statement prefix, busiest first. */
  states: Array<{ state: string; share: number }>
  counters: Record<string, number>
}

export async function watchDb(serverUrl: string, databaseName: string, intervalMs = 25) {
  const conn = await mysql.createConnection({ uri: serverUrl })
  const readCounters = async () => {
    const [rows] = await conn.query('SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [COUNTERS])
    return Object.fromEntries(
      (rows as Array<{ Variable_name: string; Value: string }>).map((r) => [
        r.Variable_name,
        Number(r.Value),
      ]),
    )
  }
  const before = await readCounters()
  const seen = new Map<string, number>()
  let samples = 0
  let lockWaiting = 0
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const [rows] = await conn.query(
        'SELECT command, state, LEFT(info, 48) AS info FROM information_schema.processlist WHERE db = ?',
        [databaseName],
      )
      const [waits] = await conn.query(
        `SELECT COUNT(*) AS n FROM information_schema.innodb_trx t
         JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
         WHERE p.db = ? AND t.trx_state = 'LOCK WAIT'`,
        [databaseName],
      )
      lockWaiting += Number((waits as Array<{ n: number }>)[0]?.n ?? 0)
      samples++
      for (const r of rows as Array<{ command: string; state: string; info: string | null }>) {
        const key = `${r.command}|${r.state || '-'}|${(r.info ?? '').replace(/\s+/g, ' ')}`
        seen.set(key, (seen.get(key) ?? 0) + 1)
      }
      await new Promise((r) => setTimeout(r, intervalMs))
    }
  })()
  return {
    async stop(): Promise<DbActivity> {
      stopped = true
      await loop
      const after = await readCounters()
      await conn.end()
      const total = [...seen.values()].reduce((a, b) => a + b, 0)
      return {
        samples,
        avgLockWaiting: samples ? Math.round((lockWaiting / samples) * 100) / 100 : 0,
        states: [...seen]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12)
          .map(([state, n]) => ({ state, share: Math.round((n / total) * 1000) / 1000 })),
        counters: Object.fromEntries(COUNTERS.map((c) => [c, (after[c] ?? 0) - (before[c] ?? 0)])),
      }
    },
  }
}
