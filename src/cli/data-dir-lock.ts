/**
 * One node per data directory. Two processes on one data dir would share a peer id (and an
 * orchestrator's redemption queue): the mesh sees one peer flapping between two addresses and
 * neither is heard reliably. A lock file holding the owner's pid refuses the second; a lock left by
 * a process that died is taken over.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { FramemeshError } from '../errors.js'

export const LOCK_FILE_NAME = 'node.lock'

export class DataDirInUseError extends FramemeshError {
  constructor(dataDir: string, pid: number, command: string, lockPath: string) {
    super(
      'ERR_DATA_DIR_IN_USE',
      `another framemesh node (${command}, pid ${pid}) runs on ${dataDir}; stop it first or give this one its own --data-dir (if no such process runs, delete ${lockPath})`,
      { details: { dataDir, pid } },
    )
  }
}

export interface DataDirLock {
  release(): Promise<void>
}

export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, LOCK_FILE_NAME)
  // Two tries: the second after removing a lock whose owner is gone.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600)
      await file.writeFile(JSON.stringify({ pid: process.pid, command }))
      await file.close()
      return { release: () => rm(path, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = await readOwner(path)
    // Our own pid counts as alive: another command in this process holds the directory.
    if (owner !== undefined && alive(owner.pid)) {
      throw new DataDirInUseError(dataDir, owner.pid, owner.command, path)
    }
    await rm(path, { force: true })
  }
  throw new FramemeshError(
    'ERR_DATA_DIR_IN_USE',
    `cannot take the lock ${path}; another node keeps taking it`,
  )
}

async function readOwner(path: string): Promise<{ pid: number; command: string } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown; command?: unknown }
    if (typeof parsed.pid !== 'number') return undefined
    return { pid: parsed.pid, command: typeof parsed.command === 'string' ? parsed.command : 'unknown' }
  } catch {
    // Unreadable or half-written: treated as stale.
    return undefined
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
