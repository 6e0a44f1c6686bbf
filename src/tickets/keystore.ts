import { decryptKeystoreJson, isKeystoreJson } from 'ethers'
import { AbortedError } from '../errors.js'
import type { Hex } from './bytes.js'
import { TicketError } from './errors.js'
import { parsePrivateKey } from './ticket.js'

/**
 * Reads a sender key from an Ethereum JSON keystore (the format geth, go-livepeer and ethers
 * write). Decryption runs scrypt and can take seconds, so it honours a signal and a timeout.
 */
export async function decryptSenderKey(
  json: string,
  password: string,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Uint8Array> {
  if (!isKeystoreJson(json)) {
    throw new TicketError(
      'ERR_KEYSTORE',
      'the key file is not an Ethereum JSON keystore (version 3); check the path',
    )
  }
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  let privateKey: string
  try {
    // scrypt reports progress between chunks; throwing there is the only way to stop it early.
    const account = await decryptKeystoreJson(json, password, () => {
      if (signal.aborted) throw new AbortedError('keystore decryption was aborted', { cause: signal.reason })
    })
    privateKey = account.privateKey
  } catch (cause) {
    if (cause instanceof AbortedError) throw cause
    throw new TicketError(
      'ERR_KEYSTORE',
      'could not decrypt the keystore: wrong password or a damaged file',
      {
        cause,
      },
    )
  }
  return parsePrivateKey(privateKey as Hex)
}
