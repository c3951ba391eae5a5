# Two commands do all set-up on a fresh machine:
#   make run   - create .venv, install, render a small FractalDB into out/fractaldb-demo,
#                verify it and write a preview PNG of it (the last line gives its path)
#   make test  - create .venv, install, run the test suite
#   make sasaya - the Sasaya et al. recipe on the digits with its baselines; prints the table
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test bench sasaya clean

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/fdsl-gen fractaldb --classes 10 --instances 40 --image-size 128 \
		--out out/fractaldb-demo --overwrite
	$(VENV)/bin/fdsl-gen verify out/fractaldb-demo
	$(VENV)/bin/fdsl-gen info out/fractaldb-demo
	$(VENV)/bin/fdsl-gen preview out/fractaldb-demo

test: install
	$(PY) -m pytest -q

sasaya: install
	$(PY) examples/sasaya_recipe.py --work out/sasaya

bench: install
	$(PY) bench/fractaldb_search.py
	$(PY) bench/fractaldb_render.py
	$(PY) bench/ray_engine.py
	$(PY) bench/visualatom_pipeline.py
	$(PY) bench/deadleaves_pipeline.py
	$(PY) bench/spectrum_render.py
	$(PY) bench/patches_pipeline.py
	$(PY) bench/train_input_pipeline.py
	$(PY) bench/render_loader.py
	$(PY) bench/moco_input_pipeline.py
	$(PY) bench/gpu_moco.py
	$(PY) bench/stylegan_render.py
	$(PY) bench/featurevis_render.py
	$(PY) bench/gpu_stylegan.py

clean:
	rm -rf $(VENV) out
