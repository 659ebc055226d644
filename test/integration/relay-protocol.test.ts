/**
 * The relay's hand-written ADS codec (relay/protocol.ts) against protobufjs over Envoy's own
 * protos, for generated messages: every request a client can encode decodes to the same
 * fields, and every response the relay assembles from shared pieces decodes as intended.
 * Pure: no relay, no emulator.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeDeltaDiscoveryRequest,
  decodeDiscoveryRequest,
  decodeResponseHeader,
  deltaResourceEntry,
  discoveryResponseBody,
  encodeAny,
  encodeDeltaResponse,
  withNonce,
} from '../../relay/protocol.js';
import { envoyRoot } from '../../shared/xds/protos.js';
import { CLUSTER, RESOURCE_TYPE_URLS } from '../../shared/xds/type-urls.js';
import { decodeDeltaDiscoveryResponse, decodeDiscoveryResponse, encodeDeltaDiscoveryRequest, encodeDiscoveryRequest } from '../support/xds-codecs.js';

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const typeUrl = fc.oneof(fc.constantFrom(...RESOURCE_TYPE_URLS), text);
const errorDetail = fc.option(fc.record({ code: fc.integer({ min: -5, max: 20 }), message: text }), { nil: undefined });
const node = fc.option(
  fc.record({ id: text, cluster: text, user_agent_name: text, user_agent_version: text }),
  { nil: undefined },
);

describe('relay: the ADS codec', () => {
  it('decodes every DiscoveryRequest protobufjs encodes', () => {
    fc.assert(
      fc.property(
        fc.record({ version_info: text, node, resource_names: fc.array(text, { maxLength: 12 }), type_url: typeUrl, response_nonce: text, error_detail: errorDetail }),
        (request) => {
          const decoded = decodeDiscoveryRequest(encodeDiscoveryRequest(request));
          expect(decoded).toEqual({
            version_info: request.version_info,
            node: request.node ?? null,
            resource_names: request.resource_names,
            type_url: request.type_url,
            response_nonce: request.response_nonce,
            error_detail: request.error_detail ?? null,
          });
        },
      ),
    );
  });

  it('decodes every DeltaDiscoveryRequest protobufjs encodes, initial_resource_versions included', () => {
    fc.assert(
      fc.property(
        fc.record({
          node,
          type_url: typeUrl,
          resource_names_subscribe: fc.array(text, { maxLength: 8 }),
          resource_names_unsubscribe: fc.array(text, { maxLength: 8 }),
          initial_resource_versions: fc.dictionary(text, text, { maxKeys: 8 }),
          response_nonce: text,
          error_detail: errorDetail,
        }),
        (request) => {
          const decoded = decodeDeltaDiscoveryRequest(encodeDeltaDiscoveryRequest(request));
          expect({ ...decoded, initial_resource_versions: Object.fromEntries(decoded.initial_resource_versions) }).toEqual({
            ...request,
            node: request.node ?? null,
            error_detail: request.error_detail ?? null,
          });
        },
      ),
    );
  });

  it("reads Envoy's user_agent_build_version as major.minor.patch", () => {
    const type = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const bytes = type
      .encode(type.fromObject({ node: { id: 'n', user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 2 } } } }))
      .finish();
    expect(decodeDiscoveryRequest(bytes).node).toMatchObject({ id: 'n', user_agent_name: 'envoy', user_agent_version: '1.31.2' });
  });

  it('assembles responses from shared bodies and per-stream nonces that decode as whole messages', () => {
    const resources = fc.array(fc.record({ name: text, version: text, value: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 6 });
    fc.assert(
      fc.property(text, resources, text, fc.array(text, { maxLength: 4 }), (version, items, nonce, removed) => {
        const anys = items.map((r) => encodeAny(CLUSTER, r.value));
        const sotw = decodeDiscoveryResponse(withNonce(discoveryResponseBody(version, anys, CLUSTER), nonce));
        expect(sotw).toEqual({ version_info: version, type_url: CLUSTER, nonce, resources: items.map(() => ({ type_url: CLUSTER, value: expect.anything() })) });
        expect(sotw.resources.map((r) => Buffer.from(r.value).toString('hex'))).toEqual(items.map((r) => Buffer.from(r.value).toString('hex')));
        expect(decodeResponseHeader(withNonce(discoveryResponseBody(version, anys, CLUSTER), nonce))).toEqual({ version, type_url: CLUSTER, nonce });

        const delta = decodeDeltaDiscoveryResponse(
          encodeDeltaResponse(version, items.map((r, i) => deltaResourceEntry(r.name, r.version, anys[i] as Buffer)), CLUSTER, removed, nonce),
        );
        expect(delta).toMatchObject({ system_version_info: version, type_url: CLUSTER, nonce, removed_resources: removed });
        expect(delta.resources.map((r) => [r.name, r.version, Buffer.from(r.resource?.value ?? []).toString('hex')])).toEqual(
          items.map((r) => [r.name, r.version, Buffer.from(r.value).toString('hex')]),
        );
      }),
    );
  });
});
