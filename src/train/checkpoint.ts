// Training checkpoints: a complete Hugging Face model folder (config.json, model.safetensors,
// generation_config.json and the run's tokenizer files: src/model/hf-files.ts; loadable by mugpt, PyTorch
// and transformers) plus optimizer.safetensors (AdamW moments m.<name>, v.<name>) and
// trainer_state.json (step, tokens, data position, seed, optimizer step and lr).
//
// Layout: <out>/checkpoints/step-00000100/ and <out>/checkpoints/latest naming the current one.
// A save writes a new folder beside the old one (.step-N.partial, each file fsynced), renames it into
// place, then atomically rewrites `latest`, and only then removes the older folder. A failure at any
// point (a full disk included) removes the partial folder and leaves the last good checkpoint and
// `latest` as they were.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError, check, shown } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { openCheckpoint, readConfigJson, writeCheckpoint } from '../io/hf.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import { parseConfig, type ModelConfig } from '../model/config.js';
import { writeHfFolderFiles } from '../model/hf-files.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import type { NamedTensor } from '../model/init.js';
import { expectedTensors } from '../model/params.js';
import type { AdamWState } from './adamw.js';
import type { LoaderPosition } from './loader.js';

export interface TrainerState {
  format: 'mugpt-train-state';
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  /** Training tokens consumed. */
  tokens: number;
  /** The run's seed: with `data` it fixes the rest of the data order (the only randomness of a step). */
  seed: number;
  data: LoaderPosition;
  optimizer: { step: number; lr: number };
  /** Wall-clock seconds of training so far (for tokens/s across resumes). */
  elapsed: number;
}

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  tensors: NamedTensor[];
  /** The tokenizer the run trains with (written into the folder when saving); null: none known. */
  tokenizer?: Tokenizer | null;
  optimizer: AdamWState;
  state: TrainerState;
}

const STATE_FILE = 'trainer_state.json';
const OPT_FILE = 'optimizer.safetensors';
const stepName = (step: number) => `step-${String(step).padStart(8, '0')}`;

export function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

/** The folder of the last good checkpoint of a run, or null when there is none. */
export function latestCheckpoint(outDir: string): string | null {
  const latest = join(checkpointsDir(outDir), 'latest');
  if (!existsSync(latest)) return null;
  const name = readFileSync(latest, 'utf8').trim();
  check(/^step-\d{8}$/.test(name), `${latest}: expected a checkpoint folder name like step-00000100, got ${shown(name)}`);
  const dir = join(checkpointsDir(outDir), name);
  check(existsSync(join(dir, STATE_FILE)), `${latest} names ${dir}, which is missing or incomplete (no ${STATE_FILE})`);
  return dir;
}

/** Saves a checkpoint; returns its folder. See the file comment for the write order. */
export function saveCheckpoint(outDir: string, ck: Omit<Checkpoint, 'dir'>): string {
  const root = checkpointsDir(outDir);
  mkdirSync(root, { recursive: true });
  const name = stepName(ck.state.step);
  const final = join(root, name);
  const previous = latestCheckpoint(outDir);
  if (previous === final) return final; // this step is already saved
  const partial = join(root, `.${name}.partial`);
  rmSync(partial, { recursive: true, force: true });
  try {
    mkdirSync(partial);
    writeCheckpoint(partial, ck.tensors);
    writeHfFolderFiles(partial, ck.config, { tokenizer: ck.tokenizer ?? null });
    const moments = Object.keys(ck.optimizer.m).flatMap((n) => [
      { name: `m.${n}`, shape: [ck.optimizer.m[n].length], data: ck.optimizer.m[n], dtype: 'F32' as const },
      { name: `v.${n}`, shape: [ck.optimizer.v[n].length], data: ck.optimizer.v[n], dtype: 'F32' as const },
    ]);
    writeSafetensors(join(partial, OPT_FILE), moments, { format: 'mugpt-adamw' });
    writeFileAtomic(join(partial, STATE_FILE), `${JSON.stringify(ck.state, null, 2)}\n`);
    rmSync(final, { recursive: true, force: true }); // a stale folder of this step that `latest` never named
    renameSync(partial, final);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    const why = err instanceof Error ? err.message : String(err);
    throw new MugptError(`saving the checkpoint of step ${ck.state.step} in ${root} failed (${why}); `
      + (previous ? `the last good checkpoint ${previous} is untouched` : 'there is no earlier checkpoint'));
  }
  writeFileAtomic(join(root, 'latest'), `${name}\n`);
  for (const entry of readdirSync(root)) {
    if (entry !== name && /^step-\d{8}$/.test(entry)) rmSync(join(root, entry), { recursive: true, force: true });
  }
  return final;
}

/** The architecture fields that must agree between a checkpoint and a run config. */
const ARCH_FIELDS = ['model_type', 'vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'activation_function',
  'position_embedding_type', 'mup_width_scale', 'mup_embeddings_scale', 'mup_output_alpha', 'mup_scale_qk_dot_by_d'] as const;

/** Throws a MugptError listing every architecture field where the checkpoint and the run differ. */
export function checkSameArchitecture(ckpt: ModelConfig, run: ModelConfig, dir: string, runFile: string): void {
  const diffs = ARCH_FIELDS.filter((k) => ckpt[k] !== run[k]).map((k) => `${k} ${shown(ckpt[k])} vs ${shown(run[k])}`);
  check(diffs.length === 0, () => `${dir}: the checkpoint is of another architecture than ${runFile} (${diffs.join(', ')}); `
    + 'resume with the run config that made it, or train into another out_dir');
}

/** Loads a checkpoint folder written by saveCheckpoint. */
export function loadCheckpoint(dir: string): Checkpoint {
  const config = parseConfig(readConfigJson(dir), join(dir, 'config.json'));
  const statePath = join(dir, STATE_FILE);
  let state: TrainerState;
  try { state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState; } catch (e) {
    throw new MugptError(`${statePath}: cannot read the trainer state (${(e as Error).message})`);
  }
  check(state.format === 'mugpt-train-state' && state.version === 1, `${statePath}: not a mugpt trainer state (format/version)`);
  check(Number.isInteger(state.step) && state.step >= 0, `${statePath}: "step" must be an integer ≥ 0`);

  const reader = openCheckpoint(dir);
  const tensors: NamedTensor[] = [];
  try {
    for (const { name, shape } of expectedTensors(config)) {
      check(reader.names().includes(name), `${dir}: checkpoint has no tensor "${name}"`);
      const info = reader.info(name);
      check(info.shape.join() === shape.join(), `${info.file}: "${name}" has shape [${info.shape}], config.json implies [${shape}]`);
      tensors.push({ name, shape, data: reader.read(name) });
    }
  } finally { reader.close(); }

  const optPath = join(dir, OPT_FILE);
  check(existsSync(optPath), `${dir}: no ${OPT_FILE} (optimizer state): not a training checkpoint`);
  const opt = new SafetensorsFile(optPath);
  const m: Record<string, Float32Array> = {}, v: Record<string, Float32Array> = {};
  try {
    for (const n of opt.names()) {
      if (n.startsWith('m.')) m[n.slice(2)] = opt.readFloat32(n);
      else if (n.startsWith('v.')) v[n.slice(2)] = opt.readFloat32(n);
      else throw new MugptError(`${optPath}: unexpected tensor "${n}" (expected m.<name> and v.<name>)`);
    }
  } finally { opt.close(); }
  return { dir, config, tensors, optimizer: { step: state.optimizer.step, lr: state.optimizer.lr, m, v }, state };
}
