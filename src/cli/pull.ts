// `mugpt pull OWNER/NAME[@revision]`: download a model folder from the Hub (or a mirror) into the
// Hugging Face cache, with a progress bar on stderr; the snapshot folder is printed on stdout.
import type { Command } from 'commander';
import { pullModel } from '../io/hub.js';
import { withPullBar } from './hub-progress.js';

export function register(program: Command): void {
  program
    .command('pull')
    .description('download a model (config, safetensors weights, tokenizer) from the Hugging Face Hub into the Hugging Face cache; prints its folder')
    .argument('<repo>', 'OWNER/NAME or OWNER/NAME@REVISION (branch, tag or commit)')
    .option('--cache-dir <dir>', 'cache root (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)')
    .option('--endpoint <url>', 'Hub URL or mirror (default: $HF_ENDPOINT or the public Hub)')
    .option('--token <token>', 'access token for gated or private models (default: $HF_TOKEN)')
    .action(async (repo: string, o: { cacheDir?: string; endpoint?: string; token?: string }) => {
      const folder = await withPullBar((onProgress) => pullModel(repo, { cacheDir: o.cacheDir, endpoint: o.endpoint, token: o.token, onProgress }));
      process.stdout.write(`${folder}\n`);
    });
}
