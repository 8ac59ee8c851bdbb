// File content over MCP, where arguments and results are JSON: UTF-8 text, or base64 for bytes
// that are not valid UTF-8.
import { AppError } from '../errors.ts';
import type { FileContent } from '../contract.ts';

/** Builds file_read's result from the bytes: UTF-8 text when it decodes, base64 otherwise. */
export function fileContent(path: string, bytes: Uint8Array): FileContent {
  try {
    return { path, content: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes), encoding: 'utf-8', bytes: bytes.length };
  } catch {
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { path, content: btoa(bin), encoding: 'base64', bytes: bytes.length };
  }
}

/** Decodes file_write content to bytes. */
export function decodeContent(content: string, encoding: 'utf-8' | 'base64'): Uint8Array {
  if (encoding === 'utf-8') return new TextEncoder().encode(content);
  try {
    return Uint8Array.from(atob(content), (ch) => ch.charCodeAt(0));
  } catch {
    throw new AppError('BAD_REQUEST', 'content: not valid base64', { details: { field: 'content' } });
  }
}
