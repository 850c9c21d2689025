import jsQR from 'jsqr';
import { qrPath, qrSvgMarkup } from './qr';

/** Paints the path's unit squares (`M x y h1v1h-1z`) into RGBA pixels, `scale` pixels a module. */
function raster(text: string, scale = 4): { data: Uint8ClampedArray; width: number } {
  const { size, d } = qrPath(text);
  const width = size * scale;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (const m of d.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    const x0 = Number(m[1]) * scale;
    const y0 = Number(m[2]) * scale;
    for (let y = y0; y < y0 + scale; y++) for (let x = x0; x < x0 + scale; x++) data.fill(0, (y * width + x) * 4, (y * width + x) * 4 + 3);
  }
  return { data, width };
}

describe('QR code of a TOTP enrolment', () => {
  it('decodes (with jsQR, an independent reader) to the otpauth URI it was made from', () => {
    const uri = 'otpauth://totp/Yunying:rosa?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&period=30&digits=6&algorithm=SHA1&issuer=Yunying';
    const { data, width } = raster(uri);
    expect(jsQR(data, width, width)?.data).toBe(uri);
  });

  it('server markup: an SVG with the same path, nothing from the text but the path', () => {
    const svg = qrSvgMarkup('otpauth://totp/Yunying:a%22b?secret=AAAA', 'Scan <me>');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" role="img" aria-label="Scan me"/);
    expect(svg).toContain(`d="${qrPath('otpauth://totp/Yunying:a%22b?secret=AAAA').d}"`);
    expect(svg).not.toContain('otpauth');
  });
});
