import test from 'ava'
import { hashMessage, SigningKey, solidityPackedKeccak256, verifyMessage, Wallet } from 'ethers'
import { bytesToHex, hexToBytes } from '../../src/tickets/bytes.js'
import { loadNativeBackend, nobleBackend } from '../../src/tickets/secp256k1.js'
import {
  addressOfPrivateKey,
  batchToSignedTickets,
  decodeAuxData,
  encodeAuxData,
  expectedValue,
  isWinningTicket,
  MAX_WIN_PROB,
  recoverMessage32Signer,
  recoverTicketSigner,
  signMessage32,
  signTicket,
  type Ticket,
  ticketHashHex,
  verifyTicketSignature,
  winProbForExpectedValue,
  ZERO_ADDRESS,
  ZERO_BYTES32,
} from '../../src/tickets/ticket.js'

const zeroTicket: Ticket = {
  recipient: ZERO_ADDRESS,
  sender: ZERO_ADDRESS,
  faceValue: 0n,
  winProb: 0n,
  senderNonce: 0,
  recipientRandHash: ZERO_BYTES32,
  creationRound: 0n,
  creationRoundBlockHash: ZERO_BYTES32,
}

test('the ticket hash matches go-livepeer for a maximal senderNonce', (t) => {
  t.is(
    ticketHashHex({ ...zeroTicket, senderNonce: 4294967295 }),
    '0xe1393fc7f6de093780674022f96cb8e3872235167d037c04d554e58c0e63d280',
  )
})

test('the ticket hash matches go-livepeer for faceValue 1, winProb 500', (t) => {
  t.is(
    ticketHashHex({ ...zeroTicket, faceValue: 1n, winProb: 500n }),
    '0x87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd',
  )
})

test('the ticket hash matches go-livepeer for faceValue 500, winProb 1', (t) => {
  t.is(
    ticketHashHex({ ...zeroTicket, faceValue: 500n, winProb: 1n }),
    '0xaa4b35071043587992ac8b9dd1b2cf1d8311130e6458cf0b2342484e21af5f5b',
  )
})

test('the ticket hash matches go-livepeer for a recipientRandHash', (t) => {
  t.is(
    ticketHashHex({
      ...zeroTicket,
      recipientRandHash: '0x41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d',
    }),
    '0xbe5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17',
  )
})

test('the signature vector recovers to its address', (t) => {
  const message = hexToBytes('0xb7da355477356fc4c47fcabcf232dc77a6db9b07b7e48b76261cc55cc8fbabb3')
  const sig =
    '0x206443228e8f784bc3a122de0d85eb3ebff82d6a79cca26c7eeb907099a6404f6dff57bc6828f28bd6cd073c89d94cf3364204679ed8365fa45b5ee6af19a9841c'
  t.is(recoverMessage32Signer(message, sig), '0x3baddb1eee2105893136a3f96c8a963e9c6309d6')
  t.is(recoverMessage32Signer(message, sig, nobleBackend), '0x3baddb1eee2105893136a3f96c8a963e9c6309d6')
})

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318' as const

const sampleTicket = (sender: `0x${string}`): Ticket => ({
  recipient: '0x1111111111111111111111111111111111111111',
  sender,
  faceValue: 10n ** 15n,
  winProb: MAX_WIN_PROB / 100n,
  senderNonce: 7,
  recipientRandHash: '0x41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d',
  creationRound: 42n,
  creationRoundBlockHash: `0x${'ab'.repeat(32)}`,
})

test('a ticket signed with a fixed key has the same bytes as ethers signMessage, on both backends', (t) => {
  const wallet = new Wallet(KEY)
  const sender = addressOfPrivateKey(KEY)
  t.is<string, string>(sender, wallet.address.toLowerCase())
  const ticket = sampleTicket(sender)
  const hash = hexToBytes(ticketHashHex(ticket))
  const expected = wallet.signingKey.sign(hashMessage(hash)).serialized
  t.is<string, string>(signTicket(ticket, KEY), expected)
  t.is<string, string>(signTicket(ticket, KEY, nobleBackend), expected)
  t.is<string, string>(bytesToHex(signMessage32(hash, hexToBytes(KEY))), expected)
})

test('a signature made by ethers verifies and recovers to the sender', (t) => {
  const wallet = new Wallet(KEY)
  const ticket = sampleTicket(wallet.address.toLowerCase() as `0x${string}`)
  const sig = new SigningKey(KEY).sign(hashMessage(hexToBytes(ticketHashHex(ticket)))).serialized
  t.notThrows(() => verifyTicketSignature(ticket, sig))
  t.is(recoverTicketSigner(ticket, sig), ticket.sender)
})

test('auxData round-trips as 64 bytes and the ticket hash covers it', (t) => {
  const aux = encodeAuxData(42n, `0x${'ab'.repeat(32)}`)
  t.is(aux.length, 64)
  t.deepEqual(decodeAuxData(aux), { creationRound: 42n, creationRoundBlockHash: `0x${'ab'.repeat(32)}` })
  const ticket = sampleTicket(ZERO_ADDRESS)
  t.not(ticketHashHex(ticket), ticketHashHex({ ...ticket, creationRound: 43n }))
  t.not(ticketHashHex(ticket), ticketHashHex({ ...ticket, creationRoundBlockHash: ZERO_BYTES32 }))
})

