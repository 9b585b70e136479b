/** The start-up and memory floor for the origin: a bare Hono app on @hono/node-server, run through tsx the same way. */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

const app = new Hono().get('/health', (c) => c.json({ status: 'ok' }))
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' })
process.once('SIGTERM', () => process.exit(0))
