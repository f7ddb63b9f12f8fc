// `mugpt quantize SRC --type f32|f16|q8_0|q4_0 -o OUT.gguf`: HF folder or GGUF → GGUF for llama.cpp and mugpt.
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { quantizeModel, QUANT_TYPES } from '../gguf/quantize-model.js';
import type { GgufWeightType } from '../gguf/export.js';
import { threadsOption } from './threads.js';
import { modelFromArg } from './hub-progress.js';

export function register(program: Command): void {
  threadsOption(program.command('quantize'))
    .description('write a model as a GGUF file (F32, F16, Q8_0 or Q4_0 weights) that llama.cpp and mugpt run')
    .argument('<src>', 'an HF model folder (config.json + safetensors), a .gguf file, or a Hub id OWNER/NAME[@REVISION]')
    .requiredOption('--type <type>', `weight type: ${QUANT_TYPES.join(', ')}`)
    .requiredOption('-o, --output <file>', 'the GGUF file to write')
    .option('--embed-type <type>', 'type of the token embedding and output head (default: q8_0 for quantized files)')
    .option('--name <name>', 'general.name written into the file')
    .option('--allow-requantize', 'let a Q8_0/Q4_0 GGUF source be written as another type than f32 (rounds twice; refused by default)')
    .action(async (src: string, o: { type: string; output: string; embedType?: string; name?: string; allowRequantize?: boolean }) => {
      const t0 = Date.now();
      const plan = quantizeModel(await modelFromArg(src), o.output, {
        type: o.type as GgufWeightType, embedType: o.embedType as GgufWeightType | undefined, name: o.name,
        allowRequantize: o.allowRequantize === true,
      });
      for (const note of plan.notes) process.stderr.write(`note: ${note}\n`);
      const mb = statSync(o.output).size / 1e6;
      process.stderr.write(`wrote ${o.output}: llama.cpp architecture ${plan.arch}, ${o.type}, ${mb.toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    });
}
