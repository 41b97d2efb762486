"""The logdir the browser tests browse: every kind of capture the tab shows.

Runs "baseline" and "variant" hold the same captures except "diverge/h",
which differs from DIVERGE_STEP on; "many" holds MANY_TAGS scalar tags in
groups of 100 (the sidebar's 10k-tag case). Known values let the tests check
pixels: "block1/attn" is arange(128)/127 as 8 x 16 (min at [0, 0], max at
[7, 15]) with NaN, +Inf and -Inf at NAN_CELL, POSINF_CELL, NEGINF_CELL at
step NAN_STEP.
"""

import numpy as np

XSS_TAG = "<img src=x onerror=alert(1)>"
NAN_STEP = 2
NAN_CELL, POSINF_CELL, NEGINF_CELL = (1, 2), (3, 4), (5, 6)
DIVERGE_STEP = 3
MANY_TAGS = 10000
BIG_SIDE = 1024
BIG_STEPS = 3
ACT_SHAPE = (3, 5, 6, 2)
POOLED_SHAPE = (1100, 1000)  # over the heatmap's 2**20 cells: pooled by 2 x 2
NAMED_SHAPE = (2, 5, 6, 16)  # captured with axes="NHWC"
SIGNED = np.array([[-2, -1], [0, 4]], np.float32)  # signed: a diverging map centred on 0


def attn(step):
    x = (np.arange(128, dtype=np.float32) / 127).reshape(8, 16)
    if step == NAN_STEP:
        x[NAN_CELL], x[POSINF_CELL], x[NEGINF_CELL] = np.nan, np.inf, -np.inf
    return x


def act(step):
    return np.arange(np.prod(ACT_SHAPE), dtype=np.float32).reshape(ACT_SHAPE) + 1000 * step


def image():
    y, x = np.mgrid[0:16, 0:24]
    return np.stack([x * 10, y * 15, np.full_like(x, 200)], axis=-1).astype(np.uint8)


def pooled():
    x = np.repeat(np.arange(POOLED_SHAPE[0], dtype=np.float32)[:, None], POOLED_SHAPE[1], axis=1)
    x[0, 0], x[5, 5] = np.nan, np.inf
    return x


def diverge(run, step):
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    if run == "variant" and step >= DIVERGE_STEP:
        x[1, 2] += 0.75
    return x


def write(logdir):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    for run in ("baseline", "variant"):
        writer = tf.summary.create_file_writer(str(logdir / run))
        with writer.as_default():
            for step in range(20):
                tensorcap.capture(np.float32(np.exp(-step / 5)), "loss", step=step)
            for step in range(6):
                with tensorcap.Capturer("block1"):
                    tensorcap.capture(np.sin(np.arange(100, dtype=np.float32) / 10 + step), "z", step=step)
                    tensorcap.capture(attn(step), "attn", step=step, description="attention weights")
                tensorcap.capture(diverge(run, step), "diverge/h", step=step)
            for step in range(3):
                tensorcap.capture(act(step), "block2/act4d", step=step)
            tensorcap.capture(image(), "image", step=0)
            tensorcap.capture(np.array([0.5, -1.25, 65504, 2**-24], np.float16).reshape(2, 2), "half/f16", step=0)
            tensorcap.capture(np.array([b"caf\xc3\xa9", b"<b>bold</b>", b""], dtype=object), "words", step=0)
            tensorcap.capture(np.float32(7), XSS_TAG, step=0)
            if run == "baseline":
                rng = np.random.default_rng(0)
                tensorcap.capture(pooled(), "big/pooled", step=0)
                tensorcap.capture(SIGNED, "signed", step=0)
                tensorcap.capture(np.zeros(NAMED_SHAPE, np.float32), "named/nhwc", step=0, axes="NHWC")
                for step in range(BIG_STEPS):
                    tensorcap.capture(
                        rng.standard_normal((BIG_SIDE, BIG_SIDE), dtype=np.float32), "big/heat", step=step
                    )
        writer.close()
    writer = tf.summary.create_file_writer(str(logdir / "many"))
    with writer.as_default():
        for i in range(MANY_TAGS):
            tensorcap.capture(np.float32(i), "g%03d/t%05d" % (i // 100, i), step=0)
    writer.close()
