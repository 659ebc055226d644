/**
 * Identity and access at the relay: TLS, mTLS whose client certificate must name the proxy a
 * stream claims to be, and a shared bearer token. Certificates are made with openssl in a
 * temporary directory for each test.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeIdOf, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER } from '../../shared/xds/type-urls.js';
import { AdsTestClient, DeltaTestClient, resourceNames, type ConnectOptions } from '../support/xds-ads-client.js';
import { createTestCa, tlsCredentials, type TestCa } from '../support/xds-certs.js';
import { proxySnapshot, publish, virtualNode, uniqueMesh } from '../support/xds-fixtures.js';
import { type TestRelay, relayForTest } from '../support/xds-relay.js';

function testCa(label?: string): TestCa {
  const ca = createTestCa(label);
  onTestFinished(() => ca.remove());
  return ca;
}

function sotw(relay: TestRelay, nodeId: string, options: ConnectOptions): AdsTestClient {
  const client = new AdsTestClient(relay.relay.adsAddress, nodeId, options);
  onTestFinished(() => client.close());
  client.subscribe(CLUSTER);
  return client;
}

/** The relay's certificate names `localhost`; clients dial 127.0.0.1 and check that name (an IP as TLS server name is deprecated). */
const SERVER_NAME: grpc.ChannelOptions = { 'grpc.ssl_target_name_override': 'localhost' };

function arnOf(proxy: ProxyId): string {
  return `arn:aws:appmesh:us-east-1:111122223333:mesh/${proxy.mesh}/${proxy.kind}/${proxy.name}`;
}

describe('relay: identity and access', () => {
  it('with mTLS serves a stream whose client certificate names its proxy (node id or ARN, URI or DNS SAN) and refuses the others', async () => {
    const ca = testCa();
    const server = ca.issue('relay', ['DNS:localhost'], 'serverAuth');
    const relay = await relayForTest({ tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.caFile } });
    const mesh = uniqueMesh('access');
    const front = virtualNode(mesh, 'front');
    const back = virtualNode(mesh, 'back');
    await publish(relay.store, mesh, [
      proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }]),
      proxySnapshot(back, [{ name: 'beta', endpoints: [{ host: '127.0.0.1', port: 9002 }] }]),
    ]);
    const withCert = (cert?: ReturnType<TestCa['issue']>, trust = ca.ca): ConnectOptions => ({ credentials: tlsCredentials(trust, cert), channelOptions: SERVER_NAME });

    // Accepted: the node id or the ARN, as a URI or a DNS SAN, whichever form the stream claims.
    const accepted = [
      [ca.issue('uri-node-id', [`URI:${nodeIdOf(front)}`], 'clientAuth'), nodeIdOf(front)],
      [ca.issue('uri-arn', [`URI:${arnOf(front)}`], 'clientAuth'), nodeIdOf(front)],
      [ca.issue('dns-node-id', ['DNS:front.example', `DNS:${nodeIdOf(front)}`], 'clientAuth'), arnOf(front)],
    ] as const;
    for (const [cert, claim] of accepted) {
      expect(resourceNames(await sotw(relay, claim, withCert(cert)).next())).toEqual(['alpha']);
    }
    const deltaClient = new DeltaTestClient(relay.relay.adsAddress, nodeIdOf(front), withCert(accepted[0][0]));
    onTestFinished(() => deltaClient.close());
    deltaClient.subscribe(CLUSTER);
    expect((await deltaClient.next()).resources.map((r) => r.name)).toEqual(['alpha']);

    // A valid certificate of another proxy: PERMISSION_DENIED, on either protocol.
    const backCert = ca.issue('back', [`URI:${nodeIdOf(back)}`], 'clientAuth');
    expect(await sotw(relay, nodeIdOf(front), withCert(backCert)).end()).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: expect.stringContaining(`does not name ${nodeIdOf(front)}`),
    });
    const deltaImpostor = new DeltaTestClient(relay.relay.adsAddress, arnOf(front), withCert(backCert));
    onTestFinished(() => deltaImpostor.close());
    deltaImpostor.subscribe(CLUSTER);
    expect(await deltaImpostor.end()).toMatchObject({ code: grpc.status.PERMISSION_DENIED });

    // No certificate, or one another CA signed: UNAUTHENTICATED.
    expect(await sotw(relay, nodeIdOf(front), withCert()).end()).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining('client certificate'),
    });
    const stranger = testCa('stranger').issue('front', [`URI:${nodeIdOf(front)}`], 'clientAuth');
    expect(await sotw(relay, nodeIdOf(front), withCert(stranger)).end()).toMatchObject({ code: grpc.status.UNAUTHENTICATED });

    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'certificate_names_another_proxy' })).toBe(2);
    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'missing_client_certificate' })).toBe(2);
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'PERMISSION_DENIED' })).toBe(2);
    expect(relay.logs.entries.filter((e) => e.msg === 'stream refused').map((e) => e.reason)).toEqual([
      'certificate_names_another_proxy',
      'certificate_names_another_proxy',
      'missing_client_certificate',
      'missing_client_certificate',
    ]);
  });

  it('with TLS and a bearer token serves a client with the token, and refuses a missing or wrong one as UNAUTHENTICATED', async () => {
    const ca = testCa();
    const server = ca.issue('relay', ['DNS:localhost'], 'serverAuth');
    const token = randomUUID();
    const relay = await relayForTest({ tls: { certFile: server.certFile, keyFile: server.keyFile }, access: { bearerToken: token } });
    const mesh = uniqueMesh('access');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }])]);
    const credentials = tlsCredentials(ca.ca);

    expect(resourceNames(await sotw(relay, nodeIdOf(front), { credentials, channelOptions: SERVER_NAME, metadata: { authorization: `Bearer ${token}` } }).next())).toEqual(['alpha']);
    expect(await sotw(relay, nodeIdOf(front), { credentials, channelOptions: SERVER_NAME }).end()).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining('authorization: Bearer'),
    });
    expect(await sotw(relay, nodeIdOf(front), { credentials, channelOptions: SERVER_NAME, metadata: { authorization: 'Bearer wrong' } }).end()).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: 'the bearer token is not valid for this relay',
    });
    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'missing_token' })).toBe(1);
    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'invalid_token' })).toBe(1);
  });
});
