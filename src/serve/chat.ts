// Chat messages → prompt text through a Jinja chat template (@huggingface/jinja, the engine of
// transformers.js): the model's own `chat_template` (tokenizer_config.json of an HF folder, or a GGUF
// file's `tokenizer.chat_template`), else PLAIN_TEMPLATE for base models such as Cerebras-GPT and
// BTLM-3B-8K-base, which were trained without one (docs/serve.md).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { MugptError } from '../errors.js';
import { readGguf } from '../gguf/file.js';
import type { ChatMessage } from './requests.js';
import { ApiError } from './errors.js';

/**
 * The template for models without one: each message as "Role: content" and a blank line, ending in
 * "Assistant:" for the reply. The reply ends at the next "\nUser:" (PLAIN_STOP), which a base model
 * writes when it goes on with the conversation.
 */
export const PLAIN_TEMPLATE = `{%- for m in messages -%}
{%- if m.role == 'system' or m.role == 'developer' %}System{% elif m.role == 'assistant' %}Assistant{% else %}User{% endif %}: {{ m.content }}

{% endfor -%}
{%- if add_generation_prompt %}Assistant:{% endif -%}`;

export const PLAIN_STOP = ['\nUser:'];

export interface ChatTemplate {
  /** 'model': the model's own template; 'plain': PLAIN_TEMPLATE. */
  source: 'model' | 'plain';
  /** Stop strings every chat request gets besides its own. */
  stop: string[];
  render(messages: ChatMessage[]): string;
}

type TokenSpec = string | { content?: string } | null | undefined;
const tokenText = (t: TokenSpec): string => (typeof t === 'string' ? t : t?.content ?? '');

/** The model's chat template and its special tokens, or null when it has none. */
function findTemplate(modelPath: string): { text: string; bos: string; eos: string } | null {
  if (modelPath === '' || !existsSync(modelPath)) return null;
  if (modelPath.toLowerCase().endsWith('.gguf')) {
    const f = readGguf(modelPath);
    const t = f.metadata.get('tokenizer.chat_template');
    return typeof t === 'string' ? { text: t, bos: '', eos: '<|endoftext|>' } : null;
  }
  const file = join(modelPath, 'tokenizer_config.json');
  if (!statSync(modelPath).isDirectory() || !existsSync(file)) return null;
  let cfg: { chat_template?: unknown; bos_token?: TokenSpec; eos_token?: TokenSpec };
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8')) as typeof cfg;
  } catch (e) {
    throw new MugptError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  let t = cfg.chat_template;
  // newer files list named templates: [{name: 'default', template}, ...]
  if (Array.isArray(t)) t = (t.find((x: { name?: string }) => x?.name === 'default') ?? t[0])?.template;
  if (t === undefined || t === null) return null;
  if (typeof t !== 'string') throw new MugptError(`${file}: chat_template must be a string or a list of {name, template}`);
  return { text: t, bos: tokenText(cfg.bos_token), eos: tokenText(cfg.eos_token) };
}

/** The chat template of the model at modelPath (HF folder or GGUF file; '' for none). */
export function loadChatTemplate(modelPath: string): ChatTemplate {
  const found = findTemplate(modelPath);
  let template: Template;
  try {
    template = new Template(found ? found.text : PLAIN_TEMPLATE);
  } catch (e) {
    throw new MugptError(`${modelPath}: the chat template does not parse (${(e as Error).message})`);
  }
  const vars = { bos_token: found?.bos ?? '', eos_token: found?.eos ?? '<|endoftext|>', add_generation_prompt: true };
  return {
    source: found ? 'model' : 'plain',
    stop: found ? [] : PLAIN_STOP,
    render(messages) {
      try {
        return template.render({ ...vars, messages });
      } catch (e) {
        // templates raise errors for conversations they do not accept (e.g. roles out of order)
        throw new ApiError(400, `the chat template rejected the messages: ${(e as Error).message}`, 'invalid_request_error', 'messages');
      }
    },
  };
}
