#!/usr/bin/python3
"""Independent PyTorch reference of lm-evaluation-harness's scoring (HF backend) and the generator of
the evaluation fixtures in test/fixtures/eval/.

Written from lm-eval's rules (lm_eval/models/huggingface.py, lm_eval/utils.py, lm_eval/api/metrics.py),
not from mugpt's TypeScript. Runs with Debian's python3-torch only. The model maths is
tools/torch_reference.py's (float64 here); the tokenizer is a small byte-level BPE written below
(GPT-2's pre-tokenizer rules, merges learned from a sample text), saved as an HF tokenizer.json.

    /usr/bin/python3 tools/torch_eval_reference.py [out_dir]     # default: test/fixtures/eval

Writes, for a GPT-2 model (learned positions) and a BTLM model (ALiBi with dynamic scaling):
  MODEL/config.json, model.safetensors, tokenizer.json
  requests.json   per model and maximum length: each loglikelihood request's token ids, log-probability
                  and greedy flag, each rolling text's windows and log-likelihood, generate_until outputs
  tasks.json      per run (model, maximum length, few-shot count, limit): for each task of tasks/ (files in
                  the official release formats), every document's requests, log-likelihoods and greedy
                  flags, and the aggregated metrics
Few-shot examples are drawn with mugpt's documented rule (xoshiro128** seeded 1234 via splitmix64, k
distinct indices by rejection, k + 1 from the task's own documents with the document itself dropped),
mirrored here so that the prompts can be compared; everything else is lm-eval's.
"""
import json
import math
import os
import re
import sys
import unicodedata

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import Reference, make_weights, normalize_config, write_safetensors  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 rules)

# Unicode White_Space (the \s of GPT-2's regex)
WHITE = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}


def is_letter(c):
    return unicodedata.category(c).startswith("L")


def is_number(c):
    return unicodedata.category(c).startswith("N")


def is_other(c):
    return not (c in WHITE or is_letter(c) or is_number(c))


CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def pretokenize(text):
    """GPT-2's pattern 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+ as a scanner."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        m = next((s for s in CONTRACTIONS if text.startswith(s, i)), None)
        if m is not None:
            out.append(m)
            i += len(m)
            continue
        j = i + 1 if c == " " and i + 1 < n else i
        matched = False
        for cls in (is_letter, is_number, is_other):
            k = j
            while k < n and cls(text[k]):
                k += 1
            if k > j:
                out.append(text[i:k])
                i, matched = k, True
                break
        if matched:
            continue
        k = i
        while k < n and text[k] in WHITE:
            k += 1
        if k < n and k - i >= 2:
            k -= 1  # \s+(?!\S): the last space stays with the next word
        out.append(text[i:k])
        i = k
    return out


def byte_chars():
    """GPT-2's printable stand-in character for each byte (the strings of tokenizer.json)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, extra = {}, 0
    for b in range(256):
        if b in bs:
            cs[b] = chr(b)
        else:
            cs[b] = chr(256 + extra)
            extra += 1
    return cs


class Bpe:
    def __init__(self, merges):
        self.merges = merges  # list of (bytes, bytes), by rank
        self.rank = {m: r for r, m in enumerate(merges)}
        self.vocab = {bytes([b]): b for b in range(256)}
        for a, b in merges:
            if a + b not in self.vocab:
                self.vocab[a + b] = len(self.vocab)
        self.eot = len(self.vocab)
        self.size = self.eot + 1
        self.bytes_of = {i: t for t, i in self.vocab.items()}

    def piece(self, p):
        sym = [bytes([b]) for b in p.encode("utf-8")]
        while len(sym) > 1:
            best = min(range(len(sym) - 1), key=lambda k: (self.rank.get((sym[k], sym[k + 1]), math.inf), k))
            if (sym[best], sym[best + 1]) not in self.rank:
                break
            sym[best: best + 2] = [sym[best] + sym[best + 1]]
        return [self.vocab[s] for s in sym]

    def encode(self, text):
        return [i for p in pretokenize(text) for i in self.piece(p)]

    def decode(self, ids):
        return b"".join(self.bytes_of[i] for i in ids if i != self.eot).decode("utf-8", errors="replace")

    def tokenizer_json(self):
        ch = byte_chars()
        s = lambda t: "".join(ch[b] for b in t)
        vocab = {s(t): i for t, i in self.vocab.items()}
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": self.eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                      "vocab": vocab, "merges": [f"{s(a)} {s(b)}" for a, b in self.merges]},
        }


