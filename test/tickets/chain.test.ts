// TicketBroker on a real local EVM chain (ganache), driven through TicketBrokerClient.
// Serial: tests mine blocks to move rounds, which would expire other tests' tickets mid-flight.
import anyTest, { type TestFn } from 'ava'
import { Contract, Wallet } from 'ethers'
import { type BrokerErrorCode, TicketBrokerClient, ticketTuple } from '../../src/tickets/broker.js'
import { ticketBrokerArtifact } from '../../src/tickets/broker-artifact.generated.js'
import { ChainWatcher } from '../../src/tickets/broker-watcher.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { type Hex, signTicket, ticketHashHex, type WinningTicket } from '../../src/tickets/ticket.js'
import { addressOf, currentTicket, ETH, makeTicket, walletOf } from './chain-fixtures.js'

interface Ctx {
  chain: DevChain
  /** Read-only client. */
  reader: TicketBrokerClient
  clientOf(index: number): TicketBrokerClient
  clients: TicketBrokerClient[]
}

const test = anyTest as TestFn<Ctx>

// Accounts: 0 deployer, 1-5 senders, 6 the redeeming recipient, 7 a second recipient, 8 a stranger.
const RECIPIENT = 6
const RECIPIENT2 = 7
const STRANGER = 8

test.before(async (t) => {
  const chain = await startDevChain({
    accounts: 10,
    roundLength: 20,
    unlockPeriod: 2,
    ticketValidityPeriod: 2,
    reserveRecipients: 2,
  })
  const options = chain.clientOptions
  const clients: TicketBrokerClient[] = []
  const byAccount = new Map<number, TicketBrokerClient>()
  // One client per account: a client keeps its wallet's nonce in order.
  const clientOf = (index: number) => {
    let client = byAccount.get(index)
    if (client === undefined) {
      client = new TicketBrokerClient({ wallet: walletOf(chain, index) }, options)
      byAccount.set(index, client)
      clients.push(client)
    }
    return client
  }
  const reader = new TicketBrokerClient({}, options)
  clients.push(reader)
  t.context = { chain, reader, clientOf, clients }
})

test.after.always(async (t) => {
  for (const c of t.context.clients ?? []) c.close()
  await t.context.chain?.stop()
})

/** A ticket of the current round from account `sender` to account `recipient`. */
function ticketFrom(
  ctx: Ctx,
  sender: number,
  recipient: number,
  faceValue: bigint,
  extra: { winProb?: bigint } = {},
): Promise<WinningTicket> {
  const { chain, reader } = ctx
  return currentTicket(reader, {
    senderKey: walletOf(chain, sender).privateKey,
    recipient: addressOf(chain, recipient),
    faceValue,
    ...extra,
  })
}

async function rejectsWith(
  t: { is: (a: unknown, b: unknown, m?: string) => void; fail: (m: string) => void },
  p: Promise<unknown>,
  code: BrokerErrorCode,
) {
  try {
    await p
    t.fail(`expected ${code}, but the call succeeded`)
  } catch (err) {
    t.is((err as { code?: string }).code, code, (err as Error).message)
  }
}

test.serial('the contract computes the same ticket hash as the ticket core', async (t) => {
  const { chain, reader } = t.context
  const wt = await ticketFrom(t.context, 1, RECIPIENT, 123n)
  const contract = new Contract(chain.contractAddress, ticketBrokerArtifact.abi, reader.provider)
  t.is(
    ((await contract.getTicketHash(ticketTuple(wt.ticket))) as string).toLowerCase(),
    ticketHashHex(wt.ticket),
  )
})

test.serial("funding shows up in the sender's on-chain info", async (t) => {
  const { chain, reader } = t.context
  const sender = t.context.clientOf(1)
  await sender.fundDepositAndReserve(2n * ETH, 1n * ETH)
  await sender.fundDeposit(1n * ETH)
  await sender.fundReserve(1n * ETH)
  const info = await reader.getSenderInfo(addressOf(chain, 1))
  t.is(info.deposit, 3n * ETH)
  t.is(info.reserve, 2n * ETH)
  t.is(info.withdrawRound, 0n)
})

