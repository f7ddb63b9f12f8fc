// `mugpt pull OWNER/NAME[@revision]`: download a model folder from the Hub (or a mirror) into the cache,
// with a progress bar on stderr; the folder path is printed on stdout for `mugpt generate --model`.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pullModel } from '../io/hub.js';

export function register(program: Command): void {
  program
    .command('pull')
    .description('download a model (config, safetensors weights, tokenizer) from the Hugging Face Hub into the local cache; prints its folder')
    .argument('<repo>', 'OWNER/NAME or OWNER/NAME@REVISION (branch, tag or commit)')
    .option('--cache-dir <dir>', 'cache root (default: $MUGPT_CACHE or ~/.cache/mugpt/hub)')
    .option('--endpoint <url>', 'Hub URL or mirror (default: $HF_ENDPOINT or the public Hub)')
    .option('--token <token>', 'access token for gated or private models (default: $HF_TOKEN)')
    .action(async (repo: string, o: { cacheDir?: string; endpoint?: string; token?: string }) => {
      const mb = (n: number): string => (n / 1e6).toFixed(1);
      const bar = new cliProgress.SingleBar({
        format: '{bar} {percentage}% | {doneMB}/{totalMB} MB | {rate} MB/s | ETA {eta_formatted} | {file}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      }, cliProgress.Presets.shades_classic);
      const start = Date.now();
      let started = false;
      try {
        const folder = await pullModel(repo, {
          cacheDir: o.cacheDir, endpoint: o.endpoint, token: o.token,
          onProgress: (p) => {
            const payload = { file: p.file, doneMB: mb(p.done), totalMB: mb(p.total), rate: mb(p.fetched / Math.max(1e-3, (Date.now() - start) / 1000)) };
            if (!started) { bar.start(p.total, p.done, payload); started = true; }
            if (bar.getTotal() !== p.total) bar.setTotal(p.total);
            bar.update(p.done, payload);
          },
        });
        bar.stop();
        process.stdout.write(`${folder}\n`);
      } finally {
        bar.stop();
      }
    });
}