def learn_merges(text, n):
    """The n most frequent adjacent pairs, merged greedily (ties: the smaller pair of bytes)."""
    words = {}
    for p in pretokenize(text):
        w = tuple(bytes([b]) for b in p.encode("utf-8"))
        words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(n):
        counts = {}
        for w, f in words.items():
            for k in range(len(w) - 1):
                counts[(w[k], w[k + 1])] = counts.get((w[k], w[k + 1]), 0) + f
        if not counts:
            break
        pair = min(counts, key=lambda q: (-counts[q], q))
        merges.append(pair)
        new = {}
        for w, f in words.items():
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and (w[k], w[k + 1]) == pair:
                    out.append(w[k] + w[k + 1])
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            new[tuple(out)] = new.get(tuple(out), 0) + f
        words = new
    return merges


SAMPLE = (
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away, and the "
    "hunter follows the fox into the forest. They're sure it'll rain: the sky is grey.\n\n"
    "Café au lait, naïve façade, déjà vu. 日本語のテキストです。 Ünïcödé ✓ 🙂 and the end.\n"
)

# ----------------------------------------------------------------------------------------------
# lm-eval's rules


def encode_pair(tok, context, continuation):
    """HFLM.loglikelihood + _encode_pair. An all-whitespace context is [EOT] too (lm-eval would be left
    with no context token; mugpt's documented choice)."""
    if context == "":
        return [tok.eot], tok.encode(continuation)
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    if context == "":
        return [tok.eot], tok.encode(continuation)
    whole = tok.encode(context + continuation)
    ctx = tok.encode(context)
    return ctx, whole[len(ctx):]


def get_rolling_token_windows(token_list, prefix_token, max_seq_len, context_len):
    assert 1 <= context_len <= max_seq_len
    if not token_list:
        return
    pred_len = max_seq_len - context_len + 1
    predicted = 0
    first_seq_len = min(max_seq_len, len(token_list))
    yield [prefix_token] + token_list[: first_seq_len - 1], token_list[:first_seq_len]
    predicted += first_seq_len
    while predicted < len(token_list):
        window_pred_len = min(len(token_list) - predicted, pred_len)
        window_end = predicted + window_pred_len
        yield (token_list[window_end - max_seq_len - 1: window_end - 1],
               token_list[window_end - window_pred_len: window_end])
        predicted += window_pred_len


def make_disjoint_window(pair):
    a, b = pair
    return a[: len(a) - (len(b) - 1)], b


def score_tokens(ref, ctx, cont, L):
    """HFLM._loglikelihood_tokens for one request (one forward, as with batch size 1)."""
    assert 0 < len(cont) <= L
    inp = (ctx + cont)[-(L + 1):][:-1]
    logits, _ = ref.forward(torch.tensor([inp]))
    logp = torch.log_softmax(logits[0], dim=-1)[len(inp) - len(cont):]  # [contlen, V]
    target = torch.tensor(cont)
    greedy = bool((logp.argmax(dim=-1) == target).all())
    ll = float(logp.gather(1, target.reshape(-1, 1)).sum())
    # how far each greedy decision is from flipping: best − second best where the target is the
    # argmax, best − target elsewhere
    top2 = logp.topk(2, dim=-1).values
    tl = logp.gather(1, target.reshape(-1, 1))[:, 0]
    gap = torch.where(tl >= top2[:, 0], top2[:, 0] - top2[:, 1], top2[:, 0] - tl)
    margin = float(gap.min())
    return ll, greedy, margin


