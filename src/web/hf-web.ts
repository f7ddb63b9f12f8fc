// A Hugging Face folder's files in memory (config.json, model.safetensors) → the model's config and
// parameters, through the checks Node's loader runs (validateCheckpoint, readParams): F32 tensors are
// views of the file's bytes where they are 4-byte aligned, F16/BF16 are upcast.
import { MugptError, check } from '../errors.js';
import { canonicalName } from '../io/checkpoint-names.js';
import type { CheckpointReader } from '../io/hf.js';
import { parseHeader, tensorFloats, type SafetensorsEntry } from '../io/safetensors-parse.js';
import { parseConfig, type ModelConfig } from '../model/config.js';
import { readParams, validateCheckpoint, type Params } from '../model/params.js';

/** config.json's text and model.safetensors' bytes (names: how errors call the two files). */
export function hfParams(configText: string, weights: Uint8Array, names: { config: string; weights: string }):
  { config: ModelConfig; params: Params } {
  let raw: unknown;
  try {
    raw = JSON.parse(configText);
  } catch (e) {
    throw new MugptError(`${names.config}: invalid JSON (${(e as Error).message})`);
  }
  const config = parseConfig(raw as Record<string, unknown>, names.config);
  // copies: TextDecoder refuses views of a SharedArrayBuffer (the threaded kernels' memory)
  const header = parseHeader(names.weights, weights.length, (o, n) => weights.slice(o, o + n));
  const located = new Map<string, SafetensorsEntry>();
  for (const e of header.entries) {
    const name = canonicalName(e.name);
    if (name === null) continue;
    const prev = located.get(name);
    check(!prev, () => `${names.weights}: tensor "${e.name}" and "${prev!.name}" both map to "${name}"`);
    located.set(name, e);
  }
  const entry = (name: string): SafetensorsEntry => {
    const e = located.get(name);
    if (!e) throw new MugptError(`${names.weights}: checkpoint has no tensor "${name}"`);
    return e;
  };
  const reader: CheckpointReader = {
    dir: names.weights,
    names: () => [...located.keys()],
    info: (name) => ({ name, dtype: entry(name).dtype, shape: [...entry(name).shape], file: names.weights }),
    read: (name) => tensorFloats(weights, entry(name), names.weights),
    close: () => {},
  };
  validateCheckpoint(reader, config, names.config);
  return { config, params: readParams(reader, config) };
}
