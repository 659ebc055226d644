/**
 * The relay's connections as HTTP/2 sees them: keepalive pings, a maximum connection age with
 * jitter (GOAWAY, so proxies reconnect wherever the load balancer sends them), and GOAWAY when
 * the relay drains on shutdown. Observed with raw node:http2 sessions, one connection each.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { describe, expect, it, onTestFinished } from 'vitest';
import { STREAM_AGGREGATED_RESOURCES } from '../../relay/protocol.js';
import { startTestRelay, type TestRelay, relayForTest } from '../support/xds-relay.js';

interface RawConnection {
  session: ClientHttp2Session;
  /** An ADS call left open (nothing sent), as an idle proxy's stream. */
  stream: ClientHttp2Stream;
  /** Resolves with the time (performance.now()) and code of the first GOAWAY. */
  goaway: Promise<{ at: number; code: number }>;
  /** Resolves at the first PING from the relay. */
  ping: Promise<void>;
}

/** One HTTP/2 connection to the relay with an ADS call open on it, made once the connection is up. */
async function rawConnection(relay: TestRelay): Promise<RawConnection> {
  const session = connect(`http://${relay.relay.adsAddress}`);
  onTestFinished(() => session.destroy());
  session.on('error', () => {});
  const goaway = new Promise<{ at: number; code: number }>((resolve) => session.once('goaway', (code) => resolve({ at: performance.now(), code })));
  const ping = new Promise<void>((resolve) => session.once('ping', () => resolve()));
  await new Promise((resolve) => session.once('connect', resolve));
  const stream = session.request({
    ':method': 'POST',
    ':path': STREAM_AGGREGATED_RESOURCES,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  return { session, stream, goaway, ping };
}

describe('relay: connections', () => {
  it('pings idle connections to keep them through idle timeouts and find dead peers', async () => {
    const relay = await relayForTest({ connection: { keepaliveTimeMs: 100 } });
    const connection = await rawConnection(relay);
    await connection.ping;
  });

  it('sends each connection a GOAWAY at its maximum age, each with its own jitter, so a fleet spreads out', async () => {
    const maxAgeMs = 1_000;
    const relay = await relayForTest({ connection: { maxAgeMs, maxAgeGraceMs: 200 } });
    const opened = performance.now();
    const connections = await Promise.all(Array.from({ length: 8 }, () => rawConnection(relay)));
    const goaways = await Promise.all(connections.map((c) => c.goaway));
    expect(goaways.every((g) => g.code === constants.NGHTTP2_NO_ERROR)).toBe(true);
    const ages = goaways.map((g) => g.at - opened);
    // grpc-js draws each connection's age uniformly within +-10%: 900 to 1100 ms here (a little
    // slack for the event loop), and eight draws never land together.
    for (const age of ages) {
      expect(age).toBeGreaterThan(maxAgeMs * 0.9 - 50);
      expect(age).toBeLessThan(maxAgeMs * 1.1 + 250);
    }
    expect(Math.max(...ages) - Math.min(...ages)).toBeGreaterThan(20);
  });

  it('on shutdown sends every connection a GOAWAY and ends open calls with OK', async () => {
    const relay = await startTestRelay({});
    const connection = await rawConnection(relay);
    // A call that ends before sending anything answers with headers carrying its status.
    const status = new Promise<Record<string, unknown>>((resolve) => connection.stream.once('response', (headers) => resolve(headers)));
    // Like a gRPC client: a call with its status is over (reset it), and a connection told
    // GOAWAY is left once nothing is open on it.
    void status.then(() => connection.stream.close());
    void connection.goaway.then(() => connection.session.close());
    // A PING round trip: the relay has read the call's HEADERS before it answers the PING.
    await new Promise((resolve) => connection.session.ping(resolve));
    await relay.close();
    expect((await connection.goaway).code).toBe(constants.NGHTTP2_NO_ERROR);
    expect(await status).toMatchObject({ 'grpc-status': '0' });
    expect(relay.logs.entries.some((e) => e.msg.startsWith('streams did not drain'))).toBe(false);
  });
});