def rolling_ll(ref, tok, text, L):
    ids = tok.encode(text)
    wins = [make_disjoint_window(w) for w in get_rolling_token_windows(ids, tok.eot, L, 1)]
    total, margin = 0.0, math.inf
    for c, x in wins:
        ll, _, m = score_tokens(ref, c, x, L)
        total += ll
        margin = min(margin, m)
    return total, wins, margin


def generate_until(ref, tok, context, until, max_gen, L):
    """HFLM.generate_until, greedy: context truncated to L − max_gen, stop at EOT or a stop string."""
    ids = [tok.eot] if context == "" else tok.encode(context)
    ids = ids[-(L - max_gen):]
    out = []
    logits, past = ref.forward(torch.tensor([ids]))
    while len(out) < max_gen:
        nxt = int(logits[0, -1].argmax())
        if nxt == tok.eot:
            break
        out.append(nxt)
        if any(u and u in tok.decode(out) for u in until):
            break
        logits, past = ref.forward(torch.tensor([[nxt]]), past)
    s = tok.decode(out)
    for u in until:
        if u:
            s = s.split(u)[0]
    return s


# ----------------------------------------------------------------------------------------------
# Fixtures

MODELS = [
    ("gpt2", {
        "model_type": "gpt2", "n_positions": 128, "n_embd": 16, "n_layer": 2, "n_head": 2, "n_inner": 32,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
    }, [128, 16, 8]),
    ("btlm", {
        "model_type": "btlm", "n_positions": 16, "n_embd": 16, "n_layer": 2, "n_head": 4, "n_inner": 32,
        "activation_function": "swiglu", "position_embedding_type": "alibi", "layer_norm_epsilon": 1e-5,
        "alibi_scaling": {"type": "linear", "train_seq_len": 10},
        "mup_width_scale": 0.5, "mup_embeddings_scale": 2.0, "mup_output_alpha": 1.5, "mup_scale_qk_dot_by_d": True,
    }, [16, 24]),
]

LONG = ("The hunter follows the fox into the forest, and the dog sleeps by the fire while the rain "
        "falls on the grey roofs of the town.")

LOGLIKELIHOOD = [
    ("The quick brown", " fox"),
    ("The quick brown ", "fox"),                 # trailing space moves to the continuation
    ("The dog sleeps;  \n", "the fox"),          # several trailing whitespace characters
    ("", "The quick brown fox"),                 # empty context: [EOT]
    ("  ", "the dog"),                           # whitespace-only context: [EOT] (mugpt's choice)
    ("Café au", " lait"),                        # non-ASCII
    ("日本語の", "テキストです。"),               # CJK, no delimiter
    ("Ünïcödé", " ✓ 🙂"),
    (LONG, " The end."),                         # left truncation
    (" ".join([LONG] * 3), " The end."),         # left truncation at every length
    ("The fox", " runs away, and the hunter follows the fox."),  # a long continuation
    # one context, several continuations (the shared-prefix path); the last ones truncate
    ("They're sure it'll rain: the", " sky"),
    ("They're sure it'll rain: the", " dog"),
    ("They're sure it'll rain: the", " sky is grey"),
    ("They're sure it'll rain: the", " sky is grey and the dog sleeps by the fire"),
]

ROLLING = [
    "The quick brown fox.",
    "",
    "Café au lait, naïve façade, déjà vu. 日本語のテキストです。",
    SAMPLE,                                      # several windows
    LONG + " " + LONG,
    "\n\n".join([SAMPLE, LONG] * 3),           # several windows at every length
]

GENERATE = [
    ("The quick brown", ["."], 6),
    ("", ["\n"], 5),
    (LONG, [" the", "fox"], 4),
]


MULTIPLE_CHOICE = [
    {"context": "The quick brown", "choices": ["fox", "dog", "façade"], "gold": 0},
    {"context": "Café au", "choices": ["lait", "thé", "日本"], "gold": 1},
    {"context": "They're sure it'll rain: the", "choices": ["sky", "dog", "fox runs"], "gold": 2},
    {"context": LONG, "choices": ["end", "fire"], "gold": 0},
    {"context": "The dog sleeps;", "choices": ["the fox", "the hunter"], "gold": 1},
]


