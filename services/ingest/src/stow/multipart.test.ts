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

describe('readMultipart across chunk edges', () => {
  // Orthanc 1.10 sends 73-character boundaries; contents hold near-misses of the delimiter.
  const boundary = `${'-'.repeat(8)}${'0123456789abcdef'.repeat(4)}q`;
  const nearMiss = (n: number): Buffer => Buffer.from(`\r\n--${boundary.slice(0, n)}`);
  const contents = [
    Buffer.concat([Buffer.from('DICM'), nearMiss(boundary.length - 1), Buffer.from([0, 1, 2, 13, 10, 45])]),
    Buffer.alloc(0),
    Buffer.concat([nearMiss(10), Buffer.from(`\r\n\r\nx--${boundary}x`)]),
  ];
  // The last content ends "--<boundary>x": only a CRLF before it would make it a delimiter.
  const raw = body(boundary, contents.map((content) => ({ headers: 'Content-Type: application/dicom', content })), 'pre\r\n');
  const lim = { ...limits, maxPartBytes: 4096 };

  async function collectChunks(chunks: Buffer[]): Promise<MultipartPart[]> {
    async function* source(): AsyncGenerator<Buffer> {
      for (const c of chunks) {
        await Promise.resolve();
        yield c;
      }
    }
    const out: MultipartPart[] = [];
    for await (const part of readMultipart(source(), boundary, lim)) out.push(part);
    return out;
  }

  function expectContents(parts: MultipartPart[]): void {
    expect(parts.map((p) => p.body?.toString('latin1'))).toEqual(contents.map((c) => c.toString('latin1')));
  }

  it('yields the same parts for a body cut in two at every offset', async () => {
    for (let cut = 1; cut < raw.length; cut++) {
      expectContents(await collectChunks([raw.subarray(0, cut), raw.subarray(cut)]));
    }
  });

  it('yields the same parts when any one byte arrives alone (three chunks)', async () => {
    for (let at = 1; at < raw.length - 1; at++) {
      expectContents(await collectChunks([raw.subarray(0, at), raw.subarray(at, at + 1), raw.subarray(at + 1)]));
    }
  });

  it('yields the same parts under seeded random chunkings', async () => {
    let seed = 14;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < raw.length; ) {
        const n = 1 + (next() % 90);
        chunks.push(raw.subarray(i, i + n));
        i += n;
      }
      expectContents(await collectChunks(chunks));
    }
  });

  it('hands out a part that lies within one chunk without copying it', async () => {
    const [first] = await collectChunks([raw]);
    expect(first?.body?.buffer).toBe(raw.buffer);
  });

  it('reads the next chunk only when the consumer asks for the next part (back-pressure)', async () => {
    const big = Buffer.alloc(1000, 9);
    const many = body(boundary, Array.from({ length: 5 }, () => ({ headers: 'Content-Type: application/dicom', content: big })));
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < many.length; i += 100) {
        pulled += 100;
        await Promise.resolve();
        yield many.subarray(i, i + 100);
      }
    }
    const reader = readMultipart(source(), boundary, lim);
    const first = await reader.next();
    const part: MultipartPart | undefined = first.done === true ? undefined : first.value;
    expect(part?.body?.equals(big)).toBe(true);
    // One part (about 1,120 bytes with its delimiter and headers) and the chunk it ended in: no read-ahead.
    expect(pulled).toBeLessThanOrEqual(1300);
    await reader.return(undefined);
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

  it('reads what STOW-RS clients send that strict RFC parsers reject: an unquoted type and a trailing semicolon', () => {
    expect(parseContentType('multipart/related; type=application/dicom; boundary=XyZ;')).toEqual({
      mediaType: 'multipart/related',
      params: { type: 'application/dicom', boundary: 'XyZ' },
    });
  });
});
