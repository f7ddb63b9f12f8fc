// The parameters of a gpt2/btlm model: HF tensor names and shapes from a config, validation of a
// checkpoint against them, and the typed per-layer views the forward uses.
// Conv1D weights are stored [in, out]: y = x·W + b (or [out, in] for inference: Params.conv1dOutIn).
import { MugptError, check } from '../errors.js';
import type { CheckpointReader } from '../io/hf.js';
import { alibiSlopes } from './alibi.js';
import { innerSize, usesAlibi, type ModelConfig } from './config.js';
import type { QuantMatrix } from '../kernels/kernels.js';

export interface TensorSpec {
  name: string;
  shape: number[];
}

/**
 * A weight matrix: floats in HF layout (Conv1D [in, out], embeddings [V, D]), or GGUF blocks in
 * [out, in] layout (a model loaded from a quantized GGUF file).
 */
export type Weight = Float32Array | QuantMatrix;

export interface LayerParams<W extends Weight = Float32Array> {
  ln1W: Float32Array; // [D]
  ln1B: Float32Array; // [D]
  attnW: W; // [D, 3D] columns [q | k | v]
  attnB: Float32Array; // [3D]
  attnProjW: W; // [D, D]
  attnProjB: Float32Array; // [D]
  ln2W: Float32Array; // [D]
  ln2B: Float32Array; // [D]
  fcW: W; // [D, I]
  fcB: Float32Array; // [I]
  /** SwiGLU gate branch (btlm swiglu only). */
  fc2W: W | null; // [D, I]
  fc2B: Float32Array | null; // [I]
  mlpProjW: W; // [I, D]
  mlpProjB: Float32Array; // [D]
}

export interface Params<W extends Weight = Float32Array> {
  wte: W; // [V, D]
  /** The LM head [V, D]: wte when tied (tie_word_embeddings), else lm_head.weight. */
  lmHead: W;
  wpe: Float32Array | null; // [P, D], learned positions only
  layers: LayerParams<W>[];
  lnfW: Float32Array; // [D]
  lnfB: Float32Array; // [D]
  /** ALiBi slopes [H]: the checkpoint's when stored (HF uses them), else the formula's. null without ALiBi. */
  slopes: Float32Array | null;
  /** Every float tensor by HF name, the same arrays as above (slopes included for ALiBi models). */
  tensors: Map<string, Float32Array>;
  /**
   * True when the float Conv1D matrices are stored [out, in] (GGUF's layout, which Model.loadGguf keeps:
   * y = x·Wᵀ + b through gemm's transposed-B path, whose few-row kernels read each weight row once for
   * every sequence of a decode batch), false for HF's [in, out]. conv1dToInOut turns the first into the
   * second, for training and saving.
   */
  conv1dOutIn: boolean;
}

/** The quantized matrices of a model, each once (a tied embedding is also the LM head). */
export function quantMatrices(p: Params<Weight>): QuantMatrix[] {
  const all = [p.wte, p.lmHead, ...p.layers.flatMap((l) => [l.attnW, l.attnProjW, l.fcW, l.fc2W, l.mlpProjW])];
  return [...new Set(all.filter((w): w is QuantMatrix => w !== null && !(w instanceof Float32Array)))];
}

const SLOPES = 'transformer.relative_pe.slopes';
export const LM_HEAD = 'lm_head.weight';

/** The HF tensors of a config, `transformer.`-prefixed (lm_head.weight of an untied head aside), in checkpoint order. */
export function expectedTensors(cfg: ModelConfig): TensorSpec[] {
  const D = cfg.n_embd, I = innerSize(cfg), out: TensorSpec[] = [];
  const add = (name: string, shape: number[]): void => { out.push({ name: `transformer.${name}`, shape }); };
  add('wte.weight', [cfg.vocab_size, D]);
  if (!usesAlibi(cfg)) add('wpe.weight', [cfg.n_positions, D]);
  for (let i = 0; i < cfg.n_layer; i++) {
    const h = `h.${i}`;
    add(`${h}.ln_1.weight`, [D]); add(`${h}.ln_1.bias`, [D]);
    add(`${h}.attn.c_attn.weight`, [D, 3 * D]); add(`${h}.attn.c_attn.bias`, [3 * D]);
    add(`${h}.attn.c_proj.weight`, [D, D]); add(`${h}.attn.c_proj.bias`, [D]);
    add(`${h}.ln_2.weight`, [D]); add(`${h}.ln_2.bias`, [D]);
    add(`${h}.mlp.c_fc.weight`, [D, I]); add(`${h}.mlp.c_fc.bias`, [I]);
    if (cfg.activation_function === 'swiglu') { add(`${h}.mlp.c_fc2.weight`, [D, I]); add(`${h}.mlp.c_fc2.bias`, [I]); }
    add(`${h}.mlp.c_proj.weight`, [I, D]); add(`${h}.mlp.c_proj.bias`, [D]);
  }
  add('ln_f.weight', [D]); add('ln_f.bias', [D]);
  if (usesAlibi(cfg)) add('relative_pe.slopes', [cfg.n_head, 1]);
  if (!cfg.tie_word_embeddings) out.push({ name: LM_HEAD, shape: [cfg.vocab_size, D] });
  return out;
}

