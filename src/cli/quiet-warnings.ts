/**
 * Imported first by the CLI: drops Node's one-line notice that node:sqlite (the redemption queue's
 * store) is experimental. Operators cannot act on it and newcomers read it as an error; every
 * other warning still prints.
 */
const emit = process.emitWarning.bind(process)

process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const message = typeof warning === 'string' ? warning : warning.message
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type
  if (type === 'ExperimentalWarning' && /SQLite/i.test(message)) return
  emit(warning as string, ...(rest as []))
}) as typeof process.emitWarning
