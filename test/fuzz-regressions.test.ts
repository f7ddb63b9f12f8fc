// The bugs the fuzzer (tools/fuzz, docs/reliability.md) found, each with its minimized input, plus the
// GGUF reader's gaps found while writing its generator. Each must now end in a MugptError naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { openCheckpoint, readConfigJson, INDEX_FILE } from '../src/io/hf.js';
import { readGguf, readGgufTensorBytes, writeGguf, GgmlType, GgufValueType } from '../src/gguf/file.js';
import { parseConfig } from '../src/model/config.js';
import { importGguf } from '../src/gguf/import.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { readShard, readShardIndex, writeShard, writeShardIndex } from '../src/data/shards.js';
import { loadRunConfig } from '../src/train/runconfig.js';
import { scratch } from './helpers.js';

const deep = (d: number): string => `${'['.repeat(d)}${']'.repeat(d)}`;
const mugpt = (re: RegExp) => (e: unknown): boolean => e instanceof MugptError && re.test(e.message);

test('fuzz safetensors-sharded #228: a deeply nested weight_map value is described, not a stack overflow', () => {
  const dir = scratch();
  writeFileSync(join(dir, INDEX_FILE), `{"weight_map":{"a":${deep(100_000)}}}`);
  assert.throws(() => openCheckpoint(dir), mugpt(/model\.safetensors\.index\.json: "weight_map" entry "a" must be a shard file name in the same folder, got \[a deeply nested array\]/));
});

test('fuzz tokenizer-json #263: a deeply nested pre_tokenizer is described, not a stack overflow', () => {
  const path = join(scratch(), 'tokenizer.json');
  writeFileSync(path, `{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":${deep(100_000)}}`);
  assert.throws(() => loadTokenizer(path), mugpt(/tokenizer\.json: pre_tokenizer must be a ByteLevel pre-tokenizer \(found \[a deeply nested array\]\)/));
});

test('the same class in config.json and run YAML: deep or huge values are described briefly', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'config.json'), `{"model_type":${deep(100_000)}}`);
  assert.throws(() => parseConfig(readConfigJson(dir), join(dir, 'config.json')), mugpt(/config\.json: unsupported "model_type" \[a deeply nested array\]/));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'x'.repeat(1 << 20) }));
  assert.throws(() => parseConfig(readConfigJson(dir), join(dir, 'config.json')), (e: unknown) => e instanceof MugptError && e.message.length < 400);
  const run = join(dir, 'run.json');
  writeFileSync(run, `{"model":${deep(100_000)},"data":{},"batch_size":1,"seq_len":8,"optimizer":{},"out_dir":"o"}`);
  assert.throws(() => loadRunConfig(run), mugpt(/run\.json: model must be a mapping, got \[a deeply nested array\]/));
});

test('fuzz shards #4: a shard listed in index.json but missing is a MugptError from readShard', () => {
  const dir = scratch();
  const entry = writeShard(dir, 'train-00000.bin', Uint16Array.from([1, 2, 3, 4]), 2, 'uint16');
  writeShardIndex(dir, { format: 'mugpt-shards', version: 1, dtype: 'uint16', seq_len: 2, vocab_size: 8, eos_token_id: 0, tokenizer: 't',
    splits: { train: [entry], val: [{ ...entry, file: 'val-00000.bin' }] } });
  const index = readShardIndex(dir);
  assert.throws(() => readShard(dir, index, index.splits.val[0]), mugpt(/val-00000\.bin: cannot read a shard listed in index\.json \(ENOENT\)/));
});

test('GGUF: strings that are not UTF-8, an alignment that is not a number, an array of an unknown type', () => {
  const dir = scratch();
  const good = join(dir, 'good.gguf');
  writeGguf(good, { 'general.architecture': 'gpt2', 'fuzz.s': 'abc' }, [{ name: 'w', dims: [2], type: GgmlType.F32, data: new Uint8Array(8) }]);
  const bytes = Buffer.from(readFileSync(good));
  const at = bytes.indexOf('abc');
  const bad = Buffer.from(bytes); bad[at + 1] = 0xff;
  writeFileSync(join(dir, 'utf8.gguf'), bad);
  assert.throws(() => readGguf(join(dir, 'utf8.gguf')), mugpt(/utf8\.gguf: not a valid GGUF file: fuzz\.s is not valid UTF-8/));

  writeGguf(join(dir, 'align.gguf'), { 'general.alignment': '32' }, []);
  assert.throws(() => readGguf(join(dir, 'align.gguf')), mugpt(/align\.gguf: not a valid GGUF file: general\.alignment "32" is not a positive multiple of 8/));
  writeGguf(join(dir, 'align2.gguf'), { 'general.alignment': { type: GgufValueType.ARRAY, arrayType: GgufValueType.UINT32, value: [32] } }, []);
  assert.throws(() => readGguf(join(dir, 'align2.gguf')), mugpt(/align2\.gguf: .*general\.alignment \[32\] is not a positive multiple of 8/));

  const arr = Buffer.from(readFileSync(join(dir, 'align2.gguf')));
  arr.writeUInt32LE(99, arr.indexOf('general.alignment') + 'general.alignment'.length + 4); // the array's element type
  writeFileSync(join(dir, 'array.gguf'), arr);
  assert.throws(() => readGguf(join(dir, 'array.gguf')), mugpt(/array\.gguf: .*'general\.alignment' is an array of unknown value type 99/));
});

