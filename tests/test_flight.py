"""record(mode="health") and FlightRecorder: real ops, real writers, read back with load()."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from support import capture_file_of
from tensorboard.compat.proto import event_pb2

import tb_tensorcap as tensorcap
from tb_tensorcap import event_files, host_stats, metadata, traced_store

pytestmark = pytest.mark.usefixtures("isolated_capture")

X = (np.arange(12, dtype=np.float32).reshape(4, 3) + 1) / 4
W = np.linspace(0.5, 1.5, 6, dtype=np.float32).reshape(3, 2)


def _step(x, w, shift):
    """A small forward pass whose Log goes NaN when `shift` is large."""
    with tf.name_scope("dense"):
        h = tf.nn.relu(tf.matmul(x, w))
    return tf.math.log(h - shift)


def _health_steps(logdir, run="run"):
    """{record tag: [steps]} of the health records on disk, in file order."""
    found = {}
    for path in event_files.list_event_files(os.path.join(logdir, run)):
        for _, _, data in event_files.scan_records(path, 0):
            event = event_pb2.Event.FromString(data)
            for value in event.summary.value:
                content = (
                    metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
                    if value.metadata.plugin_data.plugin_name == "tensorcap"
                    else {}
                )
                if "health" in content:
                    found.setdefault(value.tag, []).append(event.step)
    return found


def test_health_statistics_equal_full_statistics(tmp_path, writer_at):
    full, health = writer_at(tmp_path / "full"), writer_at(tmp_path / "health")
    function = tf.function(_step)
    traced = {}
    for step in range(3):
        shift = tf.constant(0.5 * step)
        for mode, writer in (("full", full), ("health", health)):
            with tensorcap.record("eager", step=step, writer=writer, mode=mode):
                _step(tf.constant(X), tf.constant(W), shift)
            fn = traced.setdefault(mode, tf.function(_step))  # traced in its own mode's block
            with tensorcap.record("fn", step=step, writer=writer, mode=mode):
                fn(tf.constant(X), tf.constant(W), shift)
    del function
    full.flush(), health.flush()
    reader = tensorcap.load(str(tmp_path))
    # Both modes capture the blocks' outside inputs too (for the lineage), and keep the same lineage.
    tags = reader.tags("full")
    assert tags == reader.tags("health") and "eager/input/w" in tags
    for tag in tags:
        full_info, health_info = reader.info("full", tag, 2), reader.info("health", tag, 2)
        assert full_info.origin == health_info.origin, tag
        assert _inputs_of_user_values(full_info.op) == _inputs_of_user_values(health_info.op), tag
    assert "fn/dense/MatMul" in tags and "fn/Log" in tags  # inside the traced function
    for tag in tags:
        for step in range(3):
            a, b = reader.info("full", tag, step), reader.info("health", tag, step)
            assert (a.kind, b.kind) == ("full", "health")
            assert (a.dtype, a.shape) == (b.dtype, b.shape), tag
            want, got = reader.stats("full", tag, step), reader.stats("health", tag, step)
            for field in metadata.HEALTH_FIELDS:
                if want[field] is None:
                    assert got[field] is None, (tag, field)
                else:
                    assert got[field] == pytest.approx(want[field], rel=1e-6, abs=1e-7), (tag, step, field)
    # One health record per block, one more per call of the function traced in health mode.
    assert _health_steps(tmp_path, "health") == {"eager/_health": [0, 1, 2], "fn/_health": [0, 1, 2]}


def test_nan_at_step_13_keeps_full_values_of_steps_10_to_13(tmp_path, writer_at, capfd):
    writer = writer_at(tmp_path / "run")
    recorder = tensorcap.FlightRecorder(keep_steps=3, writer=writer)
    outputs = {}
    for step in range(20):
        with recorder.record("train", step=step):
            outputs[step] = _step(tf.constant(X), tf.constant(W) * (1 + step / 10), 100.0 if step == 13 else 0.0)
    assert "NaN or Inf at step 13 of 'train'; wrote the full values of steps 10, 11, 12, 13" in capfd.readouterr().err
    assert recorder.triggered == [{"step": 13, "prefix": "train", "written_steps": [10, 11, 12, 13], "lost_steps": []}]
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    log_tag = next(t for t in reader.tags("run") if t.endswith("/Log"))
    kinds = {i.step: i.kind for i in reader.tag_infos("run", log_tag)}
    assert kinds == {s: "full" if 10 <= s <= 13 else "health" for s in range(20)}
    for step in (10, 13):
        np.testing.assert_array_equal(reader.value("run", log_tag, step), outputs[step].numpy())
    assert _health_steps(tmp_path) == {"train/_health": list(range(20))}
    with pytest.raises(tensorcap.reader.StatisticsOnlyError):
        reader.value("run", log_tag, 9)
    assert reader.stats("run", log_tag, 13)["nan"] > 0


def test_tensors_on_one_buffer_are_reduced_once_each_with_its_own_shape(tmp_path, writer_at, monkeypatch):
    """Reshape and ExpandDims give new tensors on their input's buffer: one reduction, every row right."""

    @tf.function
    def step(x):
        h = tf.nn.relu(x * 2.0)  # 8,192 floats: reduced on its own, not with the small tensors
        flat = tf.reshape(h, [-1])
        wide = tf.expand_dims(flat, 0)
        return tf.reduce_sum(tf.math.log(wide + 1.0))

    x = tf.constant(np.linspace(-1, 1, 8192, dtype=np.float32).reshape(64, 128))
    full, health_writer = writer_at(tmp_path / "full"), writer_at(tmp_path / "health")
    with tensorcap.record("fn", step=0, writer=full):
        tf.function(step.python_function)(x)
    with tensorcap.record("fn", step=0, writer=health_writer, mode="health"):
        step(x)  # traced here
    reduced = []
    real = host_stats.host_row
    monkeypatch.setattr(host_stats, "host_row", lambda array, out: reduced.append(array.shape) or real(array, out))
    with tensorcap.record("fn", step=1, writer=health_writer, mode="health"):
        step(x)
    full.flush(), health_writer.flush()
    assert (8192,) not in reduced and reduced.count((1, 8192)) == 2  # AddV2 and Log; not Reshape, ExpandDims
    reader = tensorcap.load(str(tmp_path))
    tags = reader.tags("health")
    assert {"fn/Relu", "fn/Reshape", "fn/ExpandDims"} <= set(tags) and tags == reader.tags("full")
    for tag in tags:
        a, b = reader.info("full", tag, 0), reader.info("health", tag, 1)
        assert (a.dtype, a.shape) == (b.dtype, b.shape), tag
        want, got = reader.stats("full", tag, 0), reader.stats("health", tag, 1)
        for field in metadata.HEALTH_FIELDS:
            assert got[field] == pytest.approx(want[field], rel=1e-6, abs=1e-7), (tag, field)
    assert reader.info("health", "fn/ExpandDims", 1).shape == (1, 8192)


