#!/usr/bin/python3
"""Gradient fixtures for mugpt's backward pass: for model fixtures in test/fixtures/model/, the mean
next-token cross-entropy (HF's shift: logits[:, :-1] against ids[:, 1:]) of the fixture's ids and its
gradient for every trainable tensor, by float64 autograd through the independent reference forward of
tools/torch_reference.py.

    /usr/bin/python3 tools/torch_grads.py [fixture_root]     # default: test/fixtures/model

Writes, into each listed fixture folder:
  grads.json  {"loss": float, "ids": [[...]], "tensors": {name: {"offset": bytes, "shape": [...]}}}
  grads.bin   little-endian float32 gradients, concatenated in the order of grads.json
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import Reference, normalize_config  # noqa: E402

FIXTURES = [
    "gpt2-gelu",
    "gpt2-gelu-new-layer-idx",
    "btlm-alibi-h4-stored-slopes",
    "btlm-alibi-h6-factor-sharded",
    "btlm-learned-gelu-old-mup-names",
]


def read_safetensors(path):
    """name → float64 tensor (F32, F16, BF16); other dtypes (legacy mask buffers) are skipped."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = bytearray(data[base + a: base + b])
        if e["dtype"] == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32)
        elif e["dtype"] == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16)
        elif e["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.bfloat16)
        else:
            continue
        out[name] = t.to(torch.float64).reshape(e["shape"])
    return out


def read_folder(folder):
    files = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
    w = {}
    for f in sorted(files):
        for name, t in read_safetensors(os.path.join(folder, f)).items():
            if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
                continue  # legacy buffers
            w[name if name.startswith("transformer.") or name == "lm_head.weight" else "transformer." + name] = t
    return w


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "model")
    torch.set_num_threads(1)
    for name in FIXTURES:
        folder = os.path.join(root, name)
        with open(os.path.join(folder, "config.json")) as f:
            cfg = normalize_config(json.load(f))
        for alias, key in [("hidden_size", "n_embd"), ("num_hidden_layers", "n_layer"), ("num_attention_heads", "n_head")]:
            if alias in cfg:
                cfg[key] = cfg.pop(alias)
        with open(os.path.join(folder, "expected.json")) as f:
            ids = torch.tensor(json.load(f)["ids"])
        w = read_folder(folder)
        if cfg.get("tie_word_embeddings", True):
            w.pop("lm_head.weight", None)  # a stored copy of the tied head (legacy checkpoints)
        trainable = [k for k in w if k != "transformer.relative_pe.slopes"]
        for k in trainable:
            w[k].requires_grad_(True)
        logits, _ = Reference(cfg, w, torch.float64).forward(ids)
        V = logits.shape[-1]
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        tensors, blobs, offset = {}, [], 0
        for k in trainable:
            g = w[k].grad.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
            tensors[k] = {"offset": offset, "shape": list(w[k].shape)}
            blobs.append(g)
            offset += len(g)
        with open(os.path.join(folder, "grads.bin"), "wb") as f:
            f.write(b"".join(blobs))
        with open(os.path.join(folder, "grads.json"), "w") as f:
            json.dump({"generator": "tools/torch_grads.py (float64 autograd, stored as float32)",
                       "loss": loss.item(), "ids": ids.tolist(), "tensors": tensors}, f, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: loss {loss.item():.6f}, {offset} bytes of gradients")


if __name__ == "__main__":
    main()