test('GGUF: a file truncated after it was opened gives a MugptError, not an endless read loop', () => {
  const dir = scratch();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'm.gguf');
  writeGguf(path, { 'general.architecture': 'gpt2' }, [{ name: 'w', dims: [64], type: GgmlType.F32, data: new Uint8Array(256) }]);
  const file = readGguf(path);
  truncateSync(path, file.tensors.get('w')!.offset + 10);
  assert.throws(() => readGgufTensorBytes(file, 'w', true), mugpt(/m\.gguf: the file ended at byte \d+ while reading/));
});

test('fuzz config #1493 (seed 1): n_layer 2^32 is refused at once instead of listing four billion layers', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'config.json'), '{"model_type":"gpt2","vocab_size":64,"n_positions":16,"n_embd":16,"n_head":2,"n_layer":4294967296}');
  assert.throws(() => parseConfig(readConfigJson(dir), join(dir, 'config.json')), mugpt(/config\.json: "n_layer" must be an integer ≥ 1 and ≤ 1024, got 4294967296/));
  writeFileSync(join(dir, 'config.json'), '{"model_type":"gpt2","vocab_size":1e12,"n_positions":16,"n_embd":16,"n_head":2,"n_layer":1}');
  assert.throws(() => parseConfig(readConfigJson(dir), join(dir, 'config.json')), mugpt(/config\.json: "vocab_size" must be an integer ≥ 1 and ≤ 4194304, got 1000000000000/));
});

test('fuzz run-yaml and corpus-yaml (alias bomb): the yaml package\'s alias-count refusal is a MugptError naming the file', async () => {
  const { loadCorpusConfig } = await import('../src/data/corpus-config.js');
  const dir = scratch();
  const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    + 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
  writeFileSync(join(dir, 'run.yaml'), bomb);
  assert.throws(() => loadRunConfig(join(dir, 'run.yaml')), mugpt(/run\.yaml: not valid YAML: Excessive alias count indicates a resource exhaustion attack/));
  writeFileSync(join(dir, 'corpus.yaml'), bomb);
  assert.throws(() => loadCorpusConfig(join(dir, 'corpus.yaml')), mugpt(/corpus\.yaml: not valid YAML: Excessive alias count/));
});

test('fuzz run-yaml #351 (seed 1): a μP base width of 1e-320 is refused naming the run file and mup', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'run.yaml'), 'model: btlm-tiny\nparameterization: mup\nmup: { base_width: 1e-320, embeddings_scale: 10, output_alpha: 1 }\n'
    + 'data: { shards: s }\nbatch_size: 4\nseq_len: 16\nsteps: 2\noptimizer: { lr: 0.01 }\nout_dir: o\n');
  assert.throws(() => loadRunConfig(join(dir, 'run.yaml')), mugpt(/run\.yaml: mup gives multipliers the model refuses: model config: "mup_width_scale" must be > 0, got 0/));
});

test('fuzz gguf-model #429 (seed 1): a config the metadata gives that the model refuses names the GGUF file and the metadata keys', () => {
  const path = join(scratch(), 'm.gguf');
  const metadata = {
    'general.architecture': 'gpt2', 'gpt2.embedding_length': 32, 'gpt2.block_count': 1, 'gpt2.attention.head_count': 130,
    'gpt2.feed_forward_length': 128, 'gpt2.context_length': 8, 'gpt2.attention.layer_norm_epsilon': 1e-5,
  };
  writeGguf(path, metadata, [{ name: 'token_embd.weight', dims: [32, 4], type: GgmlType.F32, data: new Uint8Array(32 * 4 * 4) }]);
  assert.throws(() => importGguf(path), mugpt(
    /m\.gguf: metadata key 'gpt2\.embedding_length' \(32\) must be divisible by metadata key 'gpt2\.attention\.head_count' \(130\)/));
  writeGguf(path, { ...metadata, 'gpt2.attention.head_count': 4, 'gpt2.block_count': 5000 },
    [{ name: 'token_embd.weight', dims: [32, 4], type: GgmlType.F32, data: new Uint8Array(32 * 4 * 4) }]);
  assert.throws(() => importGguf(path), mugpt(/m\.gguf: metadata key 'gpt2\.block_count' must be an integer ≥ 1 and ≤ 1024, got 5000/));
});