def mean(arr):
    return sum(arr) / len(arr)


def mean_stderr(arr):
    """lm_eval.api.metrics.mean_stderr: sample_stddev / sqrt(n)."""
    mu = mean(arr)
    return math.sqrt(sum((x - mu) ** 2 for x in arr) / (len(arr) - 1)) / math.sqrt(len(arr))


def argmax(xs):
    return max(range(len(xs)), key=lambda i: (xs[i], -i))


def metrics_fixture(ref, tok, L, ll_results, rolling_results):
    """The aggregates lm-eval reports for a multiple-choice task, a loglikelihood task (the scoreable
    requests above) and a rolling task (the texts above)."""
    accs, norms, docs = [], [], []
    for d in MULTIPLE_CHOICE:
        lls = [score_tokens(ref, *encode_pair(tok, d["context"], " " + c), L)[0] for c in d["choices"]]
        acc = 1.0 if argmax(lls) == d["gold"] else 0.0
        norm = 1.0 if argmax([x / len(c) for x, c in zip(lls, d["choices"])]) == d["gold"] else 0.0
        accs.append(acc)
        norms.append(norm)
        docs.append(dict(d, loglikelihoods=lls, acc=acc, acc_norm=norm))
    scored = [r for r in ll_results if "error" not in r]
    lls = [r["logprob"] for r in scored]
    greedy = [1.0 if r["isGreedy"] else 0.0 for r in scored]
    rl = [r["logprob"] for r in rolling_results]
    words = [len(re.split(r"\s+", r["text"])) for r in rolling_results]
    nbytes = [len(r["text"].encode("utf-8")) for r in rolling_results]
    return {
        "multipleChoice": {"docs": docs, "acc": mean(accs), "acc_stderr": mean_stderr(accs),
                           "acc_norm": mean(norms), "acc_norm_stderr": mean_stderr(norms)},
        "loglikelihood": {"acc": mean(greedy), "acc_stderr": mean_stderr(greedy), "perplexity": math.exp(-mean(lls))},
        "rolling": {"word_perplexity": math.exp(-sum(rl) / sum(words)), "byte_perplexity": math.exp(-sum(rl) / sum(nbytes)),
                    "bits_per_byte": -sum(rl) / sum(nbytes) / math.log(2)},
    }


def greedy_requests(ref, tok, L):
    """(context, continuation) pairs whose continuation is the model's own greedy output, so that
    is_greedy is true for some requests (a random model rarely predicts a text's next token)."""
    out = []
    for context in ["The quick", "Café", "the fox runs", "The dog", "日本", "They're"]:
        ids = tok.encode(context)
        gen = []
        logits, past = ref.forward(torch.tensor([ids]))
        for _ in range(4):
            nxt = int(logits[0, -1].argmax())
            if nxt == tok.eot:
                break
            gen.append(nxt)
            logits, past = ref.forward(torch.tensor([[nxt]]), past)
        # the longest prefix of the output that is text and encodes back to the same tokens
        for n in range(len(gen), 0, -1):
            try:
                text = b"".join(tok.bytes_of[i] for i in gen[:n]).decode("utf-8")
            except UnicodeDecodeError:
                continue
            if encode_pair(tok, context, text)[1] == gen[:n]:
                out.append((context, text))
                break
    return out


def build_model(out_root, name, cfg_json, tok, seed):
    cfg_json = dict(cfg_json, vocab_size=tok.size, eos_token_id=tok.eot, bos_token_id=tok.eot)
    cfg = normalize_config(cfg_json)
    gen = torch.Generator().manual_seed(seed)
    w = make_weights(cfg, gen, "formula")
    w = {k: v.to(torch.float32).to(torch.float64) for k, v in w.items()}  # what the F32 checkpoint holds
    folder = os.path.join(out_root, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg_json, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(folder, "model.safetensors"), [(k, v, "F32") for k, v in w.items()])
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok.tokenizer_json(), f, ensure_ascii=False)
        f.write("\n")
    return Reference(cfg, w, torch.float64)


