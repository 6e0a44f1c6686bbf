// Rounds longer than the EVM's 256-block hash window: RoundKeeper keeps their tickets redeemable.
import anyTest, { type TestFn } from 'ava'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { ChainWatcher } from '../../src/tickets/broker-watcher.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { RoundKeeper } from '../../src/tickets/round-keeper.js'
import { addressOf, currentTicket, ETH, walletOf } from './chain-fixtures.js'

interface Ctx {
  chain: DevChain
  reader: TicketBrokerClient
  recipient: TicketBrokerClient
}

const test = anyTest as TestFn<Ctx>
const ROUND = 300

test.before(async (t) => {
  const chain = await startDevChain({ accounts: 3, roundLength: ROUND })
  const sender = new TicketBrokerClient({ wallet: walletOf(chain, 1) }, chain.clientOptions)
  await sender.fundDeposit(ETH)
  sender.close()
  t.context = {
    chain,
    reader: new TicketBrokerClient({}, chain.clientOptions),
    recipient: new TicketBrokerClient({ wallet: walletOf(chain, 2) }, chain.clientOptions),
  }
})

test.after.always(async (t) => {
  t.context.reader?.close()
  t.context.recipient?.close()
  await t.context.chain?.stop()
})

/** Mines to `offset` blocks into the next round. */
async function intoNextRound(ctx: Ctx, offset: number): Promise<void> {
  const block = Number(await ctx.reader.getBlockNumber())
  await ctx.chain.mine(ROUND - (block % ROUND) + offset)
}

const ticketOf = (ctx: Ctx) =>
  currentTicket(ctx.reader, {
    senderKey: walletOf(ctx.chain, 1).privateKey,
    recipient: addressOf(ctx.chain, 2),
    faceValue: 1000n,
  })

test.serial(
  'without initialization a long round loses its block hash after 256 blocks: ERR_TICKET_ROUND_UNKNOWN',
  async (t) => {
    await intoNextRound(t.context, 1)
    t.false(await t.context.reader.isCurrentRoundInitialized())
    const wt = await ticketOf(t.context)
    await t.context.chain.mine(260)
    await t.throwsAsync(t.context.reader.getRoundInfo(), { code: 'ERR_TICKET_ROUND_UNKNOWN' } as never)
    await t.throwsAsync(t.context.recipient.redeemWinningTicket(wt), {
      code: 'ERR_TICKET_ROUND_UNKNOWN',
    } as never)
    await t.throwsAsync(t.context.recipient.initializeRound(), { code: 'ERR_TICKET_ROUND_UNKNOWN' } as never)
  },
)

test.serial(
  'RoundKeeper stores each new round hash, so tickets stay redeemable past 256 blocks',
  async (t) => {
    const { reader, recipient, chain } = t.context
    await intoNextRound(t.context, 1)
    const watcher = new ChainWatcher({ broker: reader }, { pollIntervalMs: 20 })
    await watcher.start()
    const keeper = new RoundKeeper({ broker: recipient, watcher })
    await keeper.ensure()
    t.true(await reader.isCurrentRoundInitialized())
    const block = await reader.getBlockNumber()
    await keeper.ensure() // already initialized: no transaction
    t.is(await reader.getBlockNumber(), block)

    const wt = await ticketOf(t.context)
    await chain.mine(260)
    t.is((await reader.getRoundInfo()).blockHash, wt.ticket.creationRoundBlockHash)
    t.is((await recipient.redeemWinningTicket(wt)).paid, 1000n)

    // Started, it initializes the rounds the watcher reports.
    await keeper.start()
    const nextRound = new Promise<bigint>((resolve) => watcher.onRound(resolve))
    await intoNextRound(t.context, 1)
    await nextRound
    await keeper.stop()
    t.true(await reader.isCurrentRoundInitialized())
    watcher.stop()
  },
)
