// For bench/relay/segments.ts: records, in a bench process (the fake upstream, a Custos bench
// server, the node floor), when each served request arrived, when the process forwarded it to a
// provider and got the provider's headers back, and when it handed its first body byte to the
// socket. Times are CLOCK_MONOTONIC (process.hrtime), the same clock in every process on the
// machine, so the driver can line the processes' records up without any clock alignment.
// Written to `file` as JSON when the process gets SIGTERM. Only node:http's diagnostics channels
// and this process's own response objects are touched: the code under test runs unchanged.
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** One served request, in µs of CLOCK_MONOTONIC. */
export interface ServedRequest {
  /** Its headers were parsed (http.server.request.start). */
  arrived: number;
  /** Its call to the provider was handed to the socket (Node publishes http.client.request.start from ClientRequest._finish). */
  forwarded?: number;
  /** The provider's response headers were parsed (http.client.response.finish). */
  providerHeaders?: number;
  /** The first write() or end() of the response body (after flushHeaders, for a stream). */
  firstByteOut?: number;
}

/** Microseconds of CLOCK_MONOTONIC, the clock every process on the machine shares. */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export function recordHttpSegments(file: string): void {
  const served: ServedRequest[] = [];
  // Calls are serial in segments.ts, so a provider call belongs to the request served last.
  let current: ServedRequest | undefined;
  subscribe('http.server.request.start', (message) => {
    const record: ServedRequest = { arrived: nowUs() };
    served.push(record);
    current = record;
    const response = (message as { response: ServerResponse }).response;
    const { write, end } = response;
    const firstByte = () => { record.firstByteOut ??= nowUs(); };
    response.write = function (this: ServerResponse, ...args: Parameters<typeof write>) {
      firstByte();
      return write.apply(this, args);
    } as typeof write;
    response.end = function (this: ServerResponse, ...args: Parameters<typeof end>) {
      firstByte();
      return end.apply(this, args);
    } as typeof end;
  });
  subscribe('http.client.request.start', () => { if (current) current.forwarded ??= nowUs(); });
  subscribe('http.client.response.finish', () => { if (current) current.providerHeaders ??= nowUs(); });
  process.prependListener('SIGTERM', () => writeFileSync(file, JSON.stringify(served)));
}