test('expected value is faceValue × winProb / (2^256 − 1) and winProbForExpectedValue inverts it', (t) => {
  t.is(expectedValue(1000n, MAX_WIN_PROB), 1000n)
  t.is(expectedValue(1000n, MAX_WIN_PROB / 2n), 499n)
  const p = winProbForExpectedValue(10n ** 12n, 10n ** 15n)
  t.is(expectedValue(10n ** 15n, p), 10n ** 12n)
})

test('a ticket with winProb 0 never wins and one with the maximum winProb always wins', (t) => {
  const sig = signTicket(sampleTicket(addressOfPrivateKey(KEY)), KEY)
  t.false(isWinningTicket(sig, 123n, 0n))
  t.true(isWinningTicket(sig, 123n, MAX_WIN_PROB))
})

test('ethers recovers our ticket signatures to the sender', (t) => {
  const ticket = sampleTicket(addressOfPrivateKey(KEY))
  const sig = signTicket(ticket, KEY)
  t.is(verifyMessage(hexToBytes(ticketHashHex(ticket)), sig).toLowerCase(), ticket.sender)
})

test('the ticket hash equals abi.encodePacked hashing with the 64-byte auxData TicketBroker uses', (t) => {
  const ticket = sampleTicket(addressOfPrivateKey(KEY))
  const packed = solidityPackedKeccak256(
    ['address', 'address', 'uint256', 'uint256', 'uint256', 'bytes32', 'bytes'],
    [
      ticket.recipient,
      ticket.sender,
      ticket.faceValue,
      ticket.winProb,
      ticket.senderNonce,
      ticket.recipientRandHash,
      encodeAuxData(ticket.creationRound, ticket.creationRoundBlockHash),
    ],
  )
  t.is<string, string>(ticketHashHex(ticket), packed)
})

test('the win check is keccak256(signature ‖ uint256(rand)) < winProb', (t) => {
  const sig = signTicket(sampleTicket(addressOfPrivateKey(KEY)), KEY)
  const rand = 987654321n
  const h = BigInt(solidityPackedKeccak256(['bytes', 'uint256'], [sig, rand]))
  t.true(isWinningTicket(sig, rand, h + 1n))
  t.false(isWinningTicket(sig, rand, h))
})

test('a signature with r = 0 is rejected with ERR_SIGNATURE_INVALID', (t) => {
  const ticket = sampleTicket(addressOfPrivateKey(KEY))
  const bytes = hexToBytes(signTicket(ticket, KEY)).slice()
  bytes.fill(0, 0, 32)
  t.throws(() => verifyTicketSignature(ticket, bytes), { code: 'ERR_SIGNATURE_INVALID' })
})

test('a field of the wrong shape is refused with ERR_TICKET_FIELD before hashing', (t) => {
  const ticket = sampleTicket(addressOfPrivateKey(KEY))
  t.throws(() => ticketHashHex({ ...ticket, recipient: '0x12' }), { code: 'ERR_TICKET_FIELD' })
  t.throws(() => ticketHashHex({ ...ticket, faceValue: 1n << 256n }), { code: 'ERR_TICKET_FIELD' })
  t.throws(() => ticketHashHex({ ...ticket, senderNonce: 2 ** 32 }), { code: 'ERR_TICKET_FIELD' })
  t.throws(() => ticketHashHex({ ...ticket, recipientRandHash: `0x${'zz'.repeat(32)}` }), {
    code: 'ERR_TICKET_FIELD',
  })
})

test('a batch expands into tickets that share its params and differ by nonce', (t) => {
  const sender = addressOfPrivateKey(KEY)
  const ticket = sampleTicket(sender)
  const params = {
    recipient: ticket.recipient,
    faceValue: ticket.faceValue,
    winProb: ticket.winProb,
    recipientRandHash: ticket.recipientRandHash,
    seed: ZERO_BYTES32,
    expirationBlock: 100n,
    expirationParams: {
      creationRound: ticket.creationRound,
      creationRoundBlockHash: ticket.creationRoundBlockHash,
    },
    price: { wei: 1n, units: 1n },
  }
  const signed = batchToSignedTickets({
    sender,
    params,
    tickets: [
      { senderNonce: 7, signature: '0x01' },
      { senderNonce: 8, signature: '0x02' },
    ],
  })
  t.deepEqual(signed[0].ticket, ticket)
  t.is(signed[1].ticket.senderNonce, 8)
  t.is(signed[1].signature, '0x02')
})

test('the native libsecp256k1 binding loads here, and it and noble agree on keys, signatures and recovery', (t) => {
  const native = loadNativeBackend()
  t.truthy(
    native,
    'the prebuilt secp256k1 binding should load on linux-x64; without it validation is ~20x slower',
  )
  if (native === undefined) return
  const key = hexToBytes(KEY)
  t.deepEqual(native.publicKey(key), nobleBackend.publicKey(key))
  const digest = hexToBytes(ticketHashHex(sampleTicket(ZERO_ADDRESS)))
  const a = native.sign(digest, key)
  const b = nobleBackend.sign(digest, key)
  t.deepEqual([bytesToHex(a.signature), a.recid], [bytesToHex(b.signature), b.recid])
  t.deepEqual(
    native.recover(digest, b.signature, b.recid),
    nobleBackend.recover(digest, a.signature, a.recid),
  )
})
