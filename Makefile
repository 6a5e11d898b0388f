# Each target creates .venv first when it is missing: CPU torch first, then
# everything else under constraints.txt (which keeps that CPU torch).
PY      := .venv/bin/python
PIP     := $(PY) -m pip
STAMP   := .venv/.installed
export HF_HUB_OFFLINE ?= 1
export MPLBACKEND ?= Agg

.PHONY: demo docs test figures bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[dev,cluster]"
	touch $(STAMP)

# Every family on the built-in simulators into outputs/demo, a table per family and an HTML report
# (cogmodels/runner/demo.py; settings in experiments/conf/experiment/demo_*.yaml).  A second run skips the
# completed runs and says so; `cogmodels demo --force` recomputes them from the cached data and features.
demo: $(STAMP)
	.venv/bin/cogmodels demo

# The documentation site, offline, warnings as errors; installs the docs extra (sphinx, numpydoc,
# sphinx-gallery, pydata-sphinx-theme) into .venv the first time.
docs: $(STAMP)
	@$(PY) -c "import sphinx, numpydoc, sphinx_gallery, pydata_sphinx_theme" 2>/dev/null || \
	  $(PIP) install --quiet -c constraints.txt -e ".[dev,cluster,docs]"
	$(PY) -P -m sphinx -W --keep-going -b html docs docs/_build/html

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

figures: $(STAMP)
	.venv/bin/cogmodels figures

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf .venv outputs paper_figures/out .pytest_cache
