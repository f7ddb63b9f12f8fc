#!/bin/sh
# Builds the WebAssembly kernels (src/kernels/wasm.ts loads them) with Debian's clang and lld:
#   mugpt-simd-threads.wasm  imports a shared memory (a pool of workers on one SharedArrayBuffer)
#   mugpt-simd.wasm          imports a plain memory (pages without cross-origin isolation)
# Freestanding C++ (include/ stands in for the few C++ library headers used), no libc.
# The built files are committed, so users need no toolchain; test/kernels-wasm.test.ts checks they
# match these sources where clang is installed. Usage: sh native/wasm/build.sh [OUT_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
CXX=${CXX:-clang++}
flags="--target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -mmutable-globals -nostdlib -ffreestanding \
  -fno-exceptions -fno-rtti -fno-math-errno -ffp-contract=off -std=c++17 -I$here/include"
link="-Wl,--no-entry -Wl,--import-memory -Wl,--export=__stack_pointer -Wl,--export=__heap_base \
  -Wl,-z,stack-size=1048576 -Wl,--max-memory=4294967296 -Wl,--strip-all"
src="$here/kernels_wasm.cc $here/runtime_wasm.cc $here/libm_wasm.cc"
# shellcheck disable=SC2086
$CXX $flags $src $link -Wl,--shared-memory -o "$out/mugpt-simd-threads.wasm"
# shellcheck disable=SC2086
$CXX $flags $src $link -o "$out/mugpt-simd.wasm"
