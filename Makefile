# TensorCap's two commands: `make demo` and `make test`.
# Both create .venv with Python 3.11 (or python3) and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 6006

.PHONY: demo test bench system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The package (editable) with the test extras: tensorflow-cpu, pytest, playwright, hypothesis.
$(INSTALLED): pyproject.toml setup.py $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Debian's Chromium for the browser tests and Node.js for the JavaScript unit
# tests; installed only where missing (needs root, as on CI).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

demo: $(INSTALLED)
	$(PY) demo/train.py --logdir runs
	$(PY) demo/jax_train.py --logdir runs
	$(VENV)/bin/tensorboard --logdir runs --host $(HOST) --port $(PORT)

test: $(INSTALLED) system-deps
	$(PY) -m pytest tests -q -p no:cacheprovider

bench: $(INSTALLED)
	$(PY) benchmarks/capture_bench.py
	$(PY) benchmarks/serve_bench.py
	$(PY) benchmarks/record_bench.py
	$(PY) benchmarks/load_bench.py
	$(PY) benchmarks/plain_capture_bench.py
	$(PY) benchmarks/views_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
