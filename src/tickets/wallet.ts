/**
 * The node's Ethereum account: a standard JSON keystore (v3, scrypt) that geth, go-livepeer,
 * MetaMask and ethers all read, so the key can be moved in or out with ordinary tools. The
 * address is readable without the password; signing needs it.
 */
import { constants } from 'node:fs'
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { encryptKeystoreJson, getAddress, Wallet } from 'ethers'
import { FramemeshError } from '../errors.js'
import type { Address } from './bytes.js'
import { bytesToHex } from './bytes.js'
import { decryptSenderKey } from './keystore.js'

export const WALLET_FILE_NAME = 'wallet.json'
/** ethers' and geth's default scrypt cost: ~1 s to unlock, which is the point. */
export const DEFAULT_SCRYPT_N = 131_072

export type WalletErrorCode =
  | 'ERR_WALLET_EXISTS'
  | 'ERR_WALLET_NOT_FOUND'
  | 'ERR_WALLET_FILE'
  | 'ERR_WALLET_PASSWORD'

export class WalletError extends FramemeshError {
  declare readonly code: WalletErrorCode
  constructor(code: WalletErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

export function walletFilePath(dataDir: string): string {
  return join(dataDir, WALLET_FILE_NAME)
}

export interface CreateWalletOptions {
  /** scrypt cost (a power of two); lower unlocks faster and resists guessing less. */
  scryptN?: number
  /** Import this key instead of generating one (0x hex). */
  privateKey?: string
  signal?: AbortSignal
}

/** Creates a new keystore at `path` (mode 0600). Never overwrites an existing file. */
export async function createWalletFile(
  path: string,
  password: string,
  options: CreateWalletOptions = {},
): Promise<Address> {
  checkPassword(password)
  if (await exists(path)) {
    throw new WalletError(
      'ERR_WALLET_EXISTS',
      `a wallet already exists at ${path}; refusing to overwrite it (move it away first if you really mean to)`,
    )
  }
  const wallet = options.privateKey === undefined ? Wallet.createRandom() : new Wallet(options.privateKey)
  const json = await encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    {
      scrypt: { N: options.scryptN ?? DEFAULT_SCRYPT_N },
      progressCallback: () => {
        if (options.signal?.aborted) throw new FramemeshError('ERR_ABORTED', 'wallet creation was aborted')
      },
    },
  )
  await mkdir(dirname(path), { recursive: true })
  // Write then rename, so a crash never leaves a half-written keystore under the real name.
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, json, { mode: 0o600, flag: 'wx' })
  await rename(tmp, path)
  return wallet.address.toLowerCase() as Address
}

/** The keystore's address, read without decrypting; undefined when there is no file. */
export async function readWalletAddress(path: string): Promise<Address | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new WalletError('ERR_WALLET_FILE', `cannot read the wallet at ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  try {
    const { address } = JSON.parse(text) as { address?: string }
    return getAddress(address!.startsWith('0x') ? address! : `0x${address}`).toLowerCase() as Address
  } catch (cause) {
    throw new WalletError('ERR_WALLET_FILE', `${path} is not an Ethereum JSON keystore with an address`, {
      cause,
    })
  }
}

/** Decrypts the keystore at `path` into a signer. */
export async function loadWalletFile(
  path: string,
  password: string,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Wallet> {
  let json: string
  try {
    json = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WalletError(
        'ERR_WALLET_NOT_FOUND',
        `no wallet at ${path}; create one with \`framemesh wallet new\``,
        {
          cause: err,
        },
      )
    }
    throw new WalletError('ERR_WALLET_FILE', `cannot read the wallet at ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  try {
    return new Wallet(bytesToHex(await decryptSenderKey(json, password, options)))
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_KEYSTORE') {
      throw new WalletError(
        'ERR_WALLET_PASSWORD',
        `cannot unlock ${path}: wrong password or a damaged file (set FRAMEMESH_WALLET_PASSWORD or --password-file)`,
        { cause: err },
      )
    }
    throw err
  }
}

function checkPassword(password: string): void {
  if (password.length === 0) {
    throw new WalletError(
      'ERR_WALLET_PASSWORD',
      'a wallet password is required: set FRAMEMESH_WALLET_PASSWORD or pass --password-file <file>',
    )
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK)
    return true
  } catch {
    return false
  }
}
