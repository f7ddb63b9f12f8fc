// The mugpt command line: a thin shell over the library. Each command lives in its own module
// and registers itself on the program; user errors (and file-system failures) print one line, without
// a stack trace.
import { Command, CommanderError } from 'commander';
import { MugptError, fsReason, isFsError } from '../errors.js';
import '../gguf/import.js'; // registers the GGUF reader of Model.loadGguf and loadModel
import { register as registerData } from './data.js';
import { register as registerGenerate } from './generate.js';
import { register as registerMup } from './mup.js';
import { register as registerEval } from './eval.js';
import { register as registerPull } from './pull.js';
import { register as registerQuantize } from './quantize.js';
import { register as registerScale } from './scale.js';
import { register as registerServe } from './serve.js';
import { register as registerTrain } from './train.js';
import { register as registerTokenizer } from './tokenizer.js';
import { register as registerWeb } from './web.js';

const program = new Command('mugpt')
  .description('Cerebras-GPT and BTLM-3B-8K: data, μP training, evaluation, quantization, inference')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

const commands: Array<(p: Command) => void> = [registerData, registerEval, registerGenerate, registerMup, registerPull, registerQuantize, registerScale, registerServe, registerTrain, registerTokenizer, registerWeb];
for (const register of commands) register(program);
// the command's options come after its name, so a sub-subcommand (eval make-longeval) keeps flags its parent also has
program.enablePositionalOptions();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof MugptError) {
    process.stderr.write(`mugpt: ${err.message}\n`);
    process.exit(1);
  }
  // A file operation the command did not anticipate (a folder it cannot create, a full disk): still one line.
  if (isFsError(err) && err.path) {
    process.stderr.write(`mugpt: ${err.path}: ${fsReason(err)} (${err.syscall})\n`);
    process.exit(1);
  }
  throw err;
}