def test_a_nan_on_a_shared_buffer_fires_the_flight_recorder(tmp_path, writer_at, capfd):
    @tf.function
    def step(x):
        return tf.reduce_sum(tf.reshape(tf.math.sqrt(x), [-1]))  # Sqrt's output and its Reshape share a buffer

    recorder = tensorcap.FlightRecorder(keep_steps=1, writer=writer_at(tmp_path / "run"), health=False)
    for i in range(3):
        with recorder.record("fn", step=i):
            step(tf.fill([64, 128], 1.0 if i < 2 else -1.0))
    assert [t["step"] for t in recorder.triggered] == [2]
    assert "wrote the full values of steps 1, 2" in capfd.readouterr().err


@pytest.mark.parametrize("store", ["host", "device"])
def test_tf_function_keeps_its_values_by_reference_or_in_a_device_ring(tmp_path, writer_at, capfd, monkeypatch, store):
    if store == "device":  # what an accelerator gets: statistics and a ring of variables on the device
        monkeypatch.setattr(traced_store, "trace_end_works", lambda: False)
    writer = writer_at(tmp_path / "run")
    recorder = tensorcap.FlightRecorder(keep_steps=2, writer=writer, health=False)
    function = tf.function(_step)
    outputs = {}
    for step in range(8):
        with recorder.record("fn", step=step):
            outputs[step] = function(tf.constant(X), tf.constant(W) * (1 + step), 100.0 if step == 5 else 0.0)
        if step == 2:
            function(tf.constant(X), tf.constant(W) * 50, 0.0)  # a call outside any block changes nothing kept
    assert "wrote the full values of steps 3, 4, 5" in capfd.readouterr().err
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    log_tag = "fn/Log"
    assert reader.steps("run", log_tag) == [3, 4, 5]  # health=False: nothing else written
    for step in (3, 4, 5):
        np.testing.assert_array_equal(reader.value("run", log_tag, step), outputs[step].numpy())
    assert _health_steps(tmp_path) == {}


