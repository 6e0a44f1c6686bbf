// Shared by the chain and redemption tests: make and sign tickets against a live dev chain.
import { randomBytes } from 'node:crypto'
import { Wallet } from 'ethers'
import type { TicketBrokerClient } from '../../src/tickets/broker.js'
import type { DevChain } from '../../src/tickets/devchain.js'
import type { Address, Hex, Ticket, WinningTicket } from '../../src/tickets/ticket.js'
import { MAX_WIN_PROB, recipientRandHash, signTicket } from '../../src/tickets/ticket.js'

export const ETH = 10n ** 18n

export function randomRand(): bigint {
  return BigInt(`0x${randomBytes(32).toString('hex')}`)
}

export function walletOf(chain: DevChain, index: number): Wallet {
  return new Wallet(chain.accounts[index].privateKey)
}

export function addressOf(chain: DevChain, index: number): Address {
  return chain.accounts[index].address.toLowerCase() as Address
}

export interface TicketSpec {
  senderKey: string
  recipient: Address
  faceValue: bigint
  winProb?: bigint
  senderNonce?: number
  recipientRand?: bigint
  creationRound: bigint
  creationRoundBlockHash: Hex
}

/** A ticket signed by `senderKey`; winProb defaults to 2^256−1 so it always wins. */
export function makeTicket(spec: TicketSpec): WinningTicket {
  const recipientRand = spec.recipientRand ?? randomRand()
  const senderKey = spec.senderKey as Hex
  const ticket: Ticket = {
    recipient: spec.recipient,
    sender: new Wallet(senderKey).address.toLowerCase() as Address,
    faceValue: spec.faceValue,
    winProb: spec.winProb ?? MAX_WIN_PROB,
    senderNonce: spec.senderNonce ?? randomBytes(4).readUInt32BE(0),
    recipientRandHash: recipientRandHash(recipientRand),
    creationRound: spec.creationRound,
    creationRoundBlockHash: spec.creationRoundBlockHash,
  }
  return { ticket, signature: signTicket(ticket, senderKey), recipientRand }
}

/** A ticket from the chain's current round. */
export async function currentTicket(
  client: TicketBrokerClient,
  spec: Omit<TicketSpec, 'creationRound' | 'creationRoundBlockHash'>,
): Promise<WinningTicket> {
  const round = await client.getRoundInfo()
  return makeTicket({ ...spec, creationRound: round.round, creationRoundBlockHash: round.blockHash })
}
