import { readFile } from 'node:fs/promises'
import { FramemeshError } from '../../errors.js'

/**
 * The recogniser's alphabet. PaddleOCR's class list is: 0 = CTC blank, then one class per line
 * of the key file, then (for models trained with spaces, like PP-OCRv4 Chinese/English) a space.
 */
export class OcrKeysMismatchError extends FramemeshError {
  constructor(modelId: string, classes: number, keys: number) {
    super(
      'ERR_OCR_KEYS_MISMATCH',
      `OCR model "${modelId}" outputs ${classes} classes but its key file has ${keys} characters ` +
        `(expected ${keys + 2} with blank and space, or ${keys + 1} with blank only); give the key file the model was trained with`,
      { details: { modelId, classes, keys } },
    )
  }
}

export class OcrKeysInvalidError extends FramemeshError {
  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(
      'ERR_OCR_KEYS_INVALID',
      `the OCR key file ${source} ${problem}; give a UTF-8 file with one character a line`,
      {
        cause: options?.cause,
        details: { source },
      },
    )
  }
}

/** The characters of a key file, one a line, in order. */
export function parseOcrKeys(text: string, source = 'key file'): string[] {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  if (lines.length === 0) throw new OcrKeysInvalidError(source, 'is empty')
  return lines
}

export async function loadOcrKeys(path: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new OcrKeysInvalidError(path, `cannot be read (${(err as Error).message})`, { cause: err })
  }
  return parseOcrKeys(text, path)
}

/** Class index → text for a model with `classes` outputs (index 0, the blank, maps to ''). */
export function alphabetFor(modelId: string, keys: readonly string[], classes: number): string[] {
  if (classes === keys.length + 2) return ['', ...keys, ' ']
  if (classes === keys.length + 1) return ['', ...keys]
  throw new OcrKeysMismatchError(modelId, classes, keys.length)
}
