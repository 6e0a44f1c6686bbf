import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import test from 'ava'
import { adaptToRuntime8, generate, protoFiles, root } from '../../scripts/proto.js'

test('every committed src/<area>/pb file is exactly what `npm run proto` generates from proto/', async (t) => {
  const files = protoFiles()
  t.true(files.some((f) => f.proto.endsWith('peer/discovery.proto')))
  const tmp = await mkdtemp(join(tmpdir(), 'framemesh-proto-'))
  t.teardown(() => rm(tmp, { recursive: true, force: true }))
  for (const { proto, outDir } of files) {
    const generated = generate(proto, tmp)
    const fresh = await readFile(generated, 'utf8')
    const committedPath = join(outDir, relative(tmp, generated))
    const committed = await readFile(committedPath, 'utf8').catch(() => undefined)
    t.is(committed, fresh, `${relative(root, committedPath)} is stale: run npm run proto`)
  }
})

test('generated codecs are typed for protons-runtime 8 (messages encode from a Partial, enums from themselves)', (t) => {
  const source = [
    'let _codec: Codec<Foo>',
    '_codec = message<Foo>((obj, w) => {})',
    'export const codec = (): Codec<Color> => {',
    '  return enumeration<Color>(__ColorValues)',
  ].join('\n')
  t.is(
    adaptToRuntime8(source),
    [
      'let _codec: Codec<Foo, Partial<Foo>>',
      '_codec = message<Foo, Partial<Foo>>((obj, w) => {})',
      'export const codec = (): Codec<Color, Color> => {',
      '  return enumeration<Color>(__ColorValues)',
    ].join('\n'),
  )
})
