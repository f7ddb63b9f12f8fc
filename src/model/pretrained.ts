// Loading by Hub id, as transformers' from_pretrained does: a local folder or .gguf file loads as it
// is; OWNER/NAME[@REVISION] is pulled into (or found in) the Hugging Face cache first.
import { resolveModelPath, type PullOptions } from '../io/hub.js';
import { loadModel, type Model, type ModelOptions } from './model.js';

export type PretrainedOptions = ModelOptions & PullOptions;

/**
 * The model at idOrPath: a model folder or .gguf file, else a Hub id pulled when the cache lacks it
 * (`revision` a branch, tag or commit; HF_HUB_OFFLINE=1 uses the cache alone; HF_TOKEN for gated repos).
 */
export async function fromPretrained(idOrPath: string, opts: PretrainedOptions = {}): Promise<Model> {
  return loadModel(await resolveModelPath(idOrPath, opts), opts);
}
