#!/usr/bin/python3
"""Independent PyTorch reference of HF `gpt2` (Cerebras-GPT) and `btlm` (BTLM-3B-8K) and the
generator of the model fixtures in test/fixtures/model/.

Written from the HF maths (transformers' modeling_gpt2.py, BTLM's modeling_btlm.py; tolerances in
docs/model.md), not from mugpt's TypeScript. Runs with
Debian's python3-torch only (no transformers, no safetensors package): safetensors files are written
by hand with struct + json.

    /usr/bin/python3 tools/torch_reference.py [out_dir]     # default: test/fixtures/model

Each fixture folder holds an HF model folder (config.json + model.safetensors or a sharded index) and
  expected.json  ids, shapes, greedy tokens, and byte offsets into expected.bin
  expected.bin   little-endian float32: the full-forward logits [B, T, V], then the incremental-decode
                 logits [S, V] (prefill of the prompt, then one token per step, greedy).
Expected values come from the float64 forward; the float32 forward is checked against them with the
tolerance of docs/model.md (max|a-b| <= 1e-4 * max|b|).
"""
import json
import math
import os
import struct
import sys

import torch

# ----------------------------------------------------------------------------------------------
# Model maths (docs/model.md; HF transformers' modeling_gpt2.py and BTLM's modeling_btlm.py)


def alibi_slopes(H):
    """Press et al. slopes: r^(i+1), r = 2^(-8/H); non-power-of-2 H mixes in every other slope of 2c."""
    def pow2(n):
        r = 2.0 ** (-8.0 / n)
        return [r ** (i + 1) for i in range(n)]
    if H & (H - 1) == 0:
        return pow2(H)
    c = 2 ** int(math.floor(math.log2(H)))
    return pow2(c) + pow2(2 * c)[0::2][: H - c]


def alibi_scale(cfg, key_len):
    s = cfg.get("alibi_scaling")
    if s is None:
        return 1.0
    if "factor" in s:
        return float(s["factor"])
    L = s["train_seq_len"]
    return key_len / L if key_len > L else 1.0


