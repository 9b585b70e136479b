import { Hono } from 'hono'
import { UpdateMeRequest } from '../../shared/schemas.ts'
import { requireRole, requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { valid } from '../http/validate.ts'
import { identityOf, meView, updateProfile } from '../services/users.ts'

export function meRoutes(deps: OriginDeps) {
  return new Hono<AppEnv>()
    .use(requireUser(deps.config.JWT_SECRET), requireRole(deps, 'user'))
    .get('/', (c) => c.json(meView(c.get('identity'))))
    .patch('/', valid('json', UpdateMeRequest), async (c) => {
      await updateProfile(deps.db.primary, c.get('userId'), c.req.valid('json'), new Date())
      const identity = await identityOf(deps.db.primary, c.get('userId'), deps.config.ADMIN_OPENIDS)
      return c.json(meView(identity!))
    })
}