def test_a_steps_health_record_and_its_full_values_share_tensorcaps_own_file_in_order(tmp_path, writer_at):
    recorder = tensorcap.FlightRecorder(keep_steps=1, writer=writer_at(tmp_path / "run"))
    function = tf.function(_step)
    for step in range(3):
        with recorder.record("fn", step=step):
            function(tf.constant(X), tf.constant(W), 100.0 if step == 2 else 0.0)
    written = []  # (kind, step) in file order
    for _, _, data in event_files.scan_records(capture_file_of(tmp_path / "run"), 0):
        event = event_pb2.Event.FromString(data)
        for value in event.summary.value:
            if value.tag == "fn/Log":
                written.append(("full", event.step))
            elif value.tag == "fn/_health":
                written.append(("health", event.step))
    assert written == [("health", 0), ("health", 1), ("health", 2), ("full", 1), ("full", 2)]


def test_custom_trigger_and_later_triggers(tmp_path, writer_at):
    writer = writer_at(tmp_path / "run")
    seen = []

    def too_large(step_health):
        seen.append(step_health)
        return any(stats["max"] is not None and stats["max"] > 3 for _, stats in step_health)

    recorder = tensorcap.FlightRecorder(keep_steps=1, trigger=too_large, writer=writer)
    for step in range(10):
        with recorder.record("train", step=step):
            tf.constant(X) * (5.0 if step in (4, 8) else 1.0)
    assert [t["written_steps"] for t in recorder.triggered] == [[3, 4], [7, 8]]
    # The step's captures: Mul's two outside inputs (for the lineage), then Mul.
    assert [tag for tag, _ in seen[0]] == ["train/input/Mul.0", "train/input/Mul.1", "train/Mul"]
    assert seen[0][2][1]["max"] == pytest.approx(X.max())
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    assert [i.step for i in reader.tag_infos("run", "train/Mul") if i.kind == "full"] == [3, 4, 7, 8]


def test_max_triggers_stops_writing_a_run_that_stays_nan(tmp_path, writer_at, capfd):
    writer = writer_at(tmp_path / "run")
    recorder = tensorcap.FlightRecorder(keep_steps=1, writer=writer, max_triggers=2)
    for step in range(8):  # NaN from step 3 on, as when the weights went NaN
        with recorder.record("train", step=step):
            tf.math.log(tf.constant(X) - (100.0 if step >= 3 else 0.0))
    assert [t["written_steps"] for t in recorder.triggered] == [[2, 3], [4]]
    assert recorder.skipped_triggers == [{"step": s, "prefix": "train"} for s in (5, 6, 7)]
    assert recorder.kept_steps() == {}  # no values kept once spent
    err = capfd.readouterr().err
    assert err.count("max_triggers=2 reached") == 1
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    infos = reader.tag_infos("run", "train/Log")
    assert [i.step for i in infos if i.kind == "full"] == [2, 3, 4]
    assert [i.step for i in infos if i.kind == "health"] == [0, 1, 5, 6, 7]  # health goes on (2-4: full last)
    with pytest.raises(ValueError, match="max_triggers"):
        tensorcap.FlightRecorder(max_triggers=0)


