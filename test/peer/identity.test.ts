import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { createPeer, keyFilePath, readPeerId } from '../../src/peer/index.js'

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-id-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('a peer restarted with the same data directory keeps its peer id; the key file is mode 0600', async (t) => {
  const dataDir = await tempDir(t)
  t.is(await readPeerId(dataDir), undefined)
  const first = await createPeer({ dataDir })
  const id = first.peerId
  await first.stop()
  t.is((await stat(keyFilePath(dataDir))).mode & 0o777, 0o600)
  t.is(await readPeerId(dataDir), id)
  const second = await createPeer({ dataDir })
  t.teardown(() => second.stop())
  t.is(second.peerId, id)
})

test('peers without a data directory get a fresh ephemeral identity each time', async (t) => {
  const a = await createPeer()
  const b = await createPeer()
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  t.not(a.peerId, b.peerId)
})

test('a corrupt key file is refused with ERR_INVALID_KEY_FILE instead of silently replaced', async (t) => {
  const dataDir = await tempDir(t)
  await writeFile(keyFilePath(dataDir), 'not a key', { mode: 0o600 })
  const err = await t.throwsAsync(createPeer({ dataDir }))
  t.is((err as { code?: string }).code, 'ERR_INVALID_KEY_FILE')
})

test('a key file readable by others is tightened to 0600 on start', async (t) => {
  const dataDir = await tempDir(t)
  const first = await createPeer({ dataDir })
  await first.stop()
  await chmod(keyFilePath(dataDir), 0o644)
  const second = await createPeer({ dataDir })
  t.teardown(() => second.stop())
  t.is(second.peerId, first.peerId)
  t.is((await stat(keyFilePath(dataDir))).mode & 0o777, 0o600)
})

test('stop closes connections and frees the listening port', async (t) => {
  const a = await createPeer()
  const b = await createPeer()
  t.teardown(() => b.stop())
  await b.dial(a.multiaddrs[0])
  const gone = b.events.waitFor('peer:disconnect', { filter: (e) => e.peerId === a.peerId })
  const listen = a.multiaddrs[0].split('/p2p/')[0]
  await a.stop()
  await gone
  const again = await createPeer({ listen: [listen] })
  t.teardown(() => again.stop())
  t.true(again.multiaddrs[0].startsWith(`${listen}/p2p/`))
})
