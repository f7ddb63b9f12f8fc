// Prometheus metrics of the server (prom-client, a registry of its own so several servers in one
// process do not share counters): requests, tokens, queue, batch, throughput and KV-cache memory.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Scheduler } from './scheduler.js';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly promptTokens: Counter;
  readonly generatedTokens: Counter;
  readonly timeToFirstToken: Histogram;
  readonly requestSeconds: Histogram<'route'>;
  readonly stepSeconds: Histogram;

  constructor(scheduler: Scheduler) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'mugpt_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'], registers });
    this.promptTokens = new Counter({ name: 'mugpt_prompt_tokens_total', help: 'Prompt tokens of accepted requests', registers });
    this.generatedTokens = new Counter({ name: 'mugpt_generated_tokens_total', help: 'Tokens generated', registers });
    this.timeToFirstToken = new Histogram({
      name: 'mugpt_time_to_first_token_seconds', help: 'From a request\'s arrival to its first generated token', registers,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.requestSeconds = new Histogram({
      name: 'mugpt_request_duration_seconds', help: 'Request durations by route', labelNames: ['route'], registers,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    });
    this.stepSeconds = new Histogram({
      name: 'mugpt_batch_step_seconds', help: 'Duration of one batched model step', registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('mugpt_queue_length', 'Sequences waiting for a slot', () => scheduler.stats().queued);
    gauge('mugpt_active_sequences', 'Sequences in the running batch', () => scheduler.stats().active);
    gauge('mugpt_tokens_per_second', 'Tokens generated per second over the last 5 s', () => scheduler.stats().tokensPerSecond);
    gauge('mugpt_kv_cache_bytes', 'Bytes held by the KV caches of the running sequences', () => scheduler.stats().kvCacheBytes);
    gauge('mugpt_peak_rss_bytes', 'Peak resident memory of the process (ru_maxrss)', () => process.resourceUsage().maxRSS * 1024);
    collectDefaultMetrics({ register: this.registry, prefix: 'mugpt_' });
  }
}