def test_max_bytes_drops_the_oldest_steps_first(tmp_path, writer_at, capfd):
    writer = writer_at(tmp_path / "run")
    # Per step: three outputs of X's size (AddV2, Sub, Log), the outside input X and two float32 numbers.
    step_bytes = X.nbytes * 4 + 2 * 4
    recorder = tensorcap.FlightRecorder(keep_steps=5, max_bytes=2 * step_bytes, writer=writer)
    for step in range(8):
        with recorder.record("train", step=step):
            y = tf.constant(X) + 1.0
            tf.math.log(y - (100.0 if step == 7 else 0.0))
        if step == 6:
            assert recorder.kept_steps() == {"train": [5, 6]}
    assert recorder.triggered[0]["written_steps"] == [5, 6, 7]
    err = capfd.readouterr().err
    assert "max_bytes=%d dropped step 0 of 'train' (%d bytes of values)" % (2 * step_bytes, step_bytes) in err
    assert err.count("max_bytes=") == 1  # said once per prefix


def test_max_bytes_bounds_the_device_ring(tmp_path, writer_at, capfd, monkeypatch):
    monkeypatch.setattr(traced_store, "trace_end_works", lambda: False)
    writer = writer_at(tmp_path / "run")
    # Per slot, the arguments x (48 bytes) and w (24), kept for the lineage, then MatMul and Relu (4 x 2
    # float32, 32 bytes each): two slots fill 272 bytes. A step also holds its eager values (240 bytes with
    # the block's outside inputs), so only one earlier step fits max_bytes (said once).
    recorder = tensorcap.FlightRecorder(keep_steps=2, max_bytes=272, writer=writer)
    function = tf.function(_step)
    outputs = {}
    for step in range(6):
        with recorder.record("fn", step=step):
            outputs[step] = function(tf.constant(X), tf.constant(W), 100.0 if step == 5 else 0.0)
    err = capfd.readouterr().err
    for tag in ("fn/Sub", "fn/Log", "fn/_step/constant/y"):
        assert "%s is not kept in the on-device ring (the ring would pass max_bytes=272)" % tag in err
    assert "fn/dense/MatMul is not kept" not in err
    assert "max_bytes=272 dropped step 0 of 'fn' (240 bytes of values)" in err
    assert "wrote the full values of steps 4, 5 (only the statistics of fn/Log, fn/Sub, fn/_step/constant/y" in err
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    assert [i.step for i in reader.tag_infos("run", "fn/dense/Relu") if i.kind == "full"] == [4, 5]
    np.testing.assert_array_equal(reader.value("run", "fn/dense/Relu", 4), tf.nn.relu(X @ W).numpy())
    assert all(i.kind == "health" for i in reader.tag_infos("run", "fn/Log"))
    assert reader.stats("run", "fn/Log", 5)["nan"] == 8


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="keep_steps"):
        tensorcap.FlightRecorder(keep_steps=-1)
    with pytest.raises(ValueError, match="trigger"):
        tensorcap.FlightRecorder(trigger="nan")
    with pytest.raises(ValueError, match="max_bytes"):
        tensorcap.FlightRecorder(max_bytes=1.5)
    with pytest.raises(ValueError, match='"full" or "health"'):
        tensorcap.record("x", mode="values")