test.serial('a winning ticket pays the recipient exactly faceValue from the deposit', async (t) => {
  const { chain, reader } = t.context
  const recipient = t.context.clientOf(RECIPIENT)
  const faceValue = ETH / 10n
  const wt = await currentTicket(reader, {
    senderKey: walletOf(chain, 1).privateKey,
    recipient: addressOf(chain, RECIPIENT),
    faceValue,
  })
  const before = await reader.getBalance(addressOf(chain, RECIPIENT))
  const depositBefore = (await reader.getSenderInfo(addressOf(chain, 1))).deposit
  const tx = await recipient.redeemWinningTicket(wt)
  const after = await reader.getBalance(addressOf(chain, RECIPIENT))
  t.is(after - before + tx.fee, faceValue)
  t.is(tx.paid, faceValue)
  t.is((await reader.getSenderInfo(addressOf(chain, 1))).deposit, depositBefore - faceValue)
  t.true(await reader.isTicketUsed(ticketHashHex(wt.ticket)))
  t.log(`gas used by one redemption paid from the deposit: ${tx.gasUsed}`)
})

test.serial('when the deposit is short, the rest of faceValue comes from the reserve', async (t) => {
  const { chain, reader } = t.context
  const sender = t.context.clientOf(2)
  await sender.fundDepositAndReserve(ETH, 4n * ETH)
  const recipient = t.context.clientOf(RECIPIENT)
  const faceValue = 2n * ETH
  const wt = await currentTicket(reader, {
    senderKey: walletOf(chain, 2).privateKey,
    recipient: addressOf(chain, RECIPIENT),
    faceValue,
  })
  const before = await reader.getBalance(addressOf(chain, RECIPIENT))
  const tx = await recipient.redeemWinningTicket(wt)
  const after = await reader.getBalance(addressOf(chain, RECIPIENT))
  t.is(after - before + tx.fee, faceValue)
  const info = await reader.getSenderInfo(addressOf(chain, 2))
  t.is(info.deposit, 0n)
  t.is(info.reserve, 3n * ETH)
  t.is(info.reserveClaimedInCurrentRound, ETH)
  t.log(`gas used by one redemption drawing on the reserve: ${tx.gasUsed}`)
})

test.serial(
  'a recipient draws at most its share of a reserve per round (reserve split between 2 recipients)',
  async (t) => {
    const { chain, reader } = t.context
    // Start at a fresh round so funding, claim and checks all happen in the same round.
    const blockNumber = await reader.getBlockNumber()
    const roundLength = BigInt(chain.roundLength)
    await chain.mine(Number(roundLength - (blockNumber % roundLength)))
    await t.context.clientOf(3).fundReserve(10n * ETH)
    const recipient = t.context.clientOf(RECIPIENT2)
    const wt = await ticketFrom(t.context, 3, RECIPIENT2, 8n * ETH)
    const claimable = await reader.claimableReserve(addressOf(chain, 3), addressOf(chain, RECIPIENT2))
    t.is(claimable, 5n * ETH)
    const before = await reader.getBalance(addressOf(chain, RECIPIENT2))
    const tx = await recipient.redeemWinningTicket(wt)
    const paid = (await reader.getBalance(addressOf(chain, RECIPIENT2))) - before + tx.fee
    // The share is (remaining + claimed this round) / 2 = 5 ETH, whatever the ticket's faceValue.
    t.is(await reader.getCurrentRound(), wt.ticket.creationRound)
    t.is(paid, 5n * ETH)
    t.is(tx.paid, 5n * ETH)
    t.is((await reader.getSenderInfo(addressOf(chain, 3))).reserve, 5n * ETH)
    t.is(await reader.claimableReserve(addressOf(chain, 3), addressOf(chain, RECIPIENT2)), 0n)
    // The other recipient's share is untouched.
    t.is(await reader.claimableReserve(addressOf(chain, 3), addressOf(chain, RECIPIENT)), 5n * ETH)
  },
)

