/**
 * What every ready-made node needs to start and stop: its libp2p identity (kept in the data
 * directory when there is one) and a teardown list that undoes the start in reverse order.
 */
import { mkdir } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from '../logger.js'
import { loadOrCreatePrivateKey } from '../peer/identity.js'

/** The node's key: from `<dataDir>/peer.key` (created, mode 0600), or a fresh one without a data dir. */
export async function nodeIdentity(dataDir: string | undefined): Promise<PrivateKey> {
  if (dataDir === undefined) return generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  return loadOrCreatePrivateKey(dataDir)
}

/**
 * Stop functions, run last-added first. A failing one is logged and the rest still run, so a
 * half-started node is always taken down whole; running it twice does nothing the second time.
 */
export class Teardown {
  readonly #steps: Array<() => unknown> = []
  readonly #logger: Logger

  constructor(logger: Logger) {
    this.#logger = logger
  }

  add(step: () => unknown): void {
    this.#steps.push(step)
  }

  async run(): Promise<void> {
    await this.runAndReport()
  }

  /** `run`, resolving with what the failing steps threw: for a caller that must not claim a clean stop. */
  async runAndReport(): Promise<unknown[]> {
    const failed: unknown[] = []
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step()
      } catch (err) {
        this.#logger.warn('error while stopping', { error: err })
        failed.push(err)
      }
    }
    return failed
  }
}
