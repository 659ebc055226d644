/**
 * No secrets in snapshots or logs: after issuing keys and using them (signed API calls, refused
 * ones, per-proxy tokens at the relay), neither the stack's log (every line of every part) nor
 * any object in the snapshot bucket holds an issued secret, a private key, a signature or a
 * bearer token. The suite's global teardown repeats the scan over everything the whole run
 * wrote (test/support/global-setup.ts).
 */
import { CreateMeshCommand, CreateVirtualNodeCommand, ListMeshesCommand } from '@aws-sdk/client-app-mesh';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { SnapshotStore } from '../../shared/store/snapshots.js';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueKey, issueProxyToken, stackKeyStore } from '../support/keys.js';
import { issuedSecrets, scanBucket, scanLogFile } from '../support/secret-scan.js';

const stack = inject('stack');

describe('key material', () => {
  it('appears in no log line and no snapshot after keys were issued, used and refused', async () => {
    const meshName = uniqueMeshName('secrets');
    const admin = appMeshClient();
    await admin.send(new CreateMeshCommand({ meshName }));
    await admin.send(
      new CreateVirtualNodeCommand({
        meshName,
        virtualNodeName: 'tls',
        spec: {
          listeners: [
            {
              portMapping: { port: 8080, protocol: 'http' },
              tls: { mode: 'STRICT', certificate: { file: { certificateChain: '/certs/chain.pem', privateKey: '/certs/key.pem' } } },
            },
          ],
          serviceDiscovery: { dns: { hostname: 'tls.local' } },
        },
      }),
    );
    const reader = await issueKey({ role: 'read-only', meshes: [meshName] });
    await appMeshClient(reader).send(new ListMeshesCommand({}));
    await appMeshClient({ accessKeyId: reader.accessKeyId, secretAccessKey: 'z'.repeat(40) })
      .send(new ListMeshesCommand({}))
      .catch(() => undefined);
    await issueProxyToken(`mesh/${meshName}/virtualNode/tls`);
    const s3 = new S3Client({
      region: stack.region,
      endpoint: stack.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: stack.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY ?? '' },
    });

    // The node's snapshot (with its certificate paths) is in the bucket before it is scanned.
    const snapshots = new SnapshotStore(s3, stack.bucketName);
    await expect.poll(async () => Object.keys((await snapshots.getManifest(meshName))?.proxies ?? {}), { timeout: 15_000 }).toEqual(['virtualNode/tls']);

    const secrets = await issuedSecrets(stackKeyStore());
    expect(secrets.size).toBeGreaterThanOrEqual(3);
    const bucket = await scanBucket(s3, stack.bucketName, secrets);
    expect(bucket.objects).toBeGreaterThan(0);
    expect([...scanLogFile(stack.logFile, secrets), ...bucket.findings]).toEqual([]);
  });
});
