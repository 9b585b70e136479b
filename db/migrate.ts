/**
 * Creates the database named in DATABASE_URL when it is missing, then applies drizzle-kit's
 * migrations. A named lock keeps two instances starting at once from migrating together.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/mysql2'
import { migrate } from 'drizzle-orm/mysql2/migrator'
import mysql from 'mysql2/promise'

const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url))
const LOCK_TIMEOUT_SECONDS = 60

export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) {
    throw new Error(`DATABASE_URL must name a database of letters, digits and _ (got "${name}")`)
  }
  return name
}

export async function migrateDatabase(url: string, log: (line: string) => void = () => {}): Promise<void> {
  const name = databaseNameOf(url)
  const server = new URL(url)
  server.pathname = '/'
  const admin = await mysql.createConnection({ uri: server.toString() })
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
  } finally {
    await admin.end()
  }
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z' })
  try {
    const [rows] = await conn.query('SELECT GET_LOCK(?, ?) AS got', [`migrate:${name}`, LOCK_TIMEOUT_SECONDS])
    if ((rows as Array<{ got: number }>)[0]?.got !== 1) throw new Error('could not take the migration lock')
    log(`migrating database ${name}`)
    await migrate(drizzle(conn), { migrationsFolder: MIGRATIONS_FOLDER })
    log(`database ${name} is up to date`)
  } finally {
    await conn.end()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // DATABASE_URL_FILE as in origin/config.ts: the URL carries the migration user's password.
  const file = process.env.DATABASE_URL_FILE
  const url = process.env.DATABASE_URL || (file ? readFileSync(file, 'utf8').trim() : undefined)
  if (!url) {
    console.error('DATABASE_URL is not set (e.g. mysql://root@127.0.0.1:3306/points)')
    process.exit(1)
  }
  migrateDatabase(url, (line) => console.log(line)).catch((err: Error) => {
    console.error(`db:migrate failed: ${err.message}`)
    process.exit(1)
  })
}
