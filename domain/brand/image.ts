import { convertIndexedToRgb, type DecodedPng, decode as decodePng } from "fast-png";
import { decode as decodeJpeg } from "jpeg-js";
import quantize from "quantize";
import { colorsIn, type Rgb, rankByFrequency, rgbToHex } from "./colors";

// A logo's own colours, for sites whose stylesheets carry no brand colour: the image decoded in
// pure JS (fast-png, jpeg-js: both run in workerd, which has no canvas), its opaque pixels
// sampled and reduced by median cut (quantize, MMCQ) to a small palette ranked by how many
// pixels each colour covers. SVG logos are text: their colours are the fills and strokes.

/** Decoding allocates width × height × 4 bytes: a 1 MB file can claim far more than a Worker
 * has, so the header's size is checked before anything is decoded. */
export const MAX_LOGO_PIXELS = 4_000_000;
/** Pixels fed to the quantizer: every n-th opaque one, up to this many. */
const SAMPLE = 20_000;

export interface DominantColor {
  hex: string;
  /** Share of the sampled opaque pixels, 0–1. */
  share: number;
}

export class ImageDecodeError extends Error {
  override readonly name = "ImageDecodeError";
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type ImageKind = "png" | "jpeg" | "svg" | null;

export function imageKind(bytes: Uint8Array): ImageKind {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  const head = new TextDecoder().decode(bytes.subarray(0, 512)).trimStart().toLowerCase();
  if (head.startsWith("<svg") || (head.startsWith("<?xml") && head.includes("<svg"))) return "svg";
  return null;
}

/** Width × height from the PNG's IHDR (bytes 16–23), before decoding. */
const pngPixels = (b: Uint8Array) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(16) *
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(20);

/** RGBA bytes of a decoded PNG, whatever its colour type and depth. */
function pngRgba(png: DecodedPng): { rgba: Uint8Array; channels: number } {
  if (png.palette) {
    const data = convertIndexedToRgb(png);
    return { rgba: data, channels: png.palette[0]?.length ?? 3 };
  }
  const shift = png.depth === 16 ? 8 : 0;
  const src = png.data;
  const out = new Uint8Array(png.width * png.height * 4);
  for (let p = 0, i = 0; p < png.width * png.height; p++, i += png.channels) {
    const at = (k: number) => (src[i + k] ?? 0) >> shift;
    const gray = png.channels <= 2;
    out[p * 4] = at(0);
    out[p * 4 + 1] = gray ? at(0) : at(1);
    out[p * 4 + 2] = gray ? at(0) : at(2);
    out[p * 4 + 3] = png.channels === 2 ? at(1) : png.channels === 4 ? at(3) : 255;
  }
  return { rgba: out, channels: 4 };
}

function decodeRaster(
  bytes: Uint8Array,
  kind: "png" | "jpeg",
): { rgba: Uint8Array; channels: number } {
  try {
    if (kind === "png") {
      if (bytes.length < 24 || pngPixels(bytes) > MAX_LOGO_PIXELS) {
        throw new ImageDecodeError(`the PNG is larger than ${MAX_LOGO_PIXELS} pixels`);
      }
      return pngRgba(decodePng(bytes));
    }
    const jpeg = decodeJpeg(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: MAX_LOGO_PIXELS / 1_000_000,
      maxMemoryUsageInMB: 64,
    });
    return { rgba: jpeg.data, channels: 4 };
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(
      `the ${kind.toUpperCase()} could not be decoded: ${(err as Error).message}`,
    );
  }
}

/** quantize's boxes span its 5-bit channels (8 - sigbits 5 = a shift of 3). Its own
 * `VBox.contains` assigns undeclared variables, which throws in strict-mode workerd. */
const inBox = (box: quantize.VBox, [r, g, b]: quantize.RgbPixel) =>
  r >> 3 >= box.r1 &&
  r >> 3 <= box.r2 &&
  g >> 3 >= box.g1 &&
  g >> 3 <= box.g2 &&
  b >> 3 >= box.b1 &&
  b >> 3 <= box.b2;

/** The image's dominant colours, most covering first; transparent pixels (alpha < 50%) are the
 * logo's background and are skipped. */