test.serial('redeeming the same ticket twice fails with ERR_TICKET_USED', async (t) => {
  const recipient = t.context.clientOf(RECIPIENT)
  const wt = await ticketFrom(t.context, 1, RECIPIENT, 1000n)
  await recipient.redeemWinningTicket(wt)
  await rejectsWith(t, recipient.redeemWinningTicket(wt), 'ERR_TICKET_USED')
})

test.serial('a losing ticket (winProb 0) fails with ERR_TICKET_NOT_WINNING', async (t) => {
  const wt = await ticketFrom(t.context, 1, RECIPIENT, 1000n, { winProb: 0n })
  await rejectsWith(t, t.context.clientOf(RECIPIENT).redeemWinningTicket(wt), 'ERR_TICKET_NOT_WINNING')
})

test.serial('a wrong recipientRand fails with ERR_RECIPIENT_RAND_MISMATCH', async (t) => {
  const wt = await ticketFrom(t.context, 1, RECIPIENT, 1000n)
  const wrong: WinningTicket = { ...wt, recipientRand: wt.recipientRand + 1n }
  await rejectsWith(
    t,
    t.context.clientOf(RECIPIENT).redeemWinningTicket(wrong),
    'ERR_RECIPIENT_RAND_MISMATCH',
  )
})

test.serial(
  'a ticket signed by someone other than its sender fails with ERR_SIGNATURE_INVALID',
  async (t) => {
    const { chain } = t.context
    const wt = await ticketFrom(t.context, 1, RECIPIENT, 1000n)
    const forged: WinningTicket = {
      ...wt,
      signature: signTicket(wt.ticket, walletOf(chain, STRANGER).privateKey as Hex),
    }
    await rejectsWith(t, t.context.clientOf(RECIPIENT).redeemWinningTicket(forged), 'ERR_SIGNATURE_INVALID')
    const badV: WinningTicket = { ...wt, signature: `${wt.signature.slice(0, 130)}1d` as Hex }
    await rejectsWith(t, t.context.clientOf(RECIPIENT).redeemWinningTicket(badV), 'ERR_SIGNATURE_INVALID')
  },
)

