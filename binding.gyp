{
  "variables": { "mugpt_x64%": "<!(node -p \"process.arch === 'x64' ? 1 : 0\")" },
  "targets": [
    {
      "target_name": "mugpt_native",
      "sources": ["native/addon.cc", "native/pool.cc", "native/qpack.cc", "native/weights_memory.cc", "native/quantize_rows.cc", "native/checksum.cc", "native/kernels_portable.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3"] },
      "conditions": [
        ["mugpt_x64==1", { "dependencies": ["mugpt_avx2", "mugpt_avx512"], "defines": ["MUGPT_HAVE_AVX2"] }]
      ]
    }
  ],
  "conditions": [
    ["mugpt_x64==1", {
      "targets": [
        {
          "target_name": "mugpt_avx2",
          "type": "static_library",
          "sources": ["native/kernels_avx2.cc"],
          "defines": ["MUGPT_HAVE_AVX2"],
          "cflags_cc": ["-std=c++17", "-O3", "-mavx2", "-mfma", "-mf16c", "-fPIC", "-fvisibility=hidden"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-mavx2", "-mfma", "-mf16c"] }
        },
        {
          "target_name": "mugpt_avx512",
          "type": "static_library",
          "sources": ["native/kernels_avx512.cc"],
          "defines": ["MUGPT_HAVE_AVX2"],
          "cflags_cc": ["-std=c++17", "-O3", "-mavx512f", "-mavx2", "-mfma", "-mf16c", "-fPIC", "-fvisibility=hidden"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-mavx512f", "-mavx2", "-mfma", "-mf16c"] }
        }
      ]
    }]
  ]
}
