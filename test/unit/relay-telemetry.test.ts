/**
 * The relay's traffic aggregator (relay/telemetry.ts) on a fake clock: windows close at their
 * boundary, in-progress figures are the last of each reporter summed, failed writes are retried
 * (counted, logged once per outage) with bounded memory, and closed windows become EMF lines.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricsRegistry } from '../../relay/metrics.js';
import { Reporter } from '../../relay/reporting.js';
import { EMF_NAMESPACE, TrafficAggregator, emfLine, responseTimeValues } from '../../relay/telemetry.js';
import type { EdgeWindow } from '../../shared/store/traffic.js';
import { LogRecorder, readMetric } from '../support/xds-relay.js';

const edge = { mesh: 'm', source: 'virtualNode/front', target: 'virtualNode/back-v1' };
const proxy = { mesh: 'm', kind: 'virtualNode' as const, name: 'front' };
const load = (issued: number, failed = 0) => ({ issued, succeeded: issued - failed, failed, dropped: 0 });

/** A store whose writes fail while `failing` is set. */
function fakeStore() {
  const written: EdgeWindow[] = [];
  const store = {
    failing: false,
    written,
    putWindows: vi.fn(async (windows: readonly EdgeWindow[]) => {
      if (store.failing) throw new Error('DynamoDB is down');
      written.push(...windows);
    }),
  };
  return store;
}

describe('TrafficAggregator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-12-07T12:00:00.100Z'));
  });
  afterEach(() => vi.useRealTimers());

  it("writes each edge window once, after its boundary, with the edge's in-progress level at its close", async () => {
    const store = fakeStore();
    const registry = new MetricsRegistry();
    const aggregator = new TrafficAggregator({ relayId: 'r1', windowSeconds: 60, store, logger: new LogRecorder(), registry });
    const tally = aggregator.tally(edge);
    aggregator.recordLoad(tally, load(10, 2));
    aggregator.recordLoad(tally, load(4));
    aggregator.recordLoad(tally, load(6, 1));
    // Two streams' latest in-progress figures, 1 and 2, as their reporters keep the edge's level.
    const a = new Reporter(proxy, undefined, aggregator);
    const b = new Reporter(proxy, undefined, aggregator);
    a.inProgress('back', tally, 5);
    a.inProgress('back', tally, 1);
    b.inProgress('back', tally, 2);
    aggregator.recordLatency(edge, { buckets: [{ le: 5, count: 2 }, { le: Infinity, count: 1 }], count: 3, sumMs: 4000 });
    aggregator.recordResponseCodes(edge, { '2xx': 3 });

    await vi.advanceTimersByTimeAsync(55_000);
    expect(store.written).toEqual([]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.written).toEqual([
      {
        ...edge,
        windowStart: Date.parse('2026-12-07T12:00:00Z') / 1000,
        windowSeconds: 60,
        relay: 'r1',
        issued: 20,
        succeeded: 17,
        failed: 3,
        dropped: 0,
        inProgress: 3,
        latency: { buckets: [{ le: 5, count: 2 }, { le: Infinity, count: 1 }], count: 3, sumMs: 4000 },
        responseCodes: { '2xx': 3 },
      },
    ]);
    const text = registry.render();
    expect(readMetric(text, 'envoy_appmesh_RequestCountPerTarget', { Mesh: 'm', VirtualNode: 'front', TargetVirtualNode: 'back-v1' })).toBe(20);
    expect(readMetric(text, 'envoy_appmesh_TargetResponseTime_bucket', { le: '+Inf' })).toBe(3);
    expect(readMetric(text, 'meshline_relay_traffic_windows_written_total')).toBe(1);
    await aggregator.close();
    expect(store.putWindows).toHaveBeenCalledTimes(1);
  });

  it('retries failed writes on the next tick, logs once per outage, and drops windows older than the bound', async () => {
    const store = fakeStore();
    const registry = new MetricsRegistry();
    const logs = new LogRecorder();
    const aggregator = new TrafficAggregator({ relayId: 'r1', windowSeconds: 1, store, logger: logs, registry, maxPendingWindows: 3 });
    store.failing = true;
    for (let second = 0; second < 6; second++) {
      aggregator.recordLoad(aggregator.tally(edge), load(1));
      await vi.advanceTimersByTimeAsync(1_000);
    }
    const text = registry.render();
    expect(readMetric(text, 'meshline_relay_traffic_write_errors_total')).toBeGreaterThanOrEqual(5);
    // At 6.05 s the windows of seconds 0 to 2 are more than 3 windows back.
    expect(readMetric(text, 'meshline_relay_traffic_windows_dropped_total')).toBe(3);
    expect(logs.entries.filter((e) => e.msg.startsWith('traffic windows not written'))).toHaveLength(1);

    store.failing = false;
    await vi.advanceTimersByTimeAsync(1_000);
    // At 7.05 s the window of second 3 is dropped too; those of seconds 4 and 5 are written.
    expect(store.written.map((w) => w.windowStart % 60)).toEqual([4, 5]);
    expect(readMetric(registry.render(), 'meshline_relay_traffic_windows_dropped_total')).toBe(4);
    expect(logs.entries.filter((e) => e.msg === 'traffic table writable again')).toHaveLength(1);
    await aggregator.close();
  });

  it('writes every open window on close', async () => {
    const store = fakeStore();
    const aggregator = new TrafficAggregator({ relayId: 'r1', windowSeconds: 60, store, logger: new LogRecorder(), registry: new MetricsRegistry() });
    aggregator.recordLoad(aggregator.tally(edge), load(7));
    await aggregator.close();
    expect(store.written.map((w) => w.issued)).toEqual([7]);
    aggregator.recordLoad(aggregator.tally(edge), load(7));
    expect(store.written).toHaveLength(1);
  });

  it('prints one Embedded Metric Format line per edge per closed window', async () => {
    const lines: string[] = [];
    const aggregator = new TrafficAggregator({ relayId: 'r1', windowSeconds: 1, emf: (line) => lines.push(line), logger: new LogRecorder(), registry: new MetricsRegistry() });
    aggregator.recordLoad(aggregator.tally(edge), load(9, 3));
    aggregator.recordLoad(aggregator.tally({ ...edge, source: 'virtualGateway/gw' }), load(1));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      {
        _aws: {
          Timestamp: Date.parse('2026-12-07T12:00:00Z'),
          CloudWatchMetrics: [
            {
              Namespace: EMF_NAMESPACE,
              Dimensions: [['Mesh', 'VirtualNode', 'TargetVirtualNode']],
              Metrics: [
                { Name: 'RequestCountPerTarget', Unit: 'Count' },
                { Name: 'HTTPCode_Target_5XX_Count', Unit: 'Count' },
              ],
            },
          ],
        },
        Mesh: 'm',
        VirtualNode: 'front',
        TargetVirtualNode: 'back-v1',
        RequestCountPerTarget: 9,
        HTTPCode_Target_5XX_Count: 3,
      },
      expect.objectContaining({ VirtualGateway: 'gw', RequestCountPerTarget: 1 }),
    ]);
    await aggregator.close();
  });
});

