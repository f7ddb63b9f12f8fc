// llama.cpp's own quantizer (llama_model_quantize from the libllama that node-llama-cpp ships), as a peer:
// mugpt's Q8_0/Q4_0 blocks are checked bit for bit against it, and mugpt loads the files it writes.
// Built by tools/llamacpp.ts (buildLlamaQuantize) against the llama.h of node-llama-cpp's source bundle.
#include <stdio.h>
#include <string.h>
#include "llama.h"
int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: llama-quantize IN.gguf OUT.gguf q8_0|q4_0\n"); return 2; }
  llama_backend_init();
  struct llama_model_quantize_params p = llama_model_quantize_default_params();
  p.ftype = strcmp(argv[3], "q4_0") == 0 ? LLAMA_FTYPE_MOSTLY_Q4_0 : LLAMA_FTYPE_MOSTLY_Q8_0;
  p.nthread = 2;
  uint32_t r = llama_model_quantize(argv[1], argv[2], &p);
  llama_backend_free();
  return r == 0 ? 0 : 1;
}
