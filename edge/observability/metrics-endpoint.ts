import type { Context } from 'hono'
import { timingSafeEqual } from 'hono/utils/buffer'
import { AppError } from '../../shared/errors.ts'
import type { EdgeEnv } from '../types.ts'
import { type EdgeMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.ts'

/**
 * GET /metrics on the Deno deployment, for Prometheus with `Authorization: Bearer METRICS_TOKEN`.
 * Mounted only when METRICS_TOKEN is set (otherwise /metrics is an ordinary 404): the edge faces
 * the internet, and its traffic shape is nobody else's business. A wrong or missing bearer is 401.
 */
export const metricsEndpoint =
  (metrics: EdgeMetrics, token: string) =>
  async (c: Context<EdgeEnv>): Promise<Response> => {
    if (!(await timingSafeEqual(c.req.header('authorization') ?? '', `Bearer ${token}`)))
      throw new AppError('UNAUTHENTICATED', 'metrics need the METRICS_TOKEN bearer', undefined, {
        'www-authenticate': 'Bearer',
      })
    return c.body(metrics.render(), 200, {
      'content-type': PROMETHEUS_CONTENT_TYPE,
      'cache-control': 'no-store',
    })
  }
