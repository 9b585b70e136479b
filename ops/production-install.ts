/**
 * What `npm ci --omit=dev` installs, measured without installing: every package the lockfile does
 * not mark dev (devOptional ones stay: npm leaves those out only when optional ones are omitted
 * too) and that is present in node_modules (optional packages for other platforms are not), each
 * counted once without its nested node_modules, in disk blocks as `du` counts them.
 */
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

interface LockEntry {
  dev?: boolean
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
    if (!path.startsWith('node_modules/') || entry.dev) continue
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

/**
 * A directory that holds only what production has: dist/ and a node_modules of symlinks to the
 * production packages of `root`. Run with `node --preserve-symlinks`, a module that imports a dev
 * dependency fails there as it would after `npm ci --omit=dev`, without installing anything.
 */
export function productionTree(root: string): string {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>
  }
  const dir = mkdtempSync(join(tmpdir(), 'points-production-'))
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Top-level packages only: nested copies come along inside their parent.
    if (!path.startsWith('node_modules/') || path.lastIndexOf('node_modules/') !== 0 || entry.dev) continue
    if (!existsSync(join(root, path))) continue
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    symlinkSync(join(root, path), join(dir, path), 'dir')
  }
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(root, 'package.json'), join(dir, 'package.json'))
  return dir
}
