// The dev chain's shutdown, and what its clients stop sending when they are stopped. Each test
// runs its own chain: an unhandled rejection is process-wide, so nothing else may run beside it.
import anyTest, { type TestFn } from 'ava'
import { JsonRpcProvider } from 'ethers'
import { withDeadline } from '../../src/tickets/abortable.js'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { ChainWatcher } from '../../src/tickets/broker-watcher.js'
import { startDevChain } from '../../src/tickets/devchain.js'
import { within } from '../helpers/peer.js'

const test = anyTest.serial as TestFn

test('a dev chain stopped while it answers requests finishes them first and leaves no unhandled rejection', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))
  const chain = await startDevChain({ accounts: 3, roundLength: 1_000 })
  t.teardown(() => chain.stop())
  const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
  })
  t.teardown(() => provider.destroy())
  const [from, to] = [chain.accounts[1]!.address, chain.accounts[2]!.address]
  // ganache fails inside an eth_estimateGas whose database closes under it; before the fix that
  // surfaced as an unhandled levelup error (ava: `Error {}`) and the request was never answered.
  const estimates = Array.from({ length: 6 }, () =>
    provider.estimateGas({ from, to, value: 1n }).then(
      () => 'answered',
      (err: { code?: string }) => `refused (${err.code})`,
    ),
  )
  // Answered after the estimates were taken: they are being worked on now.
  await provider.getBlockNumber()
  await chain.stop()
  const outcomes = await within(Promise.all(estimates), 10_000, 'every request sent before stop was answered')
  t.true(outcomes.includes('answered'), `the chain was stopped before it took any request: ${outcomes}`)
  // Rejections left unhandled are reported once the microtasks of this turn have run.
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(unhandled, [])
})

test('a chain call whose signal has already fired sends nothing and fails with ERR_ABORTED or ERR_TIMEOUT', async (t) => {
  let started = 0
  const work = async () => {
    started++
    return 1
  }
  await t.throwsAsync(withDeadline(work, { signal: AbortSignal.abort(), timeoutMs: 1_000, what: 'a read' }), {
    code: 'ERR_ABORTED',
  })
  const timedOut = new AbortController()
  timedOut.abort(new DOMException('gone', 'TimeoutError'))
  await t.throwsAsync(withDeadline(work, { signal: timedOut.signal, timeoutMs: 1_000, what: 'a read' }), {
    code: 'ERR_TIMEOUT',
  })
  t.is(started, 0)
  t.is(
    await withDeadline(work, { signal: new AbortController().signal, timeoutMs: 1_000, what: 'a read' }),
    1,
  )
})

test("stopping the chain watcher cuts off its poll in flight, so it sends no more of that poll's requests", async (t) => {
  const chain = await startDevChain({ accounts: 1, roundLength: 1_000 })
  t.teardown(() => chain.stop())
  const broker = new TicketBrokerClient({}, chain.clientOptions)
  t.teardown(() => broker.close())
  let polls = 0
  let pollStarted!: (signal: AbortSignal | undefined) => void
  const firstPoll = new Promise<AbortSignal | undefined>((resolve) => {
    pollStarted = resolve
  })
  const watcher = new ChainWatcher(
    {
      broker: {
        // The first call is start()'s own snapshot; the second is the first timed poll.
        getRoundInfo: (opts) => {
          if (++polls === 2) pollStarted(opts?.signal)
          return broker.getRoundInfo(opts)
        },
        getGasPrice: (opts) => broker.getGasPrice(opts),
      },
    },
    { pollIntervalMs: 10 },
  )
  await watcher.start()
  const signal = await within(firstPoll, 10_000, 'the first timed poll')
  t.false(signal?.aborted)
  watcher.stop()
  t.true(signal?.aborted)
  await t.throwsAsync(broker.getRoundInfo({ signal }), { code: 'ERR_ABORTED' })
})

test('a dev chain start aborted while ganache is still starting fails with ERR_ABORTED, and ganache winds down without an uncaught error', async (t) => {
  const errors: unknown[] = []
  const onError = (reason: unknown) => errors.push(reason)
  process.on('unhandledRejection', onError)
  process.on('uncaughtException', onError)
  t.teardown(() => {
    process.off('unhandledRejection', onError)
    process.off('uncaughtException', onError)
  })
  const controller = new AbortController()
  const starting = startDevChain({ accounts: 2 }, {}, controller.signal)
  // ganache starts up in the background: aborting now lands before it is done.
  controller.abort()
  await t.throwsAsync(starting, { code: 'ERR_ABORTED' })
  // Disconnecting ganache before its start-up ended threw from inside it ("Cannot resume
  // processing requests"), a turn or two after.
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.deepEqual(errors, [])
})