def requests_fixture(ref, tok, L):
    margin = math.inf
    ll = []
    for c, x in LOGLIKELIHOOD + greedy_requests(ref, tok, L):
        ci, xi = encode_pair(tok, c, x)
        if len(xi) > L:  # lm-eval refuses it (assert len(continuation_enc) <= max_length)
            ll.append({"context": c, "continuation": x, "contextIds": ci, "continuationIds": xi, "error": "longer than the maximum length"})
            continue
        lp, g, m = score_tokens(ref, ci, xi, L)
        margin = min(margin, m)
        ll.append({"context": c, "continuation": x, "contextIds": ci, "continuationIds": xi, "logprob": lp, "isGreedy": g})
    assert any(r.get("isGreedy") for r in ll), "no greedy request"
    assert any(len(r["contextIds"]) + len(r["continuationIds"]) > L + 1 for r in ll if "error" not in r), "no truncated request"
    rolling = []
    for t in ROLLING:
        lp, wins, m = rolling_ll(ref, tok, t, L)
        margin = min(margin, m)
        rolling.append({"text": t, "ids": tok.encode(t), "windows": [{"context": c, "continuation": x} for c, x in wins], "logprob": lp})
    assert any(len(r["windows"]) >= 3 for r in rolling), "no multi-window document"
    gen = [{"context": c, "until": u, "maxNewTokens": n, "text": generate_until(ref, tok, c, u, n, L)} for c, u, n in GENERATE]
    metrics = metrics_fixture(ref, tok, L, ll, rolling)
    return {"maxLength": L, "loglikelihood": ll, "rolling": rolling, "generateUntil": gen, "metrics": metrics}, margin


# ----------------------------------------------------------------------------------------------
# Tasks (lm_eval/tasks/*: yaml + utils), read from the release files in tasks/

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


def splitmix64(state):
    s = (state + 0x9E3779B97F4A7C15) & M64
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return s, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Xoshiro128ss:
    """mugpt's generator (src/rng.ts), for the few-shot draw."""

    def __init__(self, seed):
        st, a = splitmix64(seed)
        _, b = splitmix64(st)
        self.s = [a & M32, a >> 32, b & M32, b >> 32]

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
        return result

    def int(self, n):
        a = self.next() >> 5
        b = self.next() >> 6
        return math.floor((a * 67108864 + b) / 9007199254740992 * n)


def draw_fewshot(pool_len, same, n_eval, k, seed=1234):
    if k == 0:
        return [[] for _ in range(n_eval)]
    rng, n, out = Xoshiro128ss(seed), (k + 1 if same else k), []
    for i in range(n_eval):
        picked = []
        while len(picked) < n:
            j = rng.int(pool_len)
            if j not in picked:
                picked.append(j)
        out.append([j for j in picked if not (same and j == i)][:k])
    return out


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def hellaswag_pre(text):
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def hellaswag_doc(d):
    ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize()
    return {"text": hellaswag_pre(d["activity_label"] + ": " + ctx), "choices": [hellaswag_pre(e) for e in d["endings"]], "target": int(d["label"])}


def lambada_doc(d):
    return {"text": " ".join(d["text"].split(" ")[:-1]), "target": " " + d["text"].split(" ")[-1]}


def piqa_docs(folder, name):
    with open(os.path.join(folder, name + "-labels.lst")) as f:
        labels = [int(x) for x in f.read().split("\n") if x.strip()]
    return [{"text": f"Question: {d['goal']}\nAnswer:", "choices": [d["sol1"], d["sol2"]], "target": labels[i]}
            for i, d in enumerate(read_jsonl(os.path.join(folder, name + ".jsonl")))]


def ai2_flat(d):
    """The release's nested question → HF's flattened fields (what lm-eval's yaml reads)."""
    if isinstance(d["question"], dict):
        q = d["question"]
        return {"question": q["stem"], "question_stem": q["stem"], "answerKey": d["answerKey"],
                "choices": {"text": [c["text"] for c in q["choices"]], "label": [c["label"] for c in q["choices"]]}}
    return d


