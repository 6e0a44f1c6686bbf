import { FramemeshError } from '../../errors.js'
import type { InferenceEngine } from '../../inference/engine.js'
import type { ModelStatus } from '../../inference/types.js'
import type { CliCommand, CliContext } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig } from '../config.js'
import { INFERENCE_CONFIG, modelsDirOf, openEngine } from '../inference.js'

const spec = {
  ...INFERENCE_CONFIG,
  json: { kind: 'bool', help: 'print JSON instead of a table', default: false },
} as const satisfies ConfigSpec

const usage = [
  'usage: framemesh models list [--json]',
  '       framemesh models add <manifest.json>',
  '       framemesh models verify <id>',
  '       framemesh models remove <id>',
]

export const modelsCommand: CliCommand = {
  name: 'models',
  summary: 'list, add, verify or remove the ONNX models this node can serve',
  help: [
    ...usage,
    '',
    'list    every model (built-in and your own) with its pipeline, state, memory estimate and sha256',
    'add     check a manifest and its .onnx file (names, shapes, dtypes) and copy both into the',
    '        models folder, recording the file’s sha256',
    'verify  re-read a model’s file, check it against the recorded sha256 and the manifest, then',
    '        load it and run it once on a small input',
    'remove  delete one of your own models from the models folder (built-ins stay)',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config, positionals } = await loadConfig(spec, ctx)
    const [action, arg, ...extra] = positionals
    const needsArg = action === 'add' || action === 'verify' || action === 'remove'
    if (
      !['list', 'add', 'verify', 'remove'].includes(action ?? '') ||
      (needsArg && arg === undefined) ||
      (!needsArg && arg !== undefined) ||
      extra.length > 0
    ) {
      throw new FramemeshError('ERR_USAGE', `expected one of:\n${usage.join('\n')}`)
    }
    const engine = await openEngine(ctx, config)
    try {
      if (action === 'list') return list(ctx, engine, config.json)
      if (action === 'add') {
        const record = await engine.registry.add(arg as string)
        print(ctx, config.json, { added: record.manifest.id, dir: record.dir, sha256: record.sha256 }, [
          `added ${record.manifest.id} (${record.manifest.pipeline}) to ${modelsDirOf(config)}`,
          `sha256 ${record.sha256}`,
        ])
        return 0
      }
      if (action === 'remove') {
        await engine.registry.remove(arg as string)
        print(ctx, config.json, { removed: arg }, [`removed ${arg}`])
        return 0
      }
      const record = await engine.registry.verify(arg as string)
      const started = performance.now()
      await engine.warm(record.manifest.id, { signal: ctx.signal })
      const ms = Math.round(performance.now() - started)
      print(ctx, config.json, { verified: record.manifest.id, sha256: record.sha256, loadMs: ms }, [
        `${record.manifest.id}: ok — sha256 matches, the file matches its manifest, loaded and ran once in ${ms} ms`,
      ])
      return 0
    } finally {
      await engine.close()
    }
  },
}

function list(ctx: CliContext, engine: InferenceEngine, json: boolean): number {
  const models = engine.models()
  if (json) {
    ctx.stdout(JSON.stringify(models.map((m) => ({ ...m, builtin: engine.registry.get(m.id).builtin }))))
    return 0
  }
  if (models.length === 0) {
    ctx.stdout(
      'no models: run `npm run build:models`, or add one with `framemesh models add <manifest.json>`',
    )
    return 0
  }
  const rows = models.map((m: ModelStatus) => [
    m.id,
    m.pipeline,
    m.state,
    engine.registry.get(m.id).builtin ? 'built-in' : 'added',
    `${Math.round(m.bytes / (1024 * 1024))} MiB`,
    m.sha256.slice(0, 12),
    m.error ?? '',
  ])
  const header = ['ID', 'PIPELINE', 'STATE', 'SOURCE', 'MEMORY', 'SHA256', '']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  for (const row of [header, ...rows])
    ctx.stdout(
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
  return 0
}

function print(ctx: CliContext, json: boolean, value: Record<string, unknown>, lines: string[]): void {
  if (json) ctx.stdout(JSON.stringify(value))
  else for (const line of lines) ctx.stdout(line)
}