def gelu(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    # gelu_new / gelu_pytorch_tanh
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


class Reference:
    """Forward of one model in a given dtype; `past` is a per-layer list of (k, v) [B, H, Tpast, d]."""

    def __init__(self, cfg, weights, dtype):
        self.cfg = cfg
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        self.dtype = dtype
        self.D = cfg["n_embd"]
        self.H = cfg["n_head"]
        self.d = self.D // self.H
        self.btlm = cfg["model_type"] == "btlm"
        self.alibi = self.btlm and cfg.get("position_embedding_type", "learned") == "alibi"
        if self.alibi:
            if "transformer.relative_pe.slopes" in self.w:
                self.slopes = self.w["transformer.relative_pe.slopes"].reshape(self.H)
            else:
                self.slopes = torch.tensor(alibi_slopes(self.H), dtype=dtype)

    def forward(self, ids, past=None):
        cfg, w, D, H, d = self.cfg, self.w, self.D, self.H, self.d
        B, T = ids.shape
        P = 0 if past is None else past[0][0].shape[2]
        h = w["transformer.wte.weight"][ids]
        if not self.alibi:
            h = h + w["transformer.wpe.weight"][torch.arange(P, P + T)]
        if self.btlm:
            h = h * cfg.get("mup_embeddings_scale", 1.0)
        K = P + T
        qpos = torch.arange(P, P + T).reshape(T, 1)
        kpos = torch.arange(0, K).reshape(1, K)
        causal = kpos <= qpos  # [T, K]
        fmin = torch.finfo(self.dtype).min
        if self.alibi:
            dist = (kpos - qpos).abs().to(self.dtype)  # [T, K]
            bias = -(self.slopes.reshape(H, 1, 1) / alibi_scale(cfg, K)) * dist  # [H, T, K]
        power = 1.0 if (self.btlm and cfg.get("mup_scale_qk_dot_by_d", False)) else 0.5
        new_past = []
        for i in range(cfg["n_layer"]):
            p = f"transformer.h.{i}."
            x = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], cfg["layer_norm_epsilon"])
            qkv = x @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # [B, T, 3D]
            q, k, v = qkv.split(D, dim=-1)
            heads = lambda t: t.reshape(B, T, H, d).permute(0, 2, 1, 3)  # [B, H, T, d]
            q, k, v = heads(q), heads(k), heads(v)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            new_past.append((k, v))
            s = q @ k.transpose(-1, -2)  # [B, H, T, K]
            if cfg.get("scale_attn_weights", True):
                s = s / (float(d) ** power)
            if cfg.get("scale_attn_by_inverse_layer_idx", False):
                s = s / float(i + 1)
            s = torch.where(causal, s, torch.tensor(fmin, dtype=self.dtype))
            if self.alibi:
                s = s + bias
            a = torch.softmax(s, dim=-1) @ v  # [B, H, T, d]
            a = a.permute(0, 2, 1, 3).reshape(B, T, D)
            h = h + (a @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"])
            x = layer_norm(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"], cfg["layer_norm_epsilon"])
            f = x @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
            act = cfg.get("activation_function", "gelu_new")
            if act == "swiglu":
                g = x @ w[p + "mlp.c_fc2.weight"] + w[p + "mlp.c_fc2.bias"]
                f = f * (g * torch.sigmoid(g))
            else:
                f = gelu(f, act)
            h = h + (f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"])
        h = layer_norm(h, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], cfg["layer_norm_epsilon"])
        # HF ties lm_head to wte unless tie_word_embeddings is false (then a stored lm_head.weight [V, D])
        head = w["transformer.wte.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
        logits = h @ head.T  # [B, T, V]
        if self.btlm:
            logits = logits * (cfg.get("mup_output_alpha", 1.0) * cfg.get("mup_width_scale", 1.0))
        return logits, new_past


def decode(ref, prompt, steps):
    """HF cached greedy decoding: prefill, then one token per step. Returns ([S, V] logits, tokens)."""
    logits, past = ref.forward(torch.tensor([prompt]))
    out, tokens = [logits[0, -1]], []
    for _ in range(steps):
        tok = int(out[-1].argmax())
        tokens.append(tok)
        logits, past = ref.forward(torch.tensor([[tok]]), past)
        out.append(logits[0, -1])
    tokens.append(int(out[-1].argmax()))
    return torch.stack(out), tokens


# ----------------------------------------------------------------------------------------------
# Checkpoint writing (safetensors by hand)

DT_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "BOOL": 1}


def tensor_bytes(t, dtype):
    if dtype == "F32":
        return t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).contiguous().numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
    if dtype == "BOOL":
        return t.to(torch.uint8).contiguous().numpy().tobytes()
    raise ValueError(dtype)


def write_safetensors(path, entries):
    """entries: list of (name, tensor, dtype)."""
    header, blobs, off = {}, [], 0
    for name, t, dt in entries:
        b = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    return off


def rounded(t, dtype):
    """The float values a checkpoint of this dtype holds (what the loader must reproduce)."""
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float64)
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float64)
    return t.to(torch.float32).to(torch.float64)


# ----------------------------------------------------------------------------------------------
# Fixtures


def make_weights(cfg, gen, slopes):
    """Random weights with HF names; std large enough that every layer matters."""
    D, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    I = cfg.get("n_inner") or 4 * D
    btlm = cfg["model_type"] == "btlm"
    alibi = btlm and cfg.get("position_embedding_type", "learned") == "alibi"
    r = lambda *shape, std=0.3: torch.randn(*shape, generator=gen, dtype=torch.float64) * std
    w = {"transformer.wte.weight": r(V, D, std=0.5)}
    if not alibi:
        w["transformer.wpe.weight"] = r(P, D, std=0.2)
    for i in range(L):
        p = f"transformer.h.{i}."
        w[p + "ln_1.weight"] = 1.0 + r(D, std=0.1)
        w[p + "ln_1.bias"] = r(D, std=0.1)
        w[p + "attn.c_attn.weight"] = r(D, 3 * D, std=D ** -0.5 * 1.5)
        w[p + "attn.c_attn.bias"] = r(3 * D, std=0.1)
        w[p + "attn.c_proj.weight"] = r(D, D, std=D ** -0.5)
        w[p + "attn.c_proj.bias"] = r(D, std=0.1)
        w[p + "ln_2.weight"] = 1.0 + r(D, std=0.1)
        w[p + "ln_2.bias"] = r(D, std=0.1)
        w[p + "mlp.c_fc.weight"] = r(D, I, std=D ** -0.5)
        w[p + "mlp.c_fc.bias"] = r(I, std=0.1)
        if cfg.get("activation_function") == "swiglu":
            w[p + "mlp.c_fc2.weight"] = r(D, I, std=D ** -0.5)
            w[p + "mlp.c_fc2.bias"] = r(I, std=0.1)
        w[p + "mlp.c_proj.weight"] = r(I, D, std=I ** -0.5)
        w[p + "mlp.c_proj.bias"] = r(D, std=0.1)
    w["transformer.ln_f.weight"] = 1.0 + r(D, std=0.1)
    w["transformer.ln_f.bias"] = r(D, std=0.1)
    if alibi and slopes != "absent":
        s = torch.tensor(alibi_slopes(cfg["n_head"]), dtype=torch.float64)
        if slopes == "perturbed":
            # Far from the formula, so a loader that ignores the stored slopes fails the test.
            s = s * (1.0 + 2.0 * torch.rand(s.shape, generator=gen, dtype=torch.float64))
        w["transformer.relative_pe.slopes"] = s.reshape(-1, 1)
    return w


