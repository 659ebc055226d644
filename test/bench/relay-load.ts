/**
 * The load generator of the relay benchmark, run as a separate process (child_process.fork
 * from relay.ts): opens state-of-the-world ADS streams over several HTTP/2 connections,
 * subscribes like Envoy (CDS and LDS by wildcard, EDS and RDS by name), ACKs every response,
 * and reports to its parent when every stream has its initial configuration and, for each
 * round, when every stream has received the next push (with the wall-clock time of the last).
 *
 * It reads only the header fields of responses (relay/protocol.ts decodeResponseHeader), so
 * the load costs as little CPU as possible on a machine it shares with the server.
 */
import * as grpc from '@grpc/grpc-js';
import { STREAM_LOAD_STATS } from '../../relay/lrs.js';
import { decodeLoadStatsResponse, encodeLoadStatsRequest } from '../support/telemetry-codecs.js';
import { STREAM_AGGREGATED_RESOURCES, decodeResponseHeader, encodeDiscoveryRequest } from '../../relay/protocol.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { wallClock } from './relay-fleet.js';

/** What the parent tells a load process. */
export type LoadCommand =
  | { type: 'start'; address: string; nodeIds: string[]; channels: number; names: string[]; initialResponses: number }
  | { type: 'arm'; round: number }
  /**
   * Opens a load reporting (LRS) stream beside each ADS stream, for the same node, and reports
   * on `clusters` at the interval the relay asks for, as a proxyless gRPC client does.
   */
  | { type: 'report'; clusters: string[] }
  | { type: 'stop' };

/** What a load process tells its parent. */
export type LoadReport =
  | { type: 'ready'; streams: number; ms: number }
  | { type: 'armed'; round: number }
  | { type: 'received'; round: number; streams: number; lastAt: number }
  | { type: 'reporting'; streams: number; intervalMs: number }
  | { type: 'failed'; message: string };

const identity = (bytes: Buffer): Buffer => bytes;

function report(message: LoadReport): void {
  process.send?.(message);
}

interface LoadStream {
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  responses: number;
  /** The round whose push this stream has received. */
  round: number;
}

let clients: grpc.Client[] = [];
let streams: LoadStream[] = [];
let nodeIds: string[] = [];
const reporters: { call: grpc.ClientDuplexStream<Buffer, Buffer>; timer?: NodeJS.Timeout }[] = [];
let armed: { round: number; remaining: number; lastAt: number } | undefined;

function start(command: Extract<LoadCommand, { type: 'start' }>): void {
  const started = performance.now();
  nodeIds = command.nodeIds;
  clients = Array.from(
    { length: command.channels },
    // A local subchannel pool: each client its own HTTP/2 connection, as separate proxies have.
    () => new grpc.Client(command.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
  );
  const namesOf = (typeUrl: string) => (typeUrl === ENDPOINT || typeUrl === ROUTE ? command.names : []);
  let ready = 0;
  streams = command.nodeIds.map((nodeId, index) => {
    const client = clients[index % clients.length] as grpc.Client;
    const call = client.makeBidiStreamRequest(STREAM_AGGREGATED_RESOURCES, identity, identity);
    const stream: LoadStream = { call, responses: 0, round: 0 };
    call.on('data', (bytes: Buffer) => {
      const header = decodeResponseHeader(bytes);
      stream.responses += 1;
      if (stream.responses === command.initialResponses) {
        ready += 1;
        if (ready === command.nodeIds.length) report({ type: 'ready', streams: ready, ms: performance.now() - started });
      } else if (armed && stream.responses > command.initialResponses && stream.round < armed.round) {
        stream.round = armed.round;
        armed.lastAt = wallClock();
        armed.remaining -= 1;
        if (armed.remaining === 0) report({ type: 'received', round: armed.round, streams: command.nodeIds.length, lastAt: armed.lastAt });
      }
      call.write(
        encodeDiscoveryRequest({ type_url: header.type_url, version_info: header.version, response_nonce: header.nonce, resource_names: namesOf(header.type_url) }),
      );
    });
    call.on('error', (error: Error) => report({ type: 'failed', message: `stream ${index}: ${error.message}` }));
    const node = { id: nodeId, cluster: '', user_agent_name: '', user_agent_version: '' };
    for (const typeUrl of [CLUSTER, ENDPOINT, LISTENER, ROUTE]) {
      call.write(encodeDiscoveryRequest({ node, type_url: typeUrl, resource_names: namesOf(typeUrl) }));
    }
    return stream;
  });
}

/**
 * One LRS stream per ADS stream, on the same connection. The first request carries the node;
 * after the relay's response (which sets the interval) each stream reports every interval,
 * its first report at a random offset so the fleet's reports spread as real proxies' do. Every
 * report: each cluster's calls since the last one (100 issued: 98 succeeded, 2 failed, 1 in
 * progress) in one locality.
 */
function startReporting(command: Extract<LoadCommand, { type: 'report' }>): void {
  let intervalMs = 0;
  let reporting = 0;
  const report = (interval: { seconds: number; nanos: number }) =>
    encodeLoadStatsRequest({
      cluster_stats: command.clusters.map((cluster_name) => ({
        cluster_name,
        upstream_locality_stats: [
          { locality: { region: 'bench', zone: 'bench-a' }, total_successful_requests: 98, total_error_requests: 2, total_issued_requests: 100, total_requests_in_progress: 1 },
        ],
        load_report_interval: interval,
      })),
    });
  nodeIds.forEach((nodeId, index) => {
    const client = clients[index % clients.length] as grpc.Client;
    const call = client.makeBidiStreamRequest(STREAM_LOAD_STATS, identity, identity);
    const reporter: (typeof reporters)[number] = { call };
    reporters.push(reporter);
    call.on('data', (bytes: Buffer) => {
      const { seconds, nanos } = decodeLoadStatsResponse(bytes).load_reporting_interval ?? { seconds: 0, nanos: 0 };
      const ms = seconds * 1000 + nanos / 1e6;
      if (reporter.timer || ms <= 0) return;
      intervalMs = ms;
      const bytesOfReport = report({ seconds, nanos });
      reporter.timer = setTimeout(() => {
        call.write(bytesOfReport);
        reporter.timer = setInterval(() => call.write(bytesOfReport), ms);
      }, Math.random() * ms);
      reporting += 1;
      if (reporting === nodeIds.length) process.send?.({ type: 'reporting', streams: reporting, intervalMs } satisfies LoadReport);
    });
    call.on('error', (error: Error) => process.send?.({ type: 'failed', message: `LRS stream ${index}: ${error.message}` } satisfies LoadReport));
    call.write(encodeLoadStatsRequest({ node: { id: nodeId, locality: { region: 'bench', zone: 'bench-a' } } }));
  });
}

process.on('message', (command: LoadCommand) => {
  try {
    if (command.type === 'start') start(command);
    else if (command.type === 'report') startReporting(command);
    else if (command.type === 'arm') {
      armed = { round: command.round, remaining: streams.length, lastAt: 0 };
      report({ type: 'armed', round: command.round });
    } else {
      for (const { call, timer } of reporters) {
        clearTimeout(timer);
        clearInterval(timer);
        call.cancel();
      }
      for (const { call } of streams) call.cancel();
      for (const client of clients) client.close();
      process.exit(0);
    }
  } catch (error) {
    report({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
});
