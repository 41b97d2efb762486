"""The logdir of the tab's views over steps and statistics (test_tab_statistics.py).

Known numbers, so the tests check what is drawn:
- "hist/w": STEPS steps of HIST_SIZE values spread evenly over [0, step + 1];
  at NAN_STEP two are NaN and one is +Inf.
- "act/nhwc": N x H x W x C captured with axes="NHWC"; channel c holds c * 10
  plus the pixel's position / 100, so each channel has its own range.
- "curve": 16 values per step whose mean is CURVE_MEANS[step]; its min is 0
  at ZERO_MIN_STEP (a log axis cannot place it).
- "rank/*": RANK_MAX_ABS[tag] is the tag's max |x|; the tags of RANK_NAN hold a NaN at one step.
- run "many": MANY_TAGS scalar tags (the sidebar's 10k-tag case).
"""

import os

import numpy as np

STEPS = 8
HIST_SIZE = 200
NAN_STEP = 4
ACT_SHAPE = (2, 6, 6, 8)
CURVE_STEPS = 30
ZERO_MIN_STEP = 5
CURVE_MEANS = [1.0 + 0.5 * ((-1) ** s) + 0.05 * s for s in range(CURVE_STEPS)]
RANK_MAX_ABS = {"rank/a": 3.0, "rank/b": 50.0, "rank/c": 0.5, "rank/d": 7.0, "rank/e": 12.0}
RANK_NAN = ("rank/c", "rank/e")
MANY_TAGS = 10000


def hist(step):
    x = np.linspace(0, step + 1, HIST_SIZE).astype(np.float32)
    if step == NAN_STEP:
        x[10], x[11], x[12] = np.nan, np.nan, np.inf
    return x


def act(step):
    n, height, width, channels = ACT_SHAPE
    position = np.arange(height * width, dtype=np.float32).reshape(1, height, width, 1) / 100
    return (np.arange(channels, dtype=np.float32).reshape(1, 1, 1, channels) * 10 + position + step).repeat(n, 0)


def curve(step):
    spread = np.linspace(-1, 1, 16).astype(np.float64)
    values = CURVE_MEANS[step] + spread * 0.5
    if step == ZERO_MIN_STEP:
        values = values - values.min()  # min exactly 0
        values = values + (CURVE_MEANS[step] - values.mean())
        values[0] = 0.0
        values[1:] += (CURVE_MEANS[step] * 16 - values.sum()) / 15
    return values


def rank(tag, step):
    top = RANK_MAX_ABS[tag]
    x = np.array([top * (0.2 + 0.1 * step), -top if tag == "rank/b" else top, 0.0], np.float64)
    if step == 1 and tag in RANK_NAN:
        x[2] = np.nan
    return x


def write(logdir):
    import tb_tensorcap as tensorcap

    with tensorcap.Writer(os.path.join(str(logdir), "train")) as writer, writer.as_default():
        for step in range(STEPS):
            tensorcap.capture(hist(step), "hist/w", step=step)
        for step in range(3):
            tensorcap.capture(act(step), "act/nhwc", step=step, axes="NHWC")
        for step in range(CURVE_STEPS):
            tensorcap.capture(curve(step), "curve", step=step)
        for tag in RANK_MAX_ABS:
            for step in range(3):
                tensorcap.capture(rank(tag, step), tag, step=step)
    with tensorcap.Writer(os.path.join(str(logdir), "many")) as writer, writer.as_default():
        for i in range(MANY_TAGS):
            tensorcap.capture(np.float32(i), "g%03d/t%05d" % (i // 100, i), step=0)