test.serial('the high-S twin of a valid signature fails with ERR_SIGNATURE_MALLEABLE', async (t) => {
  const wt = await ticketFrom(t.context, 1, RECIPIENT, 1000n)
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
  const s = BigInt(`0x${wt.signature.slice(66, 130)}`)
  const v = Number.parseInt(wt.signature.slice(130, 132), 16)
  const twin =
    `${wt.signature.slice(0, 66)}${(n - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex
  await rejectsWith(
    t,
    t.context.clientOf(RECIPIENT).redeemWinningTicket({ ...wt, signature: twin }),
    'ERR_SIGNATURE_MALLEABLE',
  )
})

test.serial(
  'a wrong creation-round block hash fails with ERR_TICKET_ROUND_BLOCK_HASH; a future round with ERR_TICKET_ROUND_UNKNOWN',
  async (t) => {
    const { chain, reader } = t.context
    const round = await reader.getRoundInfo()
    const base = {
      senderKey: walletOf(chain, 1).privateKey,
      recipient: addressOf(chain, RECIPIENT),
      faceValue: 1000n,
    }
    const wrongHash = makeTicket({
      ...base,
      creationRound: round.round,
      creationRoundBlockHash: `0x${'ab'.repeat(32)}`,
    })
    await rejectsWith(
      t,
      t.context.clientOf(RECIPIENT).redeemWinningTicket(wrongHash),
      'ERR_TICKET_ROUND_BLOCK_HASH',
    )
    const future = makeTicket({
      ...base,
      creationRound: round.round + 5n,
      creationRoundBlockHash: round.blockHash,
    })
    await rejectsWith(
      t,
      t.context.clientOf(RECIPIENT).redeemWinningTicket(future),
      'ERR_TICKET_ROUND_UNKNOWN',
    )
  },
)

test.serial('a ticket older than the validity period fails with ERR_TICKET_EXPIRED', async (t) => {
  const { chain } = t.context
  const wt = await ticketFrom(t.context, 1, RECIPIENT, 1000n)
  await chain.mine(chain.roundLength * chain.ticketValidityPeriod)
  await rejectsWith(t, t.context.clientOf(RECIPIENT).redeemWinningTicket(wt), 'ERR_TICKET_EXPIRED')
})

test.serial('batch redemption pays every valid ticket and skips a used one', async (t) => {
  const { chain, reader } = t.context
  const recipient = t.context.clientOf(RECIPIENT)
  await t.context.clientOf(4).fundDeposit(ETH)
  const spec = {
    senderKey: walletOf(chain, 4).privateKey,
    recipient: addressOf(chain, RECIPIENT),
    faceValue: 1000n,
  }
  const gas: string[] = []
  for (const n of [1, 5, 10]) {
    const batch = await Promise.all(Array.from({ length: n }, () => currentTicket(reader, spec)))
    const result = await recipient.batchRedeemWinningTickets(batch)
    t.true(result.outcomes.every((o) => o.redeemed && o.paid === 1000n))
    gas.push(`${n} tickets: ${result.gasUsed} gas (${result.gasUsed / BigInt(n)} per ticket)`)
  }
  const depositBefore = (await reader.getSenderInfo(addressOf(chain, 4))).deposit
  const fresh = await currentTicket(reader, spec)
  const used = await currentTicket(reader, spec)
  await recipient.redeemWinningTicket(used)
  const result = await recipient.batchRedeemWinningTickets([fresh, used])
  t.deepEqual(
    result.outcomes.map((o) => [o.redeemed, o.error?.code]),
    [
      [true, undefined],
      [false, 'ERR_TICKET_USED'],
    ],
  )
  t.is((await reader.getSenderInfo(addressOf(chain, 4))).deposit, depositBefore - 2000n)
  t.log(`batch redemption gas: ${gas.join('; ')}`)
})

test.serial(
  'unlock, then withdraw after the unlock period returns deposit and reserve; tickets stop redeeming',
  async (t) => {
    const { chain, reader } = t.context
    const sender = t.context.clientOf(5)
    const senderAddress = addressOf(chain, 5)
    await sender.fundDepositAndReserve(3n * ETH, 2n * ETH)
    await rejectsWith(t, sender.withdraw(), 'ERR_NO_UNLOCK_IN_PROGRESS')

    await sender.unlock()
    await rejectsWith(t, sender.unlock(), 'ERR_UNLOCK_IN_PROGRESS')
    await sender.cancelUnlock()
    t.is((await reader.getSenderInfo(senderAddress)).withdrawRound, 0n)

    await sender.unlock()
    const { withdrawRound } = await reader.getSenderInfo(senderAddress)
    t.is(withdrawRound, (await reader.getCurrentRound()) + BigInt(chain.unlockPeriod))
    await rejectsWith(t, sender.withdraw(), 'ERR_SENDER_LOCKED')

    // Tickets still redeem during the unlock period...
    const during = await ticketFrom(t.context, 5, RECIPIENT, 1000n)
    await t.context.clientOf(RECIPIENT).redeemWinningTicket(during)

    await chain.mine(chain.roundLength * chain.unlockPeriod)
    // ...but not once it is over.
    const after = await ticketFrom(t.context, 5, RECIPIENT, 1000n)
    await rejectsWith(t, t.context.clientOf(RECIPIENT).redeemWinningTicket(after), 'ERR_SENDER_UNLOCKED')

    const before = await reader.getBalance(senderAddress)
    const tx = await sender.withdraw()
    t.is((await reader.getBalance(senderAddress)) - before + tx.fee, 5n * ETH - 1000n)
    const info = await reader.getSenderInfo(senderAddress)
    t.deepEqual([info.deposit, info.reserve, info.withdrawRound], [0n, 0n, 0n])
    await rejectsWith(t, sender.withdraw(), 'ERR_SENDER_UNFUNDED')
  },
)

test.serial(
  'a client pointed at an address without a contract fails with ERR_BROKER_NOT_FOUND',
  async (t) => {
    const { chain } = t.context
    const client = new TicketBrokerClient(
      {},
      { rpcUrl: chain.rpcUrl, contractAddress: Wallet.createRandom().address, chainId: chain.chainId },
    )
    t.context.clients.push(client)
    await rejectsWith(t, client.assertDeployed(), 'ERR_BROKER_NOT_FOUND')
  },
)

test.serial('a read-only client cannot send transactions: ERR_NO_WALLET', async (t) => {
  await rejectsWith(t, t.context.reader.fundDeposit(1n), 'ERR_NO_WALLET')
})

test.serial(
  'the chain watcher snapshots block, round, round hash and gas price and reports new rounds',
  async (t) => {
    const { chain, reader } = t.context
    const watcher = new ChainWatcher({ broker: reader }, { pollIntervalMs: 20 })
    t.throws(() => watcher.currentRound, { code: 'ERR_CLOCK_NOT_STARTED' } as never)
    await watcher.start()
    const info = await reader.getRoundInfo()
    t.is(watcher.currentRound, info.round)
    t.is(watcher.roundBlockHash, info.blockHash)
    t.true(watcher.gasPrice > 0n)
    const next = new Promise<bigint>((resolve) => watcher.onRound(resolve))
    await chain.mine(chain.roundLength)
    t.is(await next, info.round + 1n)
    t.is(watcher.roundBlockHash, (await reader.getRoundInfo()).blockHash)
    watcher.stop()
  },
)

test.serial('a client with a malformed RPC URL or broker address is refused with ERR_BROKER_CONFIG', (t) => {
  const { chain } = t.context
  t.throws(
    () => new TicketBrokerClient({}, { rpcUrl: 'localhost:8545', contractAddress: chain.contractAddress }),
    {
      code: 'ERR_BROKER_CONFIG',
    } as never,
  )
  t.throws(() => new TicketBrokerClient({}, { rpcUrl: chain.rpcUrl, contractAddress: '0x1234' }), {
    code: 'ERR_BROKER_CONFIG',
  } as never)
})

test.serial(
  'connect() reads the chain id first; an unreachable RPC fails fast with ERR_CHAIN_UNAVAILABLE',
  async (t) => {
    const { chain } = t.context
    const client = await TicketBrokerClient.connect(
      {},
      { rpcUrl: chain.rpcUrl, contractAddress: chain.contractAddress },
    )
    t.context.clients.push(client)
    t.is((await client.provider.getNetwork()).chainId, BigInt(chain.chainId))
    await client.assertDeployed()
    await t.throwsAsync(
      TicketBrokerClient.connect(
        {},
        { rpcUrl: 'http://127.0.0.1:1', contractAddress: chain.contractAddress },
      ),
      { code: 'ERR_CHAIN_UNAVAILABLE' } as never,
    )
  },
)

test.serial("funding by someone else does not cancel a sender's unlock; funding itself does", async (t) => {
  const { chain, reader } = t.context
  const sender = t.context.clientOf(9)
  await sender.fundDeposit(ETH)
  await sender.unlock()
  const { withdrawRound } = await reader.getSenderInfo(addressOf(chain, 9))
  t.true(withdrawRound > 0n)
  // A stranger tops the sender up (0 wei here): the unlock stands.
  const stranger = new Contract(
    chain.contractAddress,
    ticketBrokerArtifact.abi,
    walletOf(chain, STRANGER).connect(reader.provider),
  )
  await (await stranger.fundDepositAndReserveFor(addressOf(chain, 9), 0n, 0n, { value: 0n })).wait()
  t.is((await reader.getSenderInfo(addressOf(chain, 9))).withdrawRound, withdrawRound)
  await sender.fundReserve(1n)
  t.is((await reader.getSenderInfo(addressOf(chain, 9))).withdrawRound, 0n)
})
