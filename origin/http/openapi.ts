/**
 * The routes are the contract: every origin route is declared with createRoute on a router made
 * here, so the document at /openapi.json is generated from what actually runs.
 */
import { OpenAPIHono, type OpenAPIHonoOptions } from '@hono/zod-openapi'
import type { z } from 'zod'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from './context.ts'
import { validationError } from './validate.ts'

/**
 * Body and query failures are 400 VALIDATION_FAILED naming the field; a path id that does not
 * parse names nothing we issued, so it is 404 like any unknown id (ids are opaque, API.md §1).
 */
export const validationHook: OpenAPIHonoOptions<AppEnv>['defaultHook'] = (result) => {
  if (result.success) return
  if (result.target === 'param') throw new AppError('NOT_FOUND', 'No such resource')
  throw validationError((result.error as z.ZodError).issues)
}

export const router = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

/** The document of every route registered on `app`, served at /openapi.json. */
export function describeApi(app: OpenAPIHono<AppEnv>): Record<string, unknown> {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'The token from POST /api/auth/login (the edge verifies it first)',
  })
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Points API: WeChat mini-program loyalty points',
      version: '1.0.0',
      description:
        'Every /api route except the WeChat callbacks is reached through the edge, which signs it (docs/API.md).',
    },
    servers: [{ url: '/' }],
  }) as unknown as Record<string, unknown>
}
