"""Pure numpy/scipy building blocks: the keyed PRF, watermark schemes and exact statistics.

Nothing here imports the rest of Stillwatch, torch, or does I/O.
"""