def test_kill_right_after_a_trigger_keeps_the_trigger_step(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys
        import tensorflow as tf
        import tb_tensorcap as tensorcap
        writer = tf.summary.create_file_writer(sys.argv[1], flush_millis=10 ** 7)
        recorder = tensorcap.FlightRecorder(keep_steps=2, writer=writer)
        for step in range(10):
            with recorder.record("train", step=step):
                tf.math.log(tf.constant([1.0, 2.0]) - (5.0 if step == 6 else 0.0))
            if recorder.triggered:
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=300,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    assert "wrote the full values of steps 4, 5, 6" in done.stderr
    reader = tensorcap.load(str(tmp_path))
    infos = {i.step: i for i in reader.tag_infos("run", "train/Log")}
    assert [s for s, i in infos.items() if i.kind == "full"] == [4, 5, 6]
    assert np.isnan(reader.value("run", "train/Log", 6)).all()


def test_divergence_of_health_runs_compares_statistics(tmp_path, writer_at, capsys):
    for run, bad_step in (("a", None), ("b", 2)):
        writer = writer_at(tmp_path / run)
        for step in range(4):
            with tensorcap.record("train", step=step, writer=writer, mode="health"):
                y = tf.constant(X) * 2.0
                tf.nn.relu(y - (0.5 if step == bad_step else 0.0))
        writer.flush()
    reader = tensorcap.load(str(tmp_path))
    from tb_tensorcap import answers

    reply = answers.divergence(reader, "a", "b")
    assert reply["compared"] == 24  # Mul, Sub and Relu and their outside inputs (X, 2.0, the shift) at 4 steps
    first = reply["first"]
    # The first to differ is the shift itself (Sub's outside input 1), then Sub and Relu.
    assert (first["tag"], first["step"], first["reason"], first["compared"]) == (
        "train/input/Sub.1",
        2,
        "statistics",
        "statistics",
    )
    assert first["max_abs"] == pytest.approx(0.5)  # min, max and mean moved by 0.5
    assert sorted(r["tag"] for r in reply["tags"] if r["steps_outside"]) == [
        "train/Relu",
        "train/Sub",
        "train/input/Sub.1",
    ]
    from tb_tensorcap import cli

    assert cli.main(["divergence", str(tmp_path), "a", "b"]) == 1
    headline = [line for line in capsys.readouterr().out.splitlines() if line.startswith("first divergence")]
    assert headline == [
        "first divergence: train/input/Sub.1 at step 2 (capture #%d, %s): statistics differ: %d statistics outside "
        "tolerance, NaN/Inf counts differ by 0, max_abs 0.5 (over the zero count and finite min, max, mean, std)"
        % (first["order"], "%s:%d" % (first["source"]["file"], first["source"]["line"]), first["outside"])
    ]


def _keras_model_and_data(nan_row=None):
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 48)
    if nan_row is not None:
        x[nan_row] = np.nan
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model, x, y


def test_keras_flight_recorder_keeps_the_batches_before_the_nan(tmp_path, writer_at, capfd):
    writer = writer_at(tmp_path / "run")
    model, x, y = _keras_model_and_data(nan_row=4 * 8 + 3)  # batch 4 of 6 (batch size 8)
    callback = tensorcap.keras.CaptureCallback(keep_steps=2, writer=writer)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, callbacks=[callback], verbose=0)
    writer.flush()
    # The NaN poisons the weights: every later batch triggers again, with nothing kept before it.
    assert [t["written_steps"] for t in callback.recorder.triggered] == [[2, 3, 4], [5]]
    assert "at step 4 of 'train'; wrote the full values of steps 2, 3, 4" in capfd.readouterr().err
    reader = tensorcap.load(str(tmp_path))
    conv = next(t for t in reader.tags("run") if t.endswith("/Conv2D") and "gradient" not in t)
    assert [(i.step, i.kind) for i in reader.tag_captures("run", conv)] == [
        (0, "health"),
        (1, "health"),
        (2, "health"),
        (2, "full"),
        (3, "health"),
        (3, "full"),
        (4, "health"),
        (4, "full"),
        (5, "health"),
        (5, "full"),
    ]
    assert reader.stats("run", conv, 3)["nan"] == 0 and reader.stats("run", conv, 4)["nan"] > 0
    assert np.isnan(reader.value("run", conv, 4)).any()
    assert model.train_function is None  # detached: the next fit retraces without instrumentation


