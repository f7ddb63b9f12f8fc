#!/usr/bin/python3
"""Loads a mugpt-written HF checkpoint folder with the independent PyTorch reference and prints its
logits for the given ids as JSON: the check that what mugpt trains and saves loads on the PyTorch side.

    /usr/bin/python3 tools/torch_load_check.py MODEL_DIR '[[ids...]]'
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_grads import read_folder  # noqa: E402
from torch_reference import Reference, normalize_config  # noqa: E402


def main():
    folder, ids = sys.argv[1], torch.tensor(json.loads(sys.argv[2]))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = normalize_config(json.load(f))
    logits, _ = Reference(cfg, read_folder(folder), torch.float64).forward(ids)
    print(json.dumps({"shape": list(logits.shape), "logits": logits.reshape(-1).tolist()}))


if __name__ == "__main__":
    main()
