import { readMultipart, parseContentType, type MultipartPart } from './multipart';

const limits = { maxPartBytes: 1024, maxTotalBytes: 1 << 20, maxParts: 10, maxHeaderBytes: 1024 };

function body(boundary: string, parts: { headers: string; content: Buffer }[], preamble = ''): Buffer {
  const pieces: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) pieces.push(Buffer.from(`--${boundary}\r\n${p.headers}\r\n\r\n`), p.content, Buffer.from('\r\n'));
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}

async function collect(source: Buffer, boundary: string, chunkSize: number, lim = limits): Promise<MultipartPart[]> {
  // Chunks arrive asynchronously, as from a socket.
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < source.length; i += chunkSize) {
      await Promise.resolve();
      yield source.subarray(i, i + chunkSize);
    }
  }
  const out: MultipartPart[] = [];
  for await (const part of readMultipart(chunks(), boundary, lim)) out.push(part);
  return out;
}

describe('readMultipart', () => {
  const a = Buffer.from('first\r\n--notTheBoundary\r\nbytes');
  const b = Buffer.alloc(300, 7);
  const raw = body('XyZ', [
    { headers: 'Content-Type: application/dicom', content: a },
    { headers: 'content-type: application/dicom\r\nContent-Length: 300', content: b },
  ], 'preamble text\r\n');

  it.each([1, 2, 3, 7, 64, 4096])('yields exactly the part bytes whatever the chunking (%i-byte chunks)', async (size) => {
    const parts = await collect(raw, 'XyZ', size);
    expect(parts).toHaveLength(2);
    expect(parts[0]?.body?.equals(a)).toBe(true);
    expect(parts[0]?.headers['content-type']).toBe('application/dicom');
    expect(parts[1]?.body?.equals(b)).toBe(true);
    expect(parts[1]?.headers['content-length']).toBe('300');
  });

  it('drops an oversized part but keeps reading the next ones', async () => {
    const big = body('B', [
      { headers: 'Content-Type: application/dicom', content: Buffer.alloc(5000, 1) },
      { headers: 'Content-Type: application/dicom', content: Buffer.from('ok') },
    ]);
    const parts = await collect(big, 'B', 100);
    expect(parts[0]?.body).toBeNull();
    expect(parts[0]?.size).toBe(5000);
    expect(parts[1]?.body?.toString()).toBe('ok');
  });

  it('refuses a body larger than the request limit', async () => {
    await expect(collect(raw, 'XyZ', 50, { ...limits, maxTotalBytes: 100 })).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('refuses a body that ends before its closing boundary, or has no boundary', async () => {
    await expect(collect(raw.subarray(0, raw.length - 10), 'XyZ', 64)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(collect(Buffer.from('not multipart at all'), 'XyZ', 64)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('accepts boundaries longer than the 70 characters RFC 2046 asks of generators', async () => {
    for (const boundary of ['b'.repeat(73), 'x'.repeat(200), 'y'.repeat(1000)]) {
      const long = body(boundary, [{ headers: 'Content-Type: application/dicom', content: Buffer.from('one') }]);
      const parts = await collect(long, boundary, 37);
      expect(parts.map((p) => p.body?.toString())).toEqual(['one']);
    }
    await expect(collect(raw, 'z'.repeat(1001), 64)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('refuses too many parts', async () => {
    const many = body('M', Array.from({ length: 4 }, () => ({ headers: 'Content-Type: application/dicom', content: Buffer.from('x') })));
    await expect(collect(many, 'M', 64, { ...limits, maxParts: 3 })).rejects.toMatchObject({ code: 'payload_too_large' });
  });
});

describe('parseContentType', () => {
  it('reads quoted parameters and lower-cases names', () => {
    expect(parseContentType('multipart/related; type="application/dicom"; Boundary="a;b=c"')).toEqual({
      mediaType: 'multipart/related',
      params: { type: 'application/dicom', boundary: 'a;b=c' },
    });
    expect(parseContentType('garbage')).toBeNull();
    expect(parseContentType(undefined)).toBeNull();
  });
});
