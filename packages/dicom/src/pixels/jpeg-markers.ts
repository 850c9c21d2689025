/**
 * Reading the JPEG markers (ITU-T T.81 B.1) that decide libjpeg's colour conversion of a
 * three-component image: a JFIF APP0 means YCbCr; an Adobe APP14 says by its transform flag;
 * otherwise component ids 'R','G','B' mean RGB and anything else YCbCr. DICOM says what the
 * components are through PhotometricInterpretation (PS3.5 8.2.1), and the two disagree in real
 * files, so the decoder reconciles them (see jpegColour in decode.ts).
 */

export interface JpegHeader {
  precision: number;
  components: number;
  jfif: boolean;
  /** Adobe APP14 transform flag (0 none, 1 YCbCr, 2 YCCK), or null without the marker. */
  adobeTransform: number | null;
  componentIds: number[];
  /** SOF marker (0xC0..0xCF) */
  sof: number;
}

export function readJpegHeader(bytes: Uint8Array): JpegHeader | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let position = 2;
  let jfif = false;
  let adobeTransform: number | null = null;
  while (position + 4 <= bytes.length) {
    if (bytes[position] !== 0xff) return null;
    const marker = bytes[position + 1] ?? 0;
    if (marker === 0xff) {
      position += 1; // fill byte
      continue;
    }
    const length = ((bytes[position + 2] ?? 0) << 8) | (bytes[position + 3] ?? 0);
    const body = position + 4;
    if (marker === 0xe0 && ascii(bytes, body, 5) === 'JFIF\0') jfif = true;
    if (marker === 0xee && ascii(bytes, body, 5) === 'Adobe') adobeTransform = bytes[body + 11] ?? 0;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const components = bytes[body + 5] ?? 0;
      const componentIds: number[] = [];
      for (let c = 0; c < components; c += 1) componentIds.push(bytes[body + 6 + 3 * c] ?? 0);
      return { precision: bytes[body] ?? 0, components, jfif, adobeTransform, componentIds, sof: marker };
    }
    position += 2 + length;
  }
  return null;
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/** Whether libjpeg will convert YCbCr to RGB for this three-component codestream. */
export function libjpegConvertsColour(header: JpegHeader): boolean {
  if (header.components !== 3) return false;
  if (header.jfif) return true;
  if (header.adobeTransform !== null) return header.adobeTransform !== 0;
  const [a, b, c] = header.componentIds;
  return !(a === 0x52 && b === 0x47 && c === 0x42);
}

/**
 * A copy of the codestream that libjpeg will decode without colour conversion: the JFIF identifier
 * is defaced and the component ids in SOF and every SOS become 'R','G','B'.
 */
export function withoutColourConversion(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes);
  const idMap = new Map<number, number>();
  const rgb = [0x52, 0x47, 0x42];
  let position = 2;
  while (position + 4 <= out.length) {
    if (out[position] !== 0xff) break;
    const marker = out[position + 1] ?? 0;
    if (marker === 0xff) {
      position += 1;
      continue;
    }
    const length = ((out[position + 2] ?? 0) << 8) | (out[position + 3] ?? 0);
    const body = position + 4;
    if (marker === 0xe0 && ascii(out, body, 5) === 'JFIF\0') out[body] = 0x58; // 'XFIF'
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const count = out[body + 5] ?? 0;
      for (let c = 0; c < count && c < 3; c += 1) {
        idMap.set(out[body + 6 + 3 * c] ?? 0, rgb[c] ?? 0);
        out[body + 6 + 3 * c] = rgb[c] ?? 0;
      }
    }
    if (marker === 0xda) {
      const count = out[body] ?? 0;
      for (let c = 0; c < count; c += 1) {
        const at = body + 1 + 2 * c;
        out[at] = idMap.get(out[at] ?? 0) ?? out[at] ?? 0;
      }
      // Entropy-coded data follows; scan on to the next marker that is not RSTn or stuffing.
      position = body + length - 2;
      while (position + 1 < out.length) {
        if (out[position] === 0xff) {
          const next = out[position + 1] ?? 0;
          if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
        }
        position += 1;
      }
      if (out[position + 1] === 0xd9) break;
      continue;
    }
    position += 2 + length;
  }
  return out;
}
