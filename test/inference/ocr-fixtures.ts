import { readdir } from 'node:fs/promises'
import sharp from 'sharp'
import { decodeImage } from '../../src/inference/media/image.js'
import type { Frame } from '../../src/inference/types.js'

// Text frames for the OCR tests, rendered on the spot from SVG (librsvg inside sharp + fontconfig).

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts']

/** Text rendering needs a font on the machine; say which package brings one instead of failing obscurely. */
export async function assertFontsInstalled(): Promise<void> {
  for (const dir of FONT_DIRS) {
    const files = await readdir(dir, { recursive: true }).catch(() => [] as string[])
    if (files.some((f) => /\.(ttf|otf)$/i.test(f))) return
  }
  throw new Error(
    `no TrueType/OpenType fonts in ${FONT_DIRS.join(' or ')}: the OCR tests render text and need one. ` +
      'Install the Debian package fonts-dejavu-core (apt-get install -y fonts-dejavu-core).',
  )
}

/** PNG bytes of a white canvas with the given SVG elements drawn on it, optionally turned by `rotate`°. */
export async function renderPng(svgBody: string, width: number, height: number, rotate = 0): Promise<Buffer> {
  await assertFontsInstalled()
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${svgBody}</svg>`
  return sharp(Buffer.from(svg)).rotate(rotate).png().toBuffer()
}

export async function renderFrame(
  svgBody: string,
  width: number,
  height: number,
  rotate = 0,
): Promise<Frame> {
  const frame = await decodeImage(await renderPng(svgBody, width, height, rotate))
  if (frame.data.every((v) => v === 255)) {
    throw new Error(
      'the SVG text rendered as a blank image: fontconfig found no usable font (install fonts-dejavu-core)',
    )
  }
  return frame
}

/** One line of black DejaVu Sans text with its baseline starting at (x, y). */
export const textLine = (text: string, x: number, y: number, size: number, extra = '') =>
  `<text x="${x}" y="${y}" font-family="DejaVu Sans" font-size="${size}" fill="black" ${extra}>${text}</text>`