def test_keras_health_mode_writes_statistics_of_every_op(tmp_path, writer_at):
    writer = writer_at(tmp_path / "run")
    model, x, y = _keras_model_and_data()
    callback = tensorcap.keras.CaptureCallback(mode="health", every_n_batches=2, writer=writer, prefix="fit")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, callbacks=[callback], verbose=0)
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    tags = reader.tags("run")
    assert len(tags) > 20 and all(t.startswith("fit/") for t in tags)
    assert any("MatMul" in t for t in tags) and any("gradient" in t for t in tags)
    for tag in tags:
        infos = reader.tag_captures("run", tag)
        assert [i.step for i in infos] == [0, 2, 4] and {i.kind for i in infos} == {"health"}
    assert _health_steps(tmp_path) == {"fit/_health": [0, 2, 4]}


MIRRORED_FLIGHT = textwrap.dedent("""
    import os, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import tb_tensorcap as tensorcap

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    writer = tf.summary.create_file_writer(os.path.join(sys.argv[1], "mirrored"))
    recorder = tensorcap.FlightRecorder(keep_steps=1, writer=writer)

    def step_fn(x, step):
        replica = tf.get_static_value(tf.distribute.get_replica_context().replica_id_in_sync_group)
        shift = 10.0 if (replica == 1 and step == 3) else 0.0
        with recorder.record("train", step=step):
            tf.math.log(x - shift)

    for step in range(5):
        strategy.run(step_fn, args=(tf.constant([1.0, 2.0]), step))
    writer.flush()
    print(sorted((t["prefix"], t["written_steps"]) for t in recorder.triggered))
""")


def test_flight_recorder_per_replica(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED_FLIGHT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[('replica_1/train', [2, 3])]"
    reader = tensorcap.load(str(tmp_path))
    assert [t for t in reader.tags("mirrored") if "/input/" not in t] == [
        "replica_0/train/Log",
        "replica_0/train/Sub",
        "replica_1/train/Log",
        "replica_1/train/Sub",
    ]
    kinds = {(i.tag, i.step): i.kind for i in reader.captures("mirrored")}
    assert {s for (t, s), k in kinds.items() if k == "full"} == {2, 3}
    assert all(not t.startswith("replica_0") for (t, s), k in kinds.items() if k == "full")
    assert reader.stats("mirrored", "replica_1/train/Log", 3)["nan"] == 2
    assert reader.stats("mirrored", "replica_0/train/Log", 3)["nan"] == 0


def test_health_captures_keep_the_order_ops_ran_in(tmp_path, writer_at):
    writer = writer_at(tmp_path / "run")
    function = tf.function(lambda x: tf.math.log(x * 2.0))
    for step in range(2):
        with tensorcap.record("blk", step=step, writer=writer, mode="health"):
            x = tf.constant(X) + 1.0
            y = function(x)
            tf.nn.relu(y)
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    outside = ("/input/", "/argument/", "/constant/")  # captured for the lineage
    order = [i.tag for i in reader.captures("run") if i.step == 1 and not any(k in i.tag for k in outside)]
    # The function's internal ops come where the call ran: after AddV2, before its output and Relu.
    assert order == ["blk/AddV2", "blk/Mul", "blk/Log", "blk/<lambda>", "blk/Relu"]


def test_an_error_inside_a_traced_call_never_fails_the_users_call(tmp_path, writer_at, monkeypatch):
    writer = writer_at(tmp_path / "run")
    function = tf.function(_step)
    with tensorcap.record("fn", step=0, writer=writer, mode="health"):  # traced here, host store
        function(tf.constant(X), tf.constant(W), 0.0)

    def broken(arrays):
        raise MemoryError("no room for the statistics")

    monkeypatch.setattr(host_stats, "host_rows", broken)
    with pytest.warns(RuntimeWarning, match="capturing failed.*no room for the statistics"):
        with tensorcap.record("fn", step=1, writer=writer, mode="health"):
            out = function(tf.constant(X), tf.constant(W), 0.0)
    np.testing.assert_allclose(out.numpy(), _step(tf.constant(X), tf.constant(W), 0.0).numpy())


def _inputs_of_user_values(op):
    """An op's lineage without resource inputs: a function call's also include the variables that
    TensorCap's instrumentation added to the function, which differ between full and health mode."""
    return op and [entry for entry in op["inputs"] if entry.get("dtype") != "resource"]