def arc_doc(d):
    d = ai2_flat(d)
    return {"text": f"Question: {d['question']}\nAnswer:", "choices": d["choices"]["text"], "target": d["choices"]["label"].index(d["answerKey"])}


def openbookqa_doc(d):
    d = ai2_flat(d)
    return {"text": d["question_stem"], "choices": d["choices"]["text"], "target": d["choices"]["label"].index(d["answerKey"].lstrip())}


def winogrande_doc(d):
    idx = d["sentence"].index("_")
    return {"text": {"1": 0, "2": 1}[d["answer"]], "choices": [d["sentence"][:idx] + o for o in (d["option1"], d["option2"])],
            "target": d["sentence"][idx + 1:].strip()}


def boolq_doc(d):
    return {"text": f"{d['passage']}\nQuestion: {d['question']}?\nAnswer:", "choices": ["no", "yes"], "target": 1 if d["answer"] else 0}


def wikitext_pages(path):
    """EleutherAI's wikitext_document_level: a page per top-level heading."""
    with open(path, encoding="utf-8") as f:
        data = f.read().split("\n")
    pages, ret = [], []
    for line in data:
        rline = line.replace("= = =", "===").replace("= =", "==").strip()
        if rline.startswith("= ") and rline.strip().endswith(" ="):
            page = "\n".join(ret)
            if page.strip():
                pages.append(page)
            ret = []
        ret.append(line)
    pages.append("\n".join(ret))
    return pages


def wikitext_detokenizer(string):
    string = string.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    string = string.replace(" @-@ ", "-")
    string = string.replace(" @,@ ", ",")
    string = string.replace(" @.@ ", ".")
    string = string.replace(" : ", ": ")
    string = string.replace(" ; ", "; ")
    string = string.replace(" . ", ". ")
    string = string.replace(" ! ", "! ")
    string = string.replace(" ? ", "? ")
    string = string.replace(" , ", ", ")
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    string = string.replace("= = = =", "====")
    string = string.replace("= = =", "===")
    string = string.replace("= =", "==")
    string = string.replace(" " + chr(176) + " ", chr(176))
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" N ", " 1 ")
    string = string.replace(" 's", "'s")
    return string


def generic_docs(path):
    rows = read_jsonl(path)
    if "choices" in rows[0]:
        return "multiple_choice", [{"text": r["context"], "choices": r["choices"], "target": r["gold"], "delim": r.get("target_delimiter", " ")} for r in rows]
    if "continuation" in rows[0]:
        return "loglikelihood", [{"text": r["context"], "target": r["continuation"], "delim": ""} for r in rows]
    return "loglikelihood_rolling", [{"target": r["text"], "count": r["text"]} for r in rows]


