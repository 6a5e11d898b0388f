# Each target creates .venv first when it is missing: CPU torch first, then
# everything else under constraints.txt (which keeps that CPU torch).
PY      := .venv/bin/python
PIP     := $(PY) -m pip
STAMP   := .venv/.installed
export HF_HUB_OFFLINE ?= 1
export MPLBACKEND ?= Agg

.PHONY: demo test figures bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[dev,cluster]"
	touch $(STAMP)

# force=true: the demo always refits and rescores; the simulated data and the Gabor
# features come from disk after the first time (the log says "feature cache hit").
demo: $(STAMP)
	.venv/bin/cogmodels run experiment=quickstart force=true
	.venv/bin/cogmodels results --experiment quickstart --metric pearson_r
	.venv/bin/cogmodels figures --only quickstart

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

figures: $(STAMP)
	.venv/bin/cogmodels figures

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf .venv outputs paper_figures/out .pytest_cache