def normalize_config(cfg):
    """The effective config the reference uses (old BTLM μP names resolved, HF defaults filled)."""
    c = dict(cfg)
    if "width_scale" in c:
        c["mup_width_scale"] = c.pop("width_scale")
    if "embeddings_scale" in c:
        c["mup_embeddings_scale"] = c.pop("embeddings_scale")
    if "scale_qk_dot_by_d" in c:
        c["mup_scale_qk_dot_by_d"] = c.pop("scale_qk_dot_by_d")
    if "output_logits_scale" in c:
        c["mup_output_alpha"] = c.pop("output_logits_scale") / c.get("mup_width_scale", 1.0)
    c.setdefault("layer_norm_epsilon", 1e-5)
    c.setdefault("activation_function", "gelu_new")
    return c


FIXTURES = [
    # name, config.json, options
    ("gpt2-gelu", {
        "model_type": "gpt2", "vocab_size": 64, "n_positions": 16, "n_embd": 16, "n_layer": 2, "n_head": 2,
        "activation_function": "gelu", "n_inner": None, "layer_norm_epsilon": 1e-5,
    }, {"legacy": True, "T": 10}),
    ("gpt2-gelu-new-layer-idx", {
        "model_type": "gpt2", "vocab_size": 72, "n_positions": 16, "hidden_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 4, "n_inner": 24, "scale_attn_by_inverse_layer_idx": True,
    }, {"prefix": False, "T": 9}),
    ("gpt2-unscaled-f16", {
        "model_type": "gpt2", "vocab_size": 64, "n_positions": 16, "n_embd": 16, "n_layer": 2, "n_head": 2,
        "n_inner": 32, "activation_function": "gelu_pytorch_tanh", "scale_attn_weights": False,
    }, {"dtype": "F16", "T": 8}),
    ("btlm-alibi-h4-stored-slopes", {
        "model_type": "btlm", "vocab_size": 80, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 4,
        "n_inner": 40, "activation_function": "swiglu", "position_embedding_type": "alibi",
        "mup_width_scale": 0.5, "mup_embeddings_scale": 3.0, "mup_output_alpha": 1.7, "mup_scale_qk_dot_by_d": True,
    }, {"slopes": "perturbed", "T": 12}),
    ("btlm-alibi-h6-factor-sharded", {
        "model_type": "btlm", "vocab_size": 64, "n_positions": 8, "n_embd": 24, "n_layer": 2, "n_head": 6,
        "n_inner": 32, "activation_function": "swiglu", "position_embedding_type": "alibi",
        "alibi_scaling": {"type": "linear", "factor": 2.0},
        "mup_width_scale": 0.25, "mup_embeddings_scale": 2.0, "mup_output_alpha": 2.0, "mup_scale_qk_dot_by_d": True,
    }, {"slopes": "absent", "shards": 2, "T": 11}),
    ("btlm-alibi-dynamic-bf16", {
        "model_type": "btlm", "vocab_size": 64, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 4,
        "n_inner": 32, "activation_function": "swiglu", "position_embedding_type": "alibi",
        "alibi_scaling": {"type": "linear", "train_seq_len": 4},
        "mup_width_scale": 0.5, "mup_embeddings_scale": 2.0, "mup_output_alpha": 1.5, "mup_scale_qk_dot_by_d": True,
    }, {"slopes": "formula", "dtype": "BF16", "T": 12, "prompt": 3, "steps": 10}),
    ("btlm-learned-gelu-old-mup-names", {
        "model_type": "btlm", "vocab_size": 64, "n_positions": 16, "n_embd": 16, "n_layer": 2, "n_head": 2,
        "n_inner": 32, "activation_function": "gelu", "position_embedding_type": "learned",
        "width_scale": 0.5, "embeddings_scale": 4.0, "output_logits_scale": 0.8, "scale_qk_dot_by_d": True,
    }, {"T": 10}),
]