/** Tensors a checkpoint may omit (HF then computes them). */
function optional(name: string): boolean {
  return name === SLOPES;
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const showShape = (s: number[]): string => `[${s.join(', ')}]`;

/**
 * Checks a checkpoint against its config: every expected tensor present with the config's shape,
 * nothing unexpected. Errors name the tensor, the file and config.json.
 */
export function validateCheckpoint(reader: CheckpointReader, cfg: ModelConfig, configPath: string): void {
  const present = new Set(reader.names());
  // A tied model's checkpoint may also store lm_head.weight (a copy of wte, which HF ties back): ignored.
  if (cfg.tie_word_embeddings) present.delete(LM_HEAD);
  const expected = expectedTensors(cfg);
  for (const { name, shape } of expected) {
    if (!present.has(name)) {
      if (optional(name)) continue;
      if (name === LM_HEAD) {
        throw new MugptError(`${reader.dir}: no tensor "${LM_HEAD}" ${showShape(shape)} in its model.safetensors (or shards), `
          + `which ${configPath} requires (tie_word_embeddings is false: the output head is not the token embedding)`);
      }
      throw new MugptError(`${reader.dir}: checkpoint has no tensor "${name}" ${showShape(shape)}, which ${configPath} requires`
        + ` (model_type ${cfg.model_type}, n_layer ${cfg.n_layer}, activation ${cfg.activation_function})`);
    }
    const info = reader.info(name);
    // The slopes may also be stored flat [H].
    const ok = sameShape(info.shape, shape) || (name === SLOPES && sameShape(info.shape, [cfg.n_head]));
    check(ok, () => `${info.file}: tensor "${name}" has shape ${showShape(info.shape)}, but ${configPath} implies ${showShape(shape)}`);
  }
  const known = new Set(expected.map((t) => t.name));
  for (const name of present) {
    if (!known.has(name)) {
      const file = reader.info(name).file;
      throw new MugptError(`${file}: unexpected tensor "${name}" for ${configPath} (model_type ${cfg.model_type}, `
        + `position_embedding_type ${cfg.position_embedding_type}, activation ${cfg.activation_function}, n_layer ${cfg.n_layer})`);
    }
  }
}

/**
 * Typed views over named tensors (HF names, `transformer.`-prefixed). Every expected tensor must be
 * there with the right element count; `where` names the source in errors. The arrays are used as they
 * are, not copied. Missing ALiBi slopes come from the formula.
 */
export function paramsFromTensors(cfg: ModelConfig, named: Map<string, Float32Array>, where: string): Params;
export function paramsFromTensors(cfg: ModelConfig, named: Map<string, Weight>, where: string, conv1dOutIn?: boolean): Params<Weight>;
export function paramsFromTensors(cfg: ModelConfig, named: Map<string, Weight>, where: string, conv1dOutIn = false): Params<Weight> {
  const tensors = new Map<string, Float32Array>();
  const quant = new Map<string, QuantMatrix>();
  for (const { name, shape } of expectedTensors(cfg)) {
    const t = named.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (t === undefined) {
      if (name === SLOPES) { tensors.set(name, alibiSlopes(cfg.n_head)); continue; }
      throw new MugptError(`${where}: missing tensor "${name}" ${showShape(shape)}`);
    }
    if (!(t instanceof Float32Array)) {
      // blocks are [out, in]: HF Conv1D [in, out] and embeddings / heads [V, D] (= [out, in])
      const matrix = shape.length === 2;
      const conv1d = name.includes('.attn.c_') || name.includes('.mlp.c_');
      const [out, inp] = conv1d ? [shape[1], shape[0]] : [shape[0], shape[1]];
      // an input length that is not a multiple of 32 may be stored zero-padded to whole blocks
      const padded = inp % 32 !== 0 && t.K === Math.ceil(inp / 32) * 32;
      check(matrix && t.N === out && (t.K === inp || padded), () => `${where}: quantized tensor "${name}" is [${t.N}, ${t.K}] (out, in), but its shape ${showShape(shape)} needs [${out}, ${inp}]`);
      quant.set(name, t);
      continue;
    }
    check(t.length === n, () => `${where}: tensor "${name}" has ${t.length} elements, but its shape ${showShape(shape)} needs ${n}`);
    tensors.set(name, t);
  }
  const known = new Set(expectedTensors(cfg).map((t) => t.name));
  for (const name of named.keys()) check(known.has(name), () => `${where}: unexpected tensor "${name}" for this config`);

  const getF = (name: string): Float32Array => {
    const t = tensors.get(`transformer.${name}`);
    check(t !== undefined, () => `${where}: tensor "transformer.${name}" must be floats, not quantized`);
    return t;
  };
  const get = (name: string): Weight => tensors.get(`transformer.${name}`) ?? quant.get(`transformer.${name}`)!;
  const swiglu = cfg.activation_function === 'swiglu';
  const layers: LayerParams<Weight>[] = [];
  for (let i = 0; i < cfg.n_layer; i++) {
    const h = `h.${i}`;
    layers.push({
      ln1W: getF(`${h}.ln_1.weight`), ln1B: getF(`${h}.ln_1.bias`),
      attnW: get(`${h}.attn.c_attn.weight`), attnB: getF(`${h}.attn.c_attn.bias`),
      attnProjW: get(`${h}.attn.c_proj.weight`), attnProjB: getF(`${h}.attn.c_proj.bias`),
      ln2W: getF(`${h}.ln_2.weight`), ln2B: getF(`${h}.ln_2.bias`),
      fcW: get(`${h}.mlp.c_fc.weight`), fcB: getF(`${h}.mlp.c_fc.bias`),
      fc2W: swiglu ? get(`${h}.mlp.c_fc2.weight`) : null, fc2B: swiglu ? getF(`${h}.mlp.c_fc2.bias`) : null,
      mlpProjW: get(`${h}.mlp.c_proj.weight`), mlpProjB: getF(`${h}.mlp.c_proj.bias`),
    });
  }
  return {
    wte: get('wte.weight'),
    lmHead: cfg.tie_word_embeddings ? get('wte.weight') : (tensors.get(LM_HEAD) ?? quant.get(LM_HEAD)!),
    wpe: usesAlibi(cfg) ? null : getF('wpe.weight'),
    layers,
    lnfW: getF('ln_f.weight'),
    lnfB: getF('ln_f.bias'),
    slopes: usesAlibi(cfg) ? getF('relative_pe.slopes') : null,
    tensors,
    conv1dOutIn,
  };
}

/** Transposes the float Conv1D matrices of p from [out, in] to HF's [in, out], in place (the same arrays). */
export function conv1dToInOut(cfg: ModelConfig, p: Params<Weight>): void {
  if (!p.conv1dOutIn) return;
  const D = cfg.n_embd, I = innerSize(cfg);
  const t = (W: Weight | null, inp: number, out: number): void => {
    if (!(W instanceof Float32Array)) return;
    const src = W.slice(); // [out, inp]
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inp; i++) W[i * out + o] = src[o * inp + i];
  };
  for (const l of p.layers) {
    t(l.attnW, D, 3 * D);
    t(l.attnProjW, D, D);
    t(l.fcW, D, I);
    t(l.fc2W, D, I);
    t(l.mlpProjW, I, D);
  }
  p.conv1dOutIn = false;
}

