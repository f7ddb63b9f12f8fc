// Streams a continuation from a model given as a folder, a .gguf file or a Hub id (pulled into the
// Hugging Face cache on first use; HF_HUB_OFFLINE=1 uses the cache alone).
//
//   node examples/generate.mjs cerebras/Cerebras-GPT-111M "The capital of France is"
//   node examples/generate.mjs ./tiny-model "The quick brown"
import { fromPretrained } from 'mugpt';

const [idOrPath, prompt = 'The capital of France is'] = process.argv.slice(2);
if (!idOrPath) {
  console.error('usage: node examples/generate.mjs MODEL [PROMPT]   (MODEL: a folder, a .gguf file or OWNER/NAME)');
  process.exit(1);
}
const model = await fromPretrained(idOrPath);
process.stdout.write(prompt);
for await (const { text } of model.generate(prompt, { maxNewTokens: 24 })) process.stdout.write(text);
process.stdout.write('\n');
