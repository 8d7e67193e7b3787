# The README's commands. `setup` is idempotent and works offline where the pinned wheels are on disk.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench lint

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

# MODEL=path/to/weights.safetensors tries another model; the default is the shipped one.
demo: setup
	@set -e; mkdir -p out; model="$(MODEL)"; \
	if [ -z "$$model" ] && ! $(BIN)/python -c "from srgan import weights; weights.resolve(None)" 2>/dev/null; then \
	  echo "NOTE: no shipped weights in this checkout yet: the demo runs a RANDOMLY INITIALISED generator,"; \
	  echo "      so the result shows the pipeline, not super-resolution quality."; \
	  model=out/untrained_x4.safetensors; \
	  $(BIN)/python -c "import torch; from srgan import weights; from srgan.models import Generator; \
	    torch.manual_seed(0); weights.save(Generator(), '$$model', note='randomly initialised')"; \
	fi; \
	$(BIN)/srgan upscale examples/coffee.png -o out/ --overwrite $${model:+--model $$model}; \
	$(BIN)/srgan report examples/coffee.png --sr-dir out --hr examples/coffee_hr.png -o out/report.html --overwrite; \
	echo; \
	echo "upscaled photo: out/coffee_x4.png  (input: examples/coffee.png, 150x100)"; \
	echo "report:         out/report.html    (open it in a browser: slider, zoomed crops, PSNR/SSIM vs the original)"

bench: setup
	$(BIN)/python benchmarks/upscale.py

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
