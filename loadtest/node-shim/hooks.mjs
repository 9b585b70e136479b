/** Module hooks: k6's built-in modules resolve to the shim's stand-ins. */
const STAND_INS = { k6: './k6.mjs', 'k6/http': './k6-http.mjs', 'k6/metrics': './k6-metrics.mjs' }

export async function resolve(specifier, context, next) {
  const standIn = STAND_INS[specifier]
  if (standIn) return { url: new URL(standIn, import.meta.url).href, shortCircuit: true }
  return next(specifier, context)
}