describe('emfLine', () => {
  it('gives TargetResponseTime as an array of values, one per request up to 100, the +Inf bucket at the largest finite bound', () => {
    const window: EdgeWindow = {
      ...edge,
      windowStart: 60,
      windowSeconds: 60,
      relay: 'r',
      issued: 4,
      succeeded: 4,
      failed: 0,
      dropped: 0,
      inProgress: 0,
      latency: { buckets: [{ le: 5, count: 1 }, { le: 10, count: 2 }, { le: Infinity, count: 1 }], count: 4, sumMs: 60 },
    };
    const line = JSON.parse(emfLine(window)) as { TargetResponseTime: unknown; _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } };
    expect(line.TargetResponseTime).toEqual([5, 10, 10, 10]);
    expect(line._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toContain('TargetResponseTime');
  });

  it('shares at most 100 values among the buckets in proportion past 100 requests, as the EMF specification allows', () => {
    const values = responseTimeValues({ buckets: [{ le: 1, count: 9_000 }, { le: 25, count: 990 }, { le: 250, count: 10 }], count: 10_000, sumMs: 0 });
    expect(values).toHaveLength(100);
    const count = (v: number) => values.filter((x) => x === v).length;
    // 97 free slots after one each: 87.3, 9.6 and 0.1, then the largest remainders.
    expect([count(1), count(25), count(250)]).toEqual([88, 11, 1]);
    expect(responseTimeValues(undefined)).toEqual([]);
  });
});

describe('Reporter.inProgress', () => {
  it("keeps an edge's level the sum of every open stream's latest figure, and takes a stream's figure back when it closes", () => {
    const aggregator = new TrafficAggregator({ relayId: 'r1', windowSeconds: 60, logger: new LogRecorder(), registry: new MetricsRegistry() });
    const tally = aggregator.tally(edge);
    const other = aggregator.tally({ ...edge, target: 'virtualNode/back-v2' });
    const a = new Reporter(proxy, undefined, aggregator);
    const b = new Reporter(proxy, undefined, aggregator);
    a.inProgress('back', tally, 5);
    b.inProgress('back', tally, 2);
    a.inProgress('back', tally, 1);
    expect(tally.inProgress).toBe(3);
    // The cluster now leads to another node (a new snapshot): its figure moves with it.
    a.inProgress('back', other, 4);
    expect([tally.inProgress, other.inProgress]).toEqual([2, 4]);
    a.close();
    b.close();
    expect([tally.inProgress, other.inProgress]).toEqual([0, 0]);
    void aggregator.close();
  });
});
