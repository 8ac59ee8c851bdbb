// HTTP-level failures on /mcp (authentication, rate limits, body size, outages) as JSON-RPC error
// bodies: MCP clients show a JSON-RPC error's message, and ignore a REST error body.
import type { AppError } from '../errors.ts';

/** JSON-RPC error code of an authentication failure (implementation-defined server error range). */
export const JSONRPC_UNAUTHORIZED = -32001;
/** JSON-RPC error code of every other HTTP-level failure. */
export const JSONRPC_SERVER_ERROR = -32000;

/** The JSON-RPC error body for `e`; `data` carries the REST error body (code, message, details). */
export function jsonRpcErrorBody(e: AppError): { jsonrpc: '2.0'; id: null; error: { code: number; message: string; data: Record<string, unknown> } } {
  const code = e.code === 'UNAUTHORIZED' ? JSONRPC_UNAUTHORIZED : JSONRPC_SERVER_ERROR;
  // The request id is unknown here (the body was not read, or could not be), which JSON-RPC answers with null.
  return { jsonrpc: '2.0', id: null, error: { code, message: `${e.code}: ${e.message}`, data: e.toBody().error } };
}
