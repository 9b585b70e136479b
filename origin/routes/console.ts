/**
 * Scan-to-login for the web console (API.md §17): anyone may open and poll a session (the edge
 * rate-limits opening like login); approving needs the mini-program user's token.
 */
import { createRoute, z } from '@hono/zod-openapi'
import { ConsoleSessionId } from '../../shared/schemas.ts'
import { CONSOLE_TOKEN_TTL_SECONDS, issueToken, requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { router } from '../http/openapi.ts'
import {
  approveConsoleSession,
  createConsoleSession,
  readConsoleSession,
  takeApprovedSession,
} from '../services/console-sessions.ts'
import { identityOf } from '../services/users.ts'
import {
  bearer,
  ConsoleSessionCreated,
  ConsoleSessionState,
  errors,
  json,
  USER_ERRORS,
} from './components.ts'

const SessionParam = z.object({ id: ConsoleSessionId })
const tags = ['console login']

const create = createRoute({
  method: 'post',
  path: '/sessions',
  operationId: 'createConsoleSession',
  summary: 'Open a console login session and get its mini-program code',
  tags,
  responses: { 201: json(ConsoleSessionCreated, 'The session and its code'), ...errors(429, 502, 503) },
})

const poll = createRoute({
  method: 'get',
  path: '/sessions/{id}',
  operationId: 'getConsoleSession',
  summary: 'Poll a console login session; an approved one hands out its token once',
  tags,
  request: { params: SessionParam },
  responses: { 200: json(ConsoleSessionState, 'The session'), ...errors(404, 429, 503) },
})

const approve = createRoute({
  method: 'post',
  path: '/sessions/{id}/approve',
  operationId: 'approveConsoleSession',
  summary: 'Approve a console login from the logged-in mini-program',
  tags,
  security: bearer,
  request: { params: SessionParam },
  responses: {
    200: json(z.object({ status: z.literal('APPROVED') }), 'Approved'),
    ...errors(...USER_ERRORS, 404, 409),
  },
})

export function consoleRoutes(deps: OriginDeps) {
  const app = router()
  app.use('/sessions/:id/approve', requireUser(deps))
  return app
    .openapi(create, async (c) => c.json(await createConsoleSession(deps, new Date()), 201))
    .openapi(approve, async (c) => {
      await approveConsoleSession(deps.redis, c.req.valid('param').id, c.get('userId'), new Date())
      return c.json({ status: 'APPROVED' as const }, 200)
    })
    .openapi(poll, async (c) => {
      const { id } = c.req.valid('param')
      c.header('Cache-Control', 'no-store')
      const now = new Date()
      const session = await readConsoleSession(deps.redis, id, now)
      const { userId } = session
      if (session.status !== 'APPROVED' || userId === null) {
        return c.json({ status: session.status, expiresAt: session.expiresAt }, 200)
      }
      const identity = await identityOf(deps.db.primary, userId, deps.config.ADMIN_OPENIDS)
      const issued =
        identity &&
        (await issueToken(
          deps.config.JWT_SECRET,
          identity,
          Math.floor(now.getTime() / 1000),
          CONSOLE_TOKEN_TTL_SECONDS,
        ))
      if (issued && (await takeApprovedSession(deps.redis, id, userId, now))) {
        return c.json(
          {
            status: 'APPROVED' as const,
            expiresAt: session.expiresAt,
            token: issued.token,
            tokenExpiresAt: issued.expiresAt,
          },
          200,
        )
      }
      const after = await readConsoleSession(deps.redis, id, now)
      return c.json({ status: after.status, expiresAt: after.expiresAt }, 200)
    })
}
