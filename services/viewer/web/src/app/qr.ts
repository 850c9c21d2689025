import { qrPath } from '@yunying/auth/qr';

const SVG = 'http://www.w3.org/2000/svg';

/** A QR code of `text` (an otpauth: URI) for a phone to scan, built as SVG elements (no markup parsed). */
export function qrImage(text: string, label: string, pixels = 200): SVGSVGElement {
  const { size, d } = qrPath(text);
  const svg = document.createElementNS(SVG, 'svg');
  for (const [name, value] of Object.entries({ role: 'img', 'aria-label': label, width: pixels, height: pixels, viewBox: `0 0 ${size} ${size}`, 'shape-rendering': 'crispEdges', 'data-testid': 'totp-qr' })) {
    svg.setAttribute(name, String(value));
  }
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#fff');
  const modules = document.createElementNS(SVG, 'path');
  modules.setAttribute('d', d);
  modules.setAttribute('fill', '#000');
  svg.append(background, modules);
  return svg;
}