/**
 * Reads a validated checkpoint tensor by tensor (F16/BF16 upcast by the reader); a stored
 * lm_head.weight is read only for an untied head (tied, it is a copy of wte).
 */
export function readParams(reader: CheckpointReader, cfg: ModelConfig): Params {
  const named = new Map<string, Float32Array>();
  for (const name of reader.names()) if (name !== LM_HEAD || !cfg.tie_word_embeddings) named.set(name, reader.read(name));
  return paramsFromTensors(cfg, named, reader.dir);
}

/** The tensors to save, HF names and shapes, in checkpoint order (ALiBi slopes always written, as HF does). */
export function namedTensors(cfg: ModelConfig, p: Params): Array<{ name: string; shape: number[]; data: Float32Array }> {
  return expectedTensors(cfg).map(({ name, shape }) => ({ name, shape, data: p.tensors.get(name)! }));
}

/**
 * The same parameters with every float array passed through adopt once (a tied head stays the
 * embedding): for a backend that reads weights in place only in its own memory (Kernels.adopt).
 */
export function adoptParams(p: Params<Weight>, adopt: (x: Float32Array) => Float32Array): Params<Weight> {
  const done = new Map<Float32Array, Float32Array>();
  const f = (x: Float32Array): Float32Array => {
    let y = done.get(x);
    if (!y) done.set(x, y = adopt(x));
    return y;
  };
  const w = <W extends Weight | null>(x: W): W => (x instanceof Float32Array ? f(x) : x) as W;
  const tensors = new Map([...p.tensors].map(([name, t]) => [name, f(t)] as const));
  return {
    wte: w(p.wte), lmHead: w(p.lmHead), wpe: w(p.wpe), lnfW: f(p.lnfW), lnfB: f(p.lnfB), slopes: w(p.slopes), tensors,
    conv1dOutIn: p.conv1dOutIn,
    layers: p.layers.map((l) => ({
      ln1W: f(l.ln1W), ln1B: f(l.ln1B), attnW: w(l.attnW), attnB: f(l.attnB), attnProjW: w(l.attnProjW), attnProjB: f(l.attnProjB),
      ln2W: f(l.ln2W), ln2B: f(l.ln2B), fcW: w(l.fcW), fcB: f(l.fcB), fc2W: w(l.fc2W), fc2B: w(l.fc2B),
      mlpProjW: w(l.mlpProjW), mlpProjB: f(l.mlpProjB),
    })),
  };
}
