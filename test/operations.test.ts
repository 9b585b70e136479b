/** Origin behaviour operators rely on: graceful shutdown, the drain, and reads from a SELECT-only replica user. */

import mysql from 'mysql2/promise'
import { describe, expect, it } from 'vitest'
import { activeMerchant, adminToken, idemKey, userWithPoints } from './harness/fixtures.ts'
import { HOLDS, invariants, MYSQL_SERVER } from './harness/stack.ts'
import { useStack } from './harness/use-stack.ts'

const file = useStack()

describe('graceful shutdown', () => {
  it('answers all 30 in-flight writes after SIGTERM and exits within 10 s', async () => {
    const sender = await userWithPoints(file.api, 1000)
    // Hold the sender's account row so the 30 gift writes are provably inside the origin when
    // SIGTERM arrives; release it after the signal.
    const blocker = await mysql.createConnection({ uri: file.stack.databaseUrl })
    await blocker.query('START TRANSACTION')
    await blocker.query("SELECT id FROM accounts WHERE kind = 'USER' AND owner_id = ? FOR UPDATE", [
      Number(sender.id),
    ])
    const writes = Array.from({ length: 30 }, () =>
      file.api.post('/api/points/gifts', { points: 10 }, { token: sender.token, idempotencyKey: idemKey() }),
    )
    await new Promise((r) => setTimeout(r, 700))
    const started = Date.now()
    const exited = file.stack.origin.stop('SIGTERM')
    await new Promise((r) => setTimeout(r, 300))
    await blocker.query('COMMIT')
    await blocker.end()
    const results = await Promise.all(writes)
    const code = await exited
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(201))
    expect(code).toBe(0)
    expect(Date.now() - started).toBeLessThan(10_000)
    await file.stack.restartOrigin()
    expect((await file.api.get('/api/points/balance', { token: sender.token })).body).toMatchObject({
      balance: 700,
      heldInGifts: 300,
    })
    expect(await invariants(file.stack)).toEqual(HOLDS)
  })
})

describe('drain on SIGTERM', () => {
  it('turns /ready 503 at once, keeps serving through SHUTDOWN_DRAIN_MS, answers all 30 writes sent just before', async () => {
    await file.stack.restartOrigin({ SHUTDOWN_DRAIN_MS: '3000' })
    const sender = await userWithPoints(file.api, 1000)
    const writes = Array.from({ length: 30 }, () =>
      file.api.post('/api/points/gifts', { points: 10 }, { token: sender.token, idempotencyKey: idemKey() }),
    )
    await new Promise((r) => setTimeout(r, 5))
    const signalled = Date.now()
    const exited = file.stack.origin.stop('SIGTERM')
    // /ready flips at once, while the same process still answers liveness and API requests.
    await new Promise((r) => setTimeout(r, 100))
    const ready = await fetch(`${file.stack.origin.url}/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({ status: 'draining' })
    // Node is told to close keep-alive connections while draining; Deno.serve does that itself on
    // shutdown() and keeps the Connection header to itself.
    if (process.env.ORIGIN_RUNTIME !== 'deno') expect(ready.headers.get('connection')).toBe('close')
    await new Promise((r) => setTimeout(r, 1500 - (Date.now() - signalled)))
    const late = await file.api.post(
      '/api/points/gifts',
      { points: 10 },
      { token: sender.token, idempotencyKey: idemKey() },
    )
    expect(late.status).toBe(201)
    const results = await Promise.all(writes)
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(201))
    const code = await exited
    const tookMs = Date.now() - signalled
    expect(code).toBe(0)
    expect(tookMs).toBeGreaterThanOrEqual(3000)
    expect(tookMs).toBeLessThan(10_000)
    await expect(fetch(`${file.stack.origin.url}/health`)).rejects.toThrow()
    await file.stack.restartOrigin()
    expect((await file.api.get('/api/points/balance', { token: sender.token })).body).toMatchObject({
      balance: 690,
      heldInGifts: 310,
    })
    expect(await invariants(file.stack)).toEqual(HOLDS)
  })
})

describe('read replica', () => {
  it('serves the read paths through a SELECT-only DATABASE_READ_URL user, writes on the primary', async () => {
    const dbName = file.stack.databaseUrl.split('/').pop()!
    const admin = await mysql.createConnection({ uri: `${MYSQL_SERVER}/` })
    const user = `ro_${dbName.slice(-10)}`
    await admin.query(`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY 'readonly-pass'`)
    await admin.query(`CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY 'readonly-pass'`)
    await admin.query(`GRANT SELECT ON \`${dbName}\`.* TO '${user}'@'%'`)
    await admin.query(`GRANT SELECT ON \`${dbName}\`.* TO '${user}'@'localhost'`)
    try {
      const host = new URL(MYSQL_SERVER).host
      await file.stack.restartOrigin({ DATABASE_READ_URL: `mysql://${user}:readonly-pass@${host}/${dbName}` })
      const m = await activeMerchant(file.api)
      const page = await file.api.get(`/api/merchants/${m.merchantId}`)
      expect(page.status).toBe(200)
      const token = await adminToken(file.api)
      expect((await file.api.get('/api/admin/merchants', { token })).status).toBe(200)
      expect((await file.api.get('/api/admin/stats', { token })).status).toBe(200)
      expect((await file.api.get('/api/admin/audit-log', { token })).status).toBe(200)
      expect((await file.api.get('/api/merchant/orders', { token: m.ownerToken })).status).toBe(200)
      expect((await file.api.get('/api/merchant/stats', { token: m.ownerToken })).status).toBe(200)
      const u = await userWithPoints(file.api, 10, m)
      expect((await file.api.post('/api/points/gifts', { points: 5 }, { token: u.token })).status).toBe(201)
      expect((await file.api.get('/api/points/balance', { token: u.token })).body.balance).toBe(5)
      const ready = await fetch(`${file.stack.origin.url}/ready`)
      expect(ready.status).toBe(200)
    } finally {
      await file.stack.restartOrigin()
      await admin.query(`DROP USER IF EXISTS '${user}'@'%'`)
      await admin.query(`DROP USER IF EXISTS '${user}'@'localhost'`)
      await admin.end()
    }
  })
})
