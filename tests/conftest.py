"""Suite-wide test settings.

torch runs single-threaded in the tests: on a 2-vCPU machine shared with other work, OpenMP's
spinning threads make small-model generation 10-20x slower than one thread (measured: tiny model,
batch 64, 48 tokens: 1.1 s with 1 thread vs 8-22 s with 2 threads under load).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # torch is part of the `models` extra; the core tests do not need it
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
