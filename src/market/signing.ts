/**
 * Domain-separated libp2p-key signatures for market messages: each message kind signs
 * "<tag>\n" ‖ body, so a signature made for one kind (an advert) can never pass as another (a quote).
 */
import type { PrivateKey, PublicKey } from '@libp2p/interface'

const encoder = new TextEncoder()

/** The bytes actually signed: the tag, a newline, then the encoded body. */
export function domainBytes(tag: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${tag}\n`)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix, 0)
  out.set(body, prefix.byteLength)
  return out
}

export async function signDomain(
  privateKey: PrivateKey,
  tag: string,
  body: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await privateKey.sign(domainBytes(tag, body)))
}

/** False (never a throw) for a wrong, truncated or garbage signature. */
export async function verifyDomain(
  publicKey: PublicKey,
  tag: string,
  body: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    return await publicKey.verify(domainBytes(tag, body), signature)
  } catch {
    return false
  }
}
