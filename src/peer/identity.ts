/**
 * The peer's long-lived identity: an Ed25519 key in `<dataDir>/peer.key`, protobuf-marshalled the
 * way libp2p does it, so the same peer id survives restarts. Written 0600: the key is the identity.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { InvalidKeyFileError } from './errors.js'

export const KEY_FILE_NAME = 'peer.key'

export function keyFilePath(dataDir: string): string {
  return join(dataDir, KEY_FILE_NAME)
}

/** Reads the key from the data dir, or creates (and stores) a fresh Ed25519 key on first start. */
export async function loadOrCreatePrivateKey(dataDir: string): Promise<PrivateKey> {
  const path = keyFilePath(dataDir)
  const existing = await readKeyFile(path)
  if (existing !== undefined) return existing
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  // 'wx' fails if another process created the file in between: then we use theirs.
  try {
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readKeyFile(path)
      if (raced !== undefined) return raced
    }
    throw new InvalidKeyFileError(`cannot write the peer key to ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  return key
}

/** Reads an existing key without creating one; undefined when the data dir has none yet. */
export async function readKeyFile(path: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new InvalidKeyFileError(`cannot read the peer key ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const mode = (await stat(path)).mode & 0o777
  // A key readable by others is tightened rather than refused: the owner meant to keep it.
  if ((mode & 0o077) !== 0) await chmod(path, 0o600)
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidKeyFileError(
      `the peer key ${path} is not a protobuf-marshalled libp2p private key; move it away to create a new identity`,
      { cause: err },
    )
  }
}

/** The peer id stored in a data dir, without starting a node; undefined when none exists yet. */
export async function readPeerId(dataDir: string): Promise<string | undefined> {
  const key = await readKeyFile(keyFilePath(dataDir))
  return key === undefined ? undefined : peerIdFromPrivateKey(key).toString()
}
