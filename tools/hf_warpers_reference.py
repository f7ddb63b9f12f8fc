# Reference for src/generate/sampler.ts: Hugging Face's logits processors, as transformers
# (generation/logits_process.py) writes them, on float32 torch tensors, applied in HF's order:
# RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper.
# Writes test/fixtures/generate/warpers.json: random cases (ties, -inf entries, top_p edges) with the
# processed scores. Run: /usr/bin/python3 tools/hf_warpers_reference.py
import json
import os

import torch


def repetition_penalty(input_ids, scores, penalty):
    score = torch.gather(scores, 1, input_ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return scores.scatter(1, input_ids, score)


def temperature(scores, t):
    return scores / t


def top_k(scores, k, filter_value=-float("inf"), min_tokens_to_keep=1):
    k = min(max(k, min_tokens_to_keep), scores.size(-1))
    indices_to_remove = scores < torch.topk(scores, k)[0][..., -1, None]
    return scores.masked_fill(indices_to_remove, filter_value)


def top_p(scores, p, filter_value=-float("inf"), min_tokens_to_keep=1):
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_indices_to_remove = cumulative_probs <= (1 - p)
    sorted_indices_to_remove[..., -min_tokens_to_keep:] = 0
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, filter_value)


def main():
    g = torch.Generator().manual_seed(1234)
    cases = []
    for i in range(80):
        V = int(torch.randint(2, 64, (1,), generator=g))
        logits = torch.randn(1, V, generator=g, dtype=torch.float64) * 3
        if i % 3 == 0:
            logits = torch.round(logits * 2) / 2  # many ties
        if i % 5 == 0:
            logits[0, torch.randint(0, V, (max(1, V // 4),), generator=g)] = -float("inf")
            logits[0, 0] = 1.0  # at least one finite
        logits = logits.float()
        n_seen = int(torch.randint(0, V, (1,), generator=g))
        seen = torch.randint(0, V, (1, n_seen), generator=g) if n_seen else torch.zeros(1, 0, dtype=torch.long)
        penalty = [1.0, 1.3, 0.7, 2.0][i % 4]
        temp = [1.0, 0.7, 1.5, 0.3][(i // 4) % 4]
        k = [0, 1, 3, 10, 100][i % 5]
        p = [1.0, 0.9, 0.5, 0.25, 0.05, 1e-6, 0.999][i % 7]
        s = logits.clone()
        if penalty != 1.0 and n_seen:
            s = repetition_penalty(seen, s, penalty)
        if temp != 1.0:
            s = temperature(s, temp)
        if k > 0:
            s = top_k(s, k)
        if p < 1.0:
            s = top_p(s, p)
        enc = lambda t: [None if x == -float("inf") else x for x in t[0].tolist()]
        cases.append({"logits": enc(logits), "seen": seen[0].tolist(), "repetition_penalty": penalty,
                      "temperature": temp, "top_k": k, "top_p": p, "processed": enc(s)})
    # Four equal logits: the top_p cut falls exactly on a cumulative probability; which tied ids go first.
    for p in [0.5, 0.25, 0.75, 0.3]:
        logits = torch.zeros(1, 4)
        cases.append({"logits": [0.0] * 4, "seen": [], "repetition_penalty": 1.0, "temperature": 1.0, "top_k": 0,
                      "top_p": p, "processed": [None if x == -float("inf") else x for x in top_p(logits, p)[0].tolist()]})
    out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "generate", "warpers.json")
    with open(out, "w") as f:
        json.dump({"generator": "tools/hf_warpers_reference.py (torch " + torch.__version__ + ", float32)",
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