export function dominantColors(bytes: Uint8Array, count = 5): DominantColor[] {
  const kind = imageKind(bytes);
  if (kind === "svg") return svgColors(new TextDecoder().decode(bytes));
  if (kind === null) throw new ImageDecodeError("not a PNG, JPEG or SVG image");
  const { rgba, channels } = decodeRaster(bytes, kind);
  const total = Math.floor(rgba.length / channels);
  const step = Math.max(1, Math.floor(total / SAMPLE));
  const pixels: quantize.RgbPixel[] = [];
  for (let p = 0; p < total; p += step) {
    const i = p * channels;
    if (channels === 4 && (rgba[i + 3] ?? 0) < 128) continue;
    pixels.push([rgba[i] ?? 0, rgba[i + 1] ?? 0, rgba[i + 2] ?? 0]);
  }
  if (pixels.length === 0) return [];
  const distinct = new Set(pixels.map(([r, g, b]) => (r << 16) | (g << 8) | b));
  // MMCQ needs at least two colours to cut; a one-colour logo is that colour.
  if (distinct.size === 1) return [{ hex: rgbToHex(pixels[0] as Rgb), share: 1 }];
  const map = quantize(pixels, Math.max(2, Math.min(count, distinct.size)));
  if (!map) return [];
  // MMCQ works on 5-bit channels, so a box's own colour is only near the logo's (#1d4ed8 comes
  // back #1c4cdc). Each box is shown as the exact colour most of its pixels have: a flat logo's
  // brand colour to the digit, and a real pixel's colour for a noisy JPEG.
  const boxes = map.vboxes.map((box) => ({ vbox: box.vbox, exact: new Map<number, number>() }));
  let placed = 0;
  for (const pixel of pixels) {
    const box = boxes.find((b) => inBox(b.vbox, pixel));
    if (!box) continue;
    const key = (pixel[0] << 16) | (pixel[1] << 8) | pixel[2];
    box.exact.set(key, (box.exact.get(key) ?? 0) + 1);
    placed++;
  }
  const out: DominantColor[] = [];
  for (const { exact } of boxes) {
    let best = -1;
    let bestCount = 0;
    let inBox = 0;
    for (const [key, n] of exact) {
      inBox += n;
      if (n > bestCount) [best, bestCount] = [key, n];
    }
    if (inBox === 0) continue;
    out.push({
      hex: rgbToHex([(best >> 16) & 255, (best >> 8) & 255, best & 255]),
      share: inBox / (placed || 1),
    });
  }
  return out.sort((a, b) => b.share - a.share).slice(0, count);
}

/** An SVG's colours by how many elements paint with them: `fill`/`stroke` attributes, the
 * same in `style` attributes and `<style>` blocks, and gradient `stop-color`s. */
export function svgColors(svg: string): DominantColor[] {
  const uses: string[] = [];
  for (const m of svg.matchAll(/\b(?:fill|stroke|stop-color|color)\s*[=:]\s*["']?([^"';>}]+)/gi)) {
    uses.push(...colorsIn(m[1] ?? ""));
  }
  const ranked = rankByFrequency(uses);
  const total = uses.length || 1;
  return ranked.map((r) => ({ hex: r.hex, share: r.count / total }));
}

/** The image types a brand's logo or favicon may be as a data: URL (what the storefront shows). */
const DATA_IMAGE =
  /^data:image\/(svg\+xml|png|jpeg|gif|webp)((?:;[a-z-]+=[^;,]*)*)(;base64)?,(.*)$/is;

/**
 * A data: image URL in the one form the storefront stores and shows — base64 — whatever form
 * the page wrote it in (`data:image/svg+xml,%3Csvg…` percent-encoded, or base64 already); null
 * when it is not an image type the storefront shows, does not decode, or is larger than
 * `maxBytes` decoded.
 */
export function normalizeDataImage(url: string, maxBytes: number): string | null {
  const m = DATA_IMAGE.exec(url.trim());
  if (!m) return null;
  const type = (m[1] ?? "").toLowerCase();
  const payload = m[4] ?? "";
  let bytes: Uint8Array;
  try {
    if (m[3]) {
      const clean = payload.replace(/\s+/g, "");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return null;
      bytes = Uint8Array.from(atob(clean), (c) => c.charCodeAt(0));
    } else {
      // Percent-encoded octets (RFC 2397): each %XX one byte, every other character itself.
      const decoded = decodeURIComponent(payload);
      bytes = new TextEncoder().encode(decoded);
    }
  } catch {
    return null;
  }
  if (bytes.length === 0 || bytes.length > maxBytes) return null;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/${type};base64,${btoa(binary)}`;
}
