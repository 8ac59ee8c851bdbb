// Minimal multipart/form-data parser for envd `POST /files` (buffered; keeps the raw filename
// with slashes like envd's FileNameWithPath; tolerates workerd's missing final CRLF).

/** One `file` part. */
export interface FilePart { name: string; filename: string | undefined; data: Buffer }

/** Extracts the boundary from a Content-Type header, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function param(header: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(header) ?? new RegExp(`(?:^|;)\\s*${key}=([^;]*)`, 'i').exec(header);
  if (!m) return undefined;
  // undici/workerd escape `"`, CR and LF in names as %22, %0D, %0A.
  return m[1].replace(/\\(.)/g, '$1').replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
}

/** Splits a buffered multipart body into parts. Throws on a malformed body. */
export function parseMultipart(body: Buffer, boundary: string): FilePart[] {
  const dash = Buffer.from(`--${boundary}`);
  const sep = Buffer.from(`\r\n--${boundary}`);
  const parts: FilePart[] = [];
  let pos = body.indexOf(dash);
  if (pos < 0) throw new Error('multipart boundary not found');
  pos += dash.length;
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing `--boundary--`
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new Error('malformed multipart part headers');
    const headers = body.subarray(pos, headEnd).toString('utf8').split('\r\n');
    const dataStart = headEnd + 4;
    const next = body.indexOf(sep, dataStart);
    if (next < 0) throw new Error('unterminated multipart part');
    const disp = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    parts.push({ name: param(disp, 'name') ?? '', filename: param(disp, 'filename'), data: body.subarray(dataStart, next) });
    pos = next + sep.length;
  }
  return parts;
}
