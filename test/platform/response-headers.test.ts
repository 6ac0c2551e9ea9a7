// The fixed response headers go into Node's header table in one step (response-headers.ts): they
// must behave exactly as if each had been set with setHeader, on every response independently.
import { expect } from 'chai';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { responseHeaderSetter } from '../../src/platform/http/response-headers.js';

const fixed: Array<[string, string]> = [['X-Frame-Options', 'SAMEORIGIN'], ['Vary', 'Origin'], ['Cache-Control', 'no-store']];
const response = () => new ServerResponse(new IncomingMessage(new Socket()));

describe('platform: fixed response headers', () => {
  it('uses the one-step table on this Node, readable and replaceable through the usual API', () => {
    const set = responseHeaderSetter(fixed);
    expect(set.name, 'the start-up check passed, so the fast path is the one in use').to.equal('direct');
    const res = response();
    set(res, 'request-id-123');
    expect(res.getHeader('x-frame-options')).to.equal('SAMEORIGIN');
    expect(res.getHeader('X-Request-Id')).to.equal('request-id-123');
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.removeHeader('Vary');
    res.writeHead(200);
    const head = (res as unknown as { _header: string })._header;
    expect(head).to.include('\r\nX-Frame-Options: SAMEORIGIN\r\n').and.include('\r\nX-Request-Id: request-id-123\r\n')
      .and.include('\r\nCache-Control: public, max-age=60\r\n').and.not.include('Vary');
  });

  it('gives each response its own copy: appending to one leaves the next untouched', () => {
    const set = responseHeaderSetter(fixed);
    const first = response();
    set(first, 'request-id-1');
    first.appendHeader('Vary', 'Accept-Encoding');
    expect(first.getHeader('vary')).to.deep.equal(['Origin', 'Accept-Encoding']);
    const second = response();
    set(second, 'request-id-2');
    expect(second.getHeader('vary')).to.equal('Origin');
  });

  it('merges with headers set before it, and refuses an invalid fixed header at start-up', () => {
    const set = responseHeaderSetter(fixed);
    const res = response();
    res.setHeader('X-Early', 'kept');
    set(res, 'request-id-3');
    expect(res.getHeader('x-early')).to.equal('kept');
    expect(res.getHeader('x-frame-options')).to.equal('SAMEORIGIN');
    expect(() => responseHeaderSetter([['X-Bad', 'line\r\nInjected: yes']])).to.throw();
    expect(() => responseHeaderSetter([['Bad Name', 'x']])).to.throw();
  });
});
