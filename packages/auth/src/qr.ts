import qrcode from 'qrcode-generator';

/** A QR code as one SVG path: `size` modules square (the code and a 4-module quiet zone), `d` the dark ones. */
export interface QrPath {
  size: number;
  d: string;
}

/**
 * The otpauth: URI of a TOTP enrolment as a QR code, so a phone's authenticator app scans it instead of the
 * user typing 32 characters (qrcode-generator: byte mode, error correction M, the smallest version that fits).
 * Drawn by the caller as an SVG path: no image data URL (the pages' CSP) and no HTML parsed from a string.
 */
export function qrPath(text: string): QrPath {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  let d = '';
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) if (qr.isDark(row, col)) d += `M${col + quiet} ${row + quiet}h1v1h-1z`;
  }
  return { size: n + 2 * quiet, d };
}

/** The same as SVG markup for a server-rendered page (only numbers and fixed words: nothing to escape). */
export function qrSvgMarkup(text: string, label: string, pixels = 200): string {
  const { size, d } = qrPath(text);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${label.replace(/[^A-Za-z0-9 .,-]/g, '')}" width="${pixels}" height="${pixels}" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges" data-testid="totp-qr"><rect width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}
