import { Hono } from 'hono'
import { z } from 'zod'
import { InvitationsQuery, UpdateMeRequest } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { valid } from '../http/validate.ts'
import { answerInvitation, listInvitations } from '../services/staff.ts'
import { identityOf, meView, updateProfile } from '../services/users.ts'
import { IdParam } from './merchants.ts'

const AnswerParam = IdParam.extend({ answer: z.enum(['accept', 'decline']) })

export function meRoutes(deps: OriginDeps) {
  return new Hono<AppEnv>()
    .use(requireUser(deps))
    .get('/', (c) => c.json(meView(c.get('identity'))))
    .patch('/', valid('json', UpdateMeRequest), async (c) => {
      await updateProfile(deps.db.primary, c.get('userId'), c.req.valid('json'), new Date())
      const identity = await identityOf(deps.db.primary, c.get('userId'), deps.config.ADMIN_OPENIDS)
      return c.json(meView(identity!))
    })
    .get('/invitations', valid('query', InvitationsQuery), async (c) =>
      c.json(await listInvitations(deps.db.primary, c.get('userId'), c.req.valid('query'))),
    )
    .post('/invitations/:id/:answer', valid('param', AnswerParam), async (c) => {
      const { id, answer } = c.req.valid('param')
      return c.json(await answerInvitation(deps.db.primary, c.get('userId'), Number(id), answer, new Date()))
    })
}
