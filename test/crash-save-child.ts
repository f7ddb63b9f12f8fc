// Child process of crash-writers.test.ts: loads a model folder and saves it (model.save) in a dtype,
// so the parent can kill it at random points of the save.
import { Model } from '../src/model/model.js';

const [src, out, dtype] = process.argv.slice(2);
Model.load(src).save(out, { dtype: dtype as 'F32' | 'F16' });
