import { createRequire } from 'node:module'
import { secp256k1 as noble } from '@noble/curves/secp256k1.js'

/**
 * The elliptic-curve operations tickets need: sign a 32-byte digest, recover the public key.
 * The recipient recovers one key per ticket it validates, so recovery speed bounds how many
 * tickets a core can check. libsecp256k1 (the prebuilt N-API binding of the `secp256k1`
 * package) recovers ~20x faster than pure-JS noble; noble is the fallback where the binding
 * cannot load. Both produce RFC 6979 deterministic low-S signatures, so the bytes agree.
 */
export interface Secp256k1Backend {
  readonly name: 'libsecp256k1' | 'noble'
  /** Signs a 32-byte digest; returns r‖s (64 bytes, low-S) and the recovery id (0 or 1). */
  sign(digest: Uint8Array, secretKey: Uint8Array): { signature: Uint8Array; recid: number }
  /** Recovers the uncompressed (65-byte) public key; throws if the signature does not recover. */
  recover(digest: Uint8Array, signature: Uint8Array, recid: number): Uint8Array
  /** The uncompressed (65-byte) public key of a secret key; throws if the key is invalid. */
  publicKey(secretKey: Uint8Array): Uint8Array
}

interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number }
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array
}

export const nobleBackend: Secp256k1Backend = Object.freeze({
  name: 'noble' as const,
  sign(digest: Uint8Array, secretKey: Uint8Array) {
    const rec = noble.sign(digest, secretKey, { prehash: false, format: 'recovered' })
    // noble's 'recovered' layout is recid‖r‖s
    return { signature: rec.subarray(1), recid: rec[0] }
  },
  recover(digest: Uint8Array, signature: Uint8Array, recid: number) {
    const sig = noble.Signature.fromBytes(signature, 'compact').addRecoveryBit(recid)
    return sig.recoverPublicKey(digest).toBytes(false)
  },
  publicKey(secretKey: Uint8Array) {
    return noble.getPublicKey(secretKey, false)
  },
})

/** Loads the native binding directly (not the package's index, which silently falls back to slow elliptic). */
export function loadNativeBackend(): Secp256k1Backend | undefined {
  let native: NativeSecp256k1
  try {
    native = createRequire(import.meta.url)('secp256k1/bindings') as NativeSecp256k1
  } catch {
    return undefined
  }
  return Object.freeze({
    name: 'libsecp256k1' as const,
    sign: (digest: Uint8Array, secretKey: Uint8Array) => {
      const { signature, recid } = native.ecdsaSign(digest, secretKey)
      return { signature, recid }
    },
    recover: (digest: Uint8Array, signature: Uint8Array, recid: number) =>
      native.ecdsaRecover(signature, recid, digest, false),
    publicKey: (secretKey: Uint8Array) => native.publicKeyCreate(secretKey, false),
  })
}

/** The fastest backend this machine has; immutable, chosen once at import. */
export const defaultBackend: Secp256k1Backend = loadNativeBackend() ?? nobleBackend
