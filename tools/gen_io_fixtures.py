#!/usr/bin/env python3
"""Writes test/fixtures/io/torch-dtypes.safetensors: float32 values and PyTorch's own conversions of them
to float16 and bfloat16 (and back to float32), an independent reference for mugpt's F16/BF16 reader and
round-to-nearest-even writer. PyTorch 1.13 has no safetensors support, so the file is assembled here
from the format's definition (u64 header length, JSON header, raw little-endian bytes).

Run: /usr/bin/python3 tools/gen_io_fixtures.py
"""
import json
import os
import struct

import torch

torch.manual_seed(1234)

special = [0.0, -0.0, 1.0, -1.0, float('inf'), float('-inf'), float('nan'), 65504.0, 65519.0, 65520.0, -65520.0,
           2.0 ** -24, 2.0 ** -25, -(2.0 ** -25), 1.5 * 2.0 ** -25, 3.0 * 2.0 ** -25, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -24,
           1.0 + 2.0 ** -11, 1.0 + 3.0 * 2.0 ** -11, 1.0 + 2.0 ** -8, 1.0 + 3.0 * 2.0 ** -8, 3.3895314e38, 3.4e38,
           1e-40, -1e-45, 0.1, 1.0 / 3.0, 14.6, 2.22]
values = torch.tensor(special, dtype=torch.float32)
# Log-uniform magnitudes from 1e-9 to 1e6 with random signs: normals, subnormals and overflow of half.
mags = torch.exp(torch.empty(1500).uniform_(-9 * 2.302585, 6 * 2.302585))
signs = torch.where(torch.rand(1500) < 0.5, -1.0, 1.0)
# Random bit patterns (NaNs removed): exercises every exponent, including float32 subnormals.
bits = torch.randint(0, 2 ** 31, (500,), dtype=torch.int64) * torch.where(torch.rand(500) < 0.5, 1, -1)
raw = bits.to(torch.int32).view(torch.float32)
raw = raw[~torch.isnan(raw)]
src = torch.cat([values, (mags * signs).float(), raw])

tensors = {
    'src': src,
    'f16': src.half(),
    'bf16': src.bfloat16(),
    'f16_up': src.half().float(),
    'bf16_up': src.bfloat16().float(),
}
dtype_names = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16'}


def raw_bytes(t):
    # bfloat16 has no numpy dtype: reinterpret the 16-bit patterns as int16.
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.contiguous().view(torch.int16).numpy().astype('<i2').tobytes()
    return t.contiguous().numpy().astype('<f4').tobytes()


header = {'__metadata__': {'format': 'pt'}}
chunks = []
offset = 0
for name, t in tensors.items():
    b = raw_bytes(t)
    header[name] = {'dtype': dtype_names[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
    chunks.append(b)
    offset += len(b)
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
out = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'io', 'torch-dtypes.safetensors')
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))
print(f'wrote {out}: {src.numel()} values')