def build(out_root, name, cfg_json, opt, seed):
    cfg = normalize_config(cfg_json)
    for alias, key in [("hidden_size", "n_embd"), ("num_hidden_layers", "n_layer"), ("num_attention_heads", "n_head")]:
        if alias in cfg:
            cfg[key] = cfg.pop(alias)
    gen = torch.Generator().manual_seed(seed)
    dtype = opt.get("dtype", "F32")
    w = make_weights(cfg, gen, opt.get("slopes", "formula"))
    w = {k: rounded(v, dtype) for k, v in w.items()}  # the values the checkpoint holds

    B, T, V = 2, opt["T"], cfg["vocab_size"]
    ids = torch.randint(0, V, (B, T), generator=gen)
    prompt = ids[0, : opt.get("prompt", 4)].tolist()
    steps = opt.get("steps", 6)

    ref64 = Reference(cfg, w, torch.float64)
    ref32 = Reference(cfg, w, torch.float32)
    full64, _ = ref64.forward(ids)
    full32, _ = ref32.forward(ids)
    dec64, toks64 = decode(ref64, prompt, steps)
    dec32, toks32 = decode(ref32, prompt, steps)
    for what, a, b in [("forward", full32, full64), ("decode", dec32, dec64)]:
        err = (a.double() - b).abs().max().item() / b.abs().max().item()
        assert err <= 1e-4, f"{name}: float32 {what} off by {err:.2e} relative"
    assert toks32 == toks64, f"{name}: float32 greedy tokens differ from float64"
    # Greedy must not hinge on a near-tie, or a float32 port could legitimately pick another token.
    for row in dec64:
        top2 = row.topk(2).values
        if (top2[0] - top2[1]).item() <= 1e-3 * row.abs().max().item():
            return False

    folder = os.path.join(out_root, name)
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(os.path.join(folder, f))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg_json, f, indent=2)
        f.write("\n")

    entries = [(k, v, dtype) for k, v in w.items()]
    if opt.get("legacy"):
        P = cfg["n_positions"]
        mask = torch.tril(torch.ones(P, P, dtype=torch.bool)).reshape(1, 1, P, P)
        for i in range(cfg["n_layer"]):
            entries.append((f"transformer.h.{i}.attn.bias", mask, "BOOL"))
            entries.append((f"transformer.h.{i}.attn.masked_bias", torch.tensor(-1e4), "F32"))
        entries.append(("lm_head.weight", w["transformer.wte.weight"], dtype))
    if opt.get("prefix", True) is False:
        entries = [(k[len("transformer."):], v, dt) for k, v, dt in entries]
    shards = opt.get("shards", 1)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), entries)
    else:
        per = math.ceil(len(entries) / shards)
        weight_map, total = {}, 0
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = entries[s * per: (s + 1) * per]
            total += write_safetensors(os.path.join(folder, fname), part)
            for k, _, _ in part:
                weight_map[k] = fname
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
            f.write("\n")

    full = full64.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    dec = dec64.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    with open(os.path.join(folder, "expected.bin"), "wb") as f:
        f.write(full)
        f.write(dec)
    expected = {
        "generator": "tools/torch_reference.py (float64 reference, stored as float32)",
        "checkpoint_dtype": dtype,
        "ids": ids.tolist(),
        "forward": {"offset": 0, "shape": [B, T, V]},
        "decode": {"offset": len(full), "shape": [steps + 1, V], "prompt": prompt, "greedy": toks64},
    }
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    print(f"{name} (seed {seed}): {sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))} bytes")
    return True


def self_check():
    """The hand-written pieces against torch's own (and ALiBi's slopes for H=6, not a power of two: Press et al., arXiv:2108.12409, and its reference code)."""
    x = torch.linspace(-6, 6, 101, dtype=torch.float64)
    assert torch.allclose(gelu(x, "gelu"), torch.nn.functional.gelu(x), atol=1e-15)
    assert torch.allclose(gelu(x, "gelu_new"), torch.nn.functional.gelu(x, approximate="tanh"), atol=1e-15)
    y = torch.randn(3, 8, dtype=torch.float64)
    w, b = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    assert torch.allclose(layer_norm(y, w, b, 1e-5), torch.nn.functional.layer_norm(y, (8,), w, b, 1e-5), atol=1e-12)
    assert alibi_slopes(6) == [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]


def main():
    self_check()
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "model")
    os.makedirs(out_root, exist_ok=True)
    torch.set_num_threads(1)
    for n, (name, cfg, opt) in enumerate(FIXTURES):
        # A seed whose greedy decode has a near-tie is skipped for the next one (deterministic).
        seed = 1234 + 100 * n
        while not build(out_root, name, cfg, opt, seed):
            seed += 1


if __name__ == "__main__":
    main()
