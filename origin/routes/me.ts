import { createRoute } from '@hono/zod-openapi'
import { InvitationsQuery, UpdateMeRequest } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { router } from '../http/openapi.ts'
import { deleteAccount } from '../services/accounts.ts'
import { answerInvitation, listInvitations } from '../services/staff.ts'
import { identityOf, meView, updateProfile } from '../services/users.ts'
import {
  AccountDeleted,
  bearer,
  body,
  errors,
  IdParam,
  Invitation,
  InvitationPage,
  json,
  Me,
  USER_ERRORS,
} from './components.ts'

const tags = ['me']

const get = createRoute({
  method: 'get',
  path: '/',
  operationId: 'getMe',
  summary: 'The caller',
  tags,
  security: bearer,
  responses: { 200: json(Me, 'The caller'), ...errors(...USER_ERRORS) },
})

const update = createRoute({
  method: 'patch',
  path: '/',
  operationId: 'updateMe',
  summary: 'Update nickname or avatar',
  tags,
  security: bearer,
  request: { body: body(UpdateMeRequest) },
  responses: { 200: json(Me, 'The caller, updated'), ...errors(...USER_ERRORS) },
})

const remove = createRoute({
  method: 'delete',
  path: '/',
  operationId: 'deleteMe',
  summary:
    'Delete the account: pending orders closed, pending gifts cancelled, the balance forfeited, the profile erased',
  description:
    'A merchant owner gets 409 INVALID_STATE; a frozen account gets 403 ACCOUNT_FROZEN. Afterwards every token of the account answers 401, and logging in again with the same WeChat user creates a new, empty account.',
  tags,
  security: bearer,
  responses: { 200: json(AccountDeleted, 'The account is deleted'), ...errors(...USER_ERRORS, 409, 502) },
})

const invitations = createRoute({
  method: 'get',
  path: '/invitations',
  operationId: 'listMyInvitations',
  summary: 'Staff invitations addressed to the caller',
  tags,
  security: bearer,
  request: { query: InvitationsQuery },
  responses: { 200: json(InvitationPage, 'A page of invitations'), ...errors(...USER_ERRORS) },
})

const answer = (verb: 'accept' | 'decline', summary: string) =>
  createRoute({
    method: 'post',
    path: `/invitations/{id}/${verb}`,
    operationId: `${verb}Invitation`,
    summary,
    tags,
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(Invitation, 'The invitation, answered'), ...errors(...USER_ERRORS, 404, 409) },
  })

export function meRoutes(deps: OriginDeps) {
  const app = router()
  app.use(requireUser(deps))
  const answered = (verb: 'accept' | 'decline') => async (c: { get(k: 'userId'): number }, id: string) =>
    answerInvitation(deps.db.primary, c.get('userId'), Number(id), verb, new Date())
  return app
    .openapi(get, (c) => c.json(meView(c.get('identity')), 200))
    .openapi(update, async (c) => {
      await updateProfile(deps.db.primary, c.get('userId'), c.req.valid('json'), new Date())
      const identity = await identityOf(deps.db.primary, c.get('userId'), deps.config.ADMIN_OPENIDS)
      return c.json(meView(identity!), 200)
    })
    .openapi(remove, async (c) => c.json(await deleteAccount(deps, c.get('userId')), 200))
    .openapi(invitations, async (c) =>
      c.json(await listInvitations(deps.db.primary, c.get('userId'), c.req.valid('query')), 200),
    )
    .openapi(
      answer('accept', 'Accept a staff invitation: only now does the caller become staff'),
      async (c) => c.json(await answered('accept')(c, c.req.valid('param').id), 200),
    )
    .openapi(answer('decline', 'Decline a staff invitation'), async (c) =>
      c.json(await answered('decline')(c, c.req.valid('param').id), 200),
    )
}