def load_task(root, name, path):
    """(output type, metrics, delimiter, eval docs, few-shot docs or None)."""
    p = os.path.join(root, path)
    MC = ["acc", "acc_norm"]
    if name == "hellaswag":
        return "multiple_choice", MC, " ", [hellaswag_doc(d) for d in read_jsonl(os.path.join(p, "hellaswag_val.jsonl"))], \
            [hellaswag_doc(d) for d in read_jsonl(os.path.join(p, "hellaswag_train.jsonl"))]
    if name == "lambada_openai":
        return "loglikelihood", ["perplexity", "acc"], "", [lambada_doc(d) for d in read_jsonl(os.path.join(p, "lambada_test.jsonl"))], None
    if name == "piqa":
        return "multiple_choice", MC, " ", piqa_docs(p, "valid"), piqa_docs(p, "train")
    if name in ("arc_easy", "arc_challenge"):
        level = "Easy" if name == "arc_easy" else "Challenge"
        train = os.path.join(p, f"ARC-{level}-Train.jsonl")
        return "multiple_choice", MC, " ", [arc_doc(d) for d in read_jsonl(os.path.join(p, f"ARC-{level}-Test.jsonl"))], \
            [arc_doc(d) for d in read_jsonl(train)] if os.path.exists(train) else None
    if name == "openbookqa":
        return "multiple_choice", MC, " ", [openbookqa_doc(d) for d in read_jsonl(os.path.join(p, "test.jsonl"))], \
            [openbookqa_doc(d) for d in read_jsonl(os.path.join(p, "train.jsonl"))]
    if name == "winogrande":
        return "multiple_choice", ["acc"], " ", [winogrande_doc(d) for d in read_jsonl(os.path.join(p, "dev.jsonl"))], \
            [winogrande_doc(d) for d in read_jsonl(os.path.join(p, "train_xl.jsonl"))]
    if name == "boolq":
        return "multiple_choice", ["acc"], " ", [boolq_doc(d) for d in read_jsonl(os.path.join(p, "dev.jsonl"))], \
            [boolq_doc(d) for d in read_jsonl(os.path.join(p, "train.jsonl"))]
    if name == "wikitext":
        pages = wikitext_pages(os.path.join(p, "wiki.test.raw"))
        return "loglikelihood_rolling", ["word_perplexity", "byte_perplexity", "bits_per_byte"], " ", \
            [{"target": wikitext_detokenizer(pg), "count": pg} for pg in pages], None
    kind, docs = generic_docs(p)
    metrics = {"multiple_choice": MC, "loglikelihood": ["perplexity", "acc"], "loglikelihood_rolling": ["word_perplexity", "byte_perplexity", "bits_per_byte"]}[kind]
    return kind, metrics, (" " if kind == "multiple_choice" else ""), docs, None


def example(kind, delim, d):
    """A solved example of lm-eval's few-shot sampler: text + target_delimiter + target."""
    delim = d.get("delim", delim)
    if kind == "multiple_choice":
        if isinstance(d["text"], int):
            return d["choices"][d["text"]] + delim + d["target"]
        return d["text"] + delim + d["choices"][d["target"]]
    return d["text"] + delim + d["target"]


def doc_requests(kind, delim, d, prefix):
    """lm-eval's construct_requests."""
    delim = d.get("delim", delim)
    if kind == "multiple_choice":
        if isinstance(d["text"], int):  # multiple inputs: each choice is a context
            return [(prefix + c, delim + d["target"]) for c in d["choices"]]
        return [(prefix + d["text"], delim + c) for c in d["choices"]]
    if kind == "loglikelihood":
        return [(prefix + d["text"], delim + d["target"])]
    return [("", d["target"])]


def run_task(ref, tok, L, root, name, path, k, limit):
    kind, metrics, delim, docs, fewshot = load_task(root, name, path)
    n = len(docs) if limit is None else min(limit, len(docs))
    shots = 0 if kind == "loglikelihood_rolling" else k
    pool = fewshot if fewshot is not None else docs
    draws = draw_fewshot(len(pool), fewshot is None, n, shots)
    samples, per = [], {m: [] for m in metrics}
    for i in range(n):
        d = docs[i]
        prefix = "".join(example(kind, delim, pool[j]) + "\n\n" for j in draws[i])
        reqs = doc_requests(kind, delim, d, prefix)
        lls, greedy = [], []
        for c, x in reqs:
            if kind == "loglikelihood_rolling":
                ll, _, _ = rolling_ll(ref, tok, x, L)
                lls.append(ll)
                greedy.append(None)
            else:
                ll, g, _ = score_tokens(ref, *encode_pair(tok, c, x), L)
                lls.append(ll)
                greedy.append(g)
        if kind == "multiple_choice":
            gold = d["text"] if isinstance(d["text"], int) else d["target"]
            per["acc"].append(1.0 if argmax(lls) == gold else 0.0)
            if "acc_norm" in per:
                per["acc_norm"].append(1.0 if argmax([x / len(c) for x, c in zip(lls, d["choices"])]) == gold else 0.0)
        elif kind == "loglikelihood":
            per["perplexity"].append(lls[0])
            per["acc"].append(1.0 if greedy[0] else 0.0)
        else:
            words, nbytes = len(re.split(r"\s+", d["count"])), len(d["count"].encode("utf-8"))
            per["word_perplexity"].append((lls[0], words))
            per["byte_perplexity"].append((lls[0], nbytes))
            per["bits_per_byte"].append((lls[0], nbytes))
        samples.append({"arguments": [list(r) for r in reqs], "loglikelihoods": lls, "is_greedy": greedy, "fewshot": draws[i]})
    agg = {}
    for m, v in per.items():
        if m in ("acc", "acc_norm"):
            agg[m] = [mean(v), mean_stderr(v)]
        elif m == "perplexity":  # stderr: the delta method, exp(-mean)·stderr(ll) (mugpt's choice; lm-eval bootstraps)
            agg[m] = [math.exp(-mean(v)), math.exp(-mean(v)) * mean_stderr(v)]
        elif m == "bits_per_byte":
            agg[m] = [-sum(a for a, _ in v) / sum(b for _, b in v) / math.log(2), None]
        else:
            agg[m] = [math.exp(-sum(a for a, _ in v) / sum(b for _, b in v)), None]
    return {"name": name, "path": path, "numFewshot": shots, "nSamples": {"original": len(docs), "effective": n}, "metrics": agg, "samples": samples}


