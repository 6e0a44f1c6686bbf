// withTeardown: how a long-running command stops what it started, whichever way it ends.
import test from 'ava'
import { withTeardown } from '../../src/cli/runtime.js'
import { FramemeshError } from '../../src/errors.js'
import { createLogger } from '../../src/logger.js'

function recorder() {
  const log: string[] = []
  const said: string[] = []
  return {
    log,
    said,
    logger: createLogger({ level: 'warn', write: (line) => log.push(line) }),
    notice: { stopping: () => said.push('stopping'), stopped: () => said.push('stopped') },
  }
}

test('the stops run last-started first once the body returns, and its value is the result', async (t) => {
  const { logger, said, notice } = recorder()
  const order: string[] = []
  const code = await withTeardown(
    logger,
    async (teardown) => {
      for (const name of ['lock', 'metrics', 'node', 'gateway']) teardown.add(() => order.push(name))
      return 0
    },
    notice,
  )
  t.is(code, 0)
  t.deepEqual(order, ['gateway', 'node', 'metrics', 'lock'])
  t.deepEqual(said, ['stopping', 'stopped'])
})

test('a failure while starting stops what had started and stays the error, even when a stop fails too', async (t) => {
  const { logger, log, said, notice } = recorder()
  const order: string[] = []
  const err = await t.throwsAsync(
    withTeardown(
      logger,
      async (teardown) => {
        teardown.add(() => order.push('lock'))
        teardown.add(() => {
          order.push('node')
          throw new FramemeshError('ERR_TEST_STOP', 'node would not stop')
        })
        throw new FramemeshError('ERR_TEST_START', 'gateway could not listen')
      },
      notice,
    ),
  )
  t.is((err as FramemeshError).code, 'ERR_TEST_START')
  t.deepEqual(order, ['node', 'lock'], 'the lock is released after the failing stop')
  t.true(
    log.some((l) => l.includes('error while stopping') && l.includes('ERR_TEST_STOP')),
    log.join('\n'),
  )
  t.deepEqual(said, ['stopping'], 'no clean stop is claimed')
})

test('after a clean run a failing stop fails the command with its error; the stops after it still run', async (t) => {
  const { logger, log } = recorder()
  const order: string[] = []
  const err = await t.throwsAsync(
    withTeardown(logger, async (teardown) => {
      teardown.add(() => order.push('lock'))
      teardown.add(() => {
        throw new FramemeshError('ERR_TEST_FIRST', 'first to fail')
      })
      teardown.add(() => {
        throw new FramemeshError('ERR_TEST_SECOND', 'second to fail')
      })
      return 0
    }),
  )
  // Last added runs first, so ERR_TEST_SECOND is the first failure.
  t.is((err as FramemeshError).code, 'ERR_TEST_SECOND')
  t.deepEqual(order, ['lock'])
  t.is(log.filter((l) => l.includes('error while stopping')).length, 2, log.join('\n'))
})
