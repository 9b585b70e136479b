/**
 * What `npm ci --omit=dev` installs, measured without installing: every package the lockfile does
 * not mark dev (or devOptional) and that is present in node_modules (optional packages for other
 * platforms are not), each counted once without its nested node_modules, in disk blocks as `du` counts them.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface LockEntry {
  dev?: boolean
  devOptional?: boolean
}

// A file hard-linked twice (workerd links its platform binary into its own bin/) counts once.
function diskBytes(dir: string, seen: Set<number>): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') total += diskBytes(path, seen)
      continue
    }
    const stat = lstatSync(path)
    if (seen.has(stat.ino)) continue
    seen.add(stat.ino)
    total += stat.blocks * 512
  }
  return total
}

export interface ProductionInstall {
  bytes: number
  packages: number
  /** Package names as installed (a nested copy counts under its own name). */
  names: string[]
  largest: Array<[string, number]>
}

export function productionInstall(root: string): ProductionInstall {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>
  }
  const sizes: Array<[string, number]> = []
  const seen = new Set<number>()
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || entry.dev || entry.devOptional) continue
    const dir = join(root, path)
    if (existsSync(dir)) sizes.push([path.slice('node_modules/'.length), diskBytes(dir, seen)])
  }
  sizes.sort((a, b) => b[1] - a[1])
  return {
    bytes: sizes.reduce((s, [, b]) => s + b, 0),
    packages: sizes.length,
    names: [...new Set(sizes.map(([path]) => path.split('node_modules/').pop()!))],
    largest: sizes.slice(0, 8),
  }
}