ALL_TASKS = [("hellaswag", "hellaswag"), ("lambada_openai", "lambada"), ("piqa", "piqa"), ("arc_easy", "arc"),
             ("arc_challenge", "arc"), ("openbookqa", "openbookqa"), ("winogrande", "winogrande"), ("boolq", "boolq"),
             ("wikitext", "wikitext"), ("mine_mc", "generic/mc.jsonl"), ("mine_ll", "generic/ll.jsonl"), ("mine_text", "generic/text.jsonl")]
FEWSHOT_TASKS = [("hellaswag", "hellaswag"), ("lambada_openai", "lambada"), ("arc_challenge", "arc"), ("winogrande", "winogrande"),
                 ("mine_mc", "generic/mc.jsonl"), ("wikitext", "wikitext")]
RUNS = [
    # model, --max-length (None: n_positions), --num-fewshot, --limit, tasks
    ("gpt2", None, 0, None, ALL_TASKS),
    ("gpt2", None, 2, 2, FEWSHOT_TASKS),
    ("btlm", 256, 0, None, [("hellaswag", "hellaswag"), ("winogrande", "winogrande"), ("lambada_openai", "lambada"), ("boolq", "boolq")]),
    ("btlm", None, 0, None, [("wikitext", "wikitext"), ("mine_text", "generic/text.jsonl")]),
    ("btlm", 160, 1, None, [("piqa", "piqa"), ("openbookqa", "openbookqa"), ("arc_easy", "arc")]),
]


def tasks_fixture(refs, tok, root):
    runs = []
    for model, L, k, limit, tasks in RUNS:
        ref, n_positions = refs[model]
        runs.append({"model": model, "maxLength": L, "numFewshot": k, "limit": limit,
                     "tasks": [run_task(ref, tok, L or n_positions, root, n, p, k, limit) for n, p in tasks]})
    return runs


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "eval")
    os.makedirs(out_root, exist_ok=True)
    torch.set_num_threads(1)
    tok = Bpe(learn_merges(SAMPLE, 60))
    fixture = {"generator": "tools/torch_eval_reference.py (float64 PyTorch, lm-eval's rules)", "models": {}}
    refs = {}
    for n, (name, cfg, lengths) in enumerate(MODELS):
        ref = build_model(out_root, name, cfg, tok, 4321 + n)
        refs[name] = (ref, cfg["n_positions"])
        fixture["models"][name] = []
        for L in lengths:
            f, margin = requests_fixture(ref, tok, L)
            # greedy flags must not hinge on a near-tie that float32 could flip
            assert margin > 1e-4, f"{name} L={L}: a near-tie of {margin:.2e} in the logits"
            fixture["models"][name].append(f)
    with open(os.path.join(out_root, "requests.json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    runs = tasks_fixture(refs, tok, os.path.join(out_root, "tasks"))
    with open(os.path.join(out_root, "tasks.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": fixture["generator"], "runs": runs}, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out_root}")


if __name__ == "__main__":
    main()
