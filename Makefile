# Two commands for everyone:   make lab    (the course in JupyterLab)
#                              make test   (every test: library, notebooks, grading)
# Both create .venv with Python 3.11.5+ and install the project on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BACKEND_STAMP := $(VENV)/.backends
# CPU builds of the other Keras backends, for the tests that train on each of them. PyTorch's
# CPU build is not on PyPI (PyPI's Linux wheel pulls in CUDA): where no index configured
# for pip has it, it comes from PyTorch's own CPU index.
JAX_BACKEND ?= jax
TORCH_BACKEND ?= torch==2.13.0+cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# nbgrader runs `alembic` from PATH; the venv's bin must come first.
export PATH := $(abspath $(BIN)):$(PATH)

ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9]*))

.PHONY: lab doctor instructor-lab collect test test-fast lint constraints student-edition release warm-cache check autograde feedback grades full-run help

help:
	@echo "make lab         open the course (course/) in JupyterLab"
	@echo "make test        run every test (fast mode)"
	@echo "make test-fast   the library's unit tests only (no notebooks, kernels or browser)"
	@echo "make lint        ruff check and ruff format --check (CI runs it first)"
	@echo "make doctor      check this machine for the course, and say what to fix"
	@echo "make instructor-lab  JupyterLab on the repository, with nbgrader's panels"
	@echo "make release     regenerate course/ from solutions/ (instructors)"
	@echo "make student-edition DEST=... REPOSITORY=...  the tree students get (instructors)"
	@echo "make warm-cache  train the solutions' models once into model_cache/, which grading reads (instructors)"
	@echo "make check       report broken submissions before grading (instructors)"
	@echo "make collect     unpack LMS downloads from downloaded/ into submitted/ (ASSIGNMENT=...)"
	@echo "make autograde   grade submitted/<student>/<assignment>/ (instructors)"
	@echo "make feedback    write feedback/ for autograded submissions"
	@echo "make grades      export grades.csv from the gradebook"
	@echo "make full-run    run solutions in full mode into runs/ (NOTEBOOKS=... to choose)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11, 5) else "Python 3.11.5 or newer is needed (the versions pinned in constraints.txt need it), found " + sys.version.split()[0] + ": run make PYTHON=python3.12 (or another 3.11.5+ interpreter).")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]' -c constraints.txt
	touch $(STAMP)

# constraints.txt: the versions installed now, which the README's figures come from.
constraints: $(STAMP)
	{ sed -n '1,/^# an upgrade/p' constraints.txt; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^autoencoder'; } > constraints.new
	mv constraints.new constraints.txt

# Students' JupyterLab: nbgrader's course, assignment-list and formgrader panels are off
# (they need an exchange directory a student set-up does not have); Validate stays.
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-student $(BIN)/jupyter lab --ServerApp.root_dir=course \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# Is this machine ready? Versions, backend and device, data, widgets; says what to fix.
doctor: $(STAMP)
	$(BIN)/python -m autoencoder_lib.doctor

# Instructors' JupyterLab: the repository root, with every nbgrader panel; the exchange
# folder of nbgrader_config.py exists, and JupyterLab's news pop-up is off.
instructor-lab: $(STAMP)
	mkdir -p exchange
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-instructor $(BIN)/jupyter lab \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# A part the tests need could not be installed: in CI (CI=true) that fails the run, since
# the checks that need it matter most; elsewhere those tests are skipped with the reason.
# A stamp is written only once its part is there, so the next make tries again.
cannot_install = { if [ "$$CI" = true ]; then echo "Could not install $(1), which CI needs." >&2; exit 1; fi; echo "Could not install $(1): $(2)."; }

$(BACKEND_STAMP): $(STAMP)
	$(BIN)/python -m pip install -c constraints.txt $(JAX_BACKEND) || \
		$(call cannot_install,$(JAX_BACKEND),the JAX backend tests will be skipped)
	$(BIN)/python -m pip install -c constraints.txt $(TORCH_BACKEND) || \
		$(BIN)/python -m pip install -c constraints.txt --timeout 30 --retries 1 \
			--extra-index-url $(TORCH_INDEX) $(TORCH_BACKEND) || \
		$(call cannot_install,$(TORCH_BACKEND),the PyTorch backend tests will be skipped)
	$(BIN)/python -c "import jax, torch" 2>/dev/null && touch $(BACKEND_STAMP) || true

# A Debian package, with root or through sudo where either is at hand (update and retry
# once if the package index is stale); nothing is prompted for.
apt_install = { SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo "sudo -n" ); $$SUDO apt-get install -y -q $(1) >/dev/null 2>&1 || { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q $(1) >/dev/null 2>&1; }; }

# Chromium for the browser test (tests/test_browser.py): Debian's package, never a
# download at test time. Without root or sudo the test is skipped with the reason.
BROWSER_STAMP := $(VENV)/.browser
$(BROWSER_STAMP): $(STAMP)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		$(call apt_install,chromium) || \
		$(call cannot_install,Chromium,the browser tests will be skipped)
	@{ command -v chromium || command -v chromium-browser; } >/dev/null && touch $(BROWSER_STAMP) || true

# bubblewrap, the sandbox every grading kernel runs in (autoencoder_lib/instructor/
# sandbox.py): Debian's package. Without it the grading tests that need it are skipped
# with the reason, and `make autograde` refuses unless told UNSANDBOXED=1.
SANDBOX_STAMP := $(VENV)/.sandbox
$(SANDBOX_STAMP): $(STAMP)
	@command -v bwrap >/dev/null || \
		$(call apt_install,bubblewrap) || \
		$(call cannot_install,bubblewrap,the sandboxed grading tests will be skipped)
	@command -v bwrap >/dev/null && touch $(SANDBOX_STAMP) || true

# PostgreSQL for the test that grades into a PostgreSQL gradebook (tests/
# test_parallel_grading.py starts a throw-away server on loopback): Debian's package.
# Without it that test is skipped with the reason.
POSTGRES_STAMP := $(VENV)/.postgres
$(POSTGRES_STAMP): $(STAMP)
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		$(call apt_install,postgresql) || \
		$(call cannot_install,PostgreSQL,the PostgreSQL gradebook test will be skipped)
	@{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 && \
		touch $(POSTGRES_STAMP) || true

# The tree students get (no solutions, no hidden tests, no instructor code), as a new git
# repository in DEST, its links pointing at REPOSITORY (autoencoder_lib/instructor/edition.py).
student-edition: $(STAMP)
	$(BIN)/python -m autoencoder_lib.instructor.edition "$(DEST)" --repository="$(REPOSITORY)"

# Colab's ipywidgets (7.7.1, ../shared/colab/) beside the venv's 8, for the test that runs
# the explorers under it (tests/test_widgets.py); skipped with the reason without it.
WIDGETS7_STAMP := $(VENV)/.widgets7
$(WIDGETS7_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --no-deps --target $(VENV)/widgets7 \
		"ipywidgets==7.7.1" "widgetsnbextension>=3.6,<4" "jupyterlab_widgets>=1.1,<2" \
		"ipython_genutils==0.2.0" || \
		echo "Could not install ipywidgets 7.7.1: its widget test will be skipped."
	test -d $(VENV)/widgets7/ipywidgets && touch $(WIDGETS7_STAMP) || true

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) $(BACKEND_STAMP) $(BROWSER_STAMP) $(SANDBOX_STAMP) $(POSTGRES_STAMP) $(WIDGETS7_STAMP)
	AUTOENCODER_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest

# The library's unit tests alone: no notebooks, kernels, servers or browser (the tests
# marked integration in tests/conftest.py), a few minutes on 2 cores.
test-fast: $(STAMP)
	AUTOENCODER_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest tests -m "not integration"

# course/ is the instructor's preview: its Colab links are stamped only in the student
# edition (make student-edition REPOSITORY=...), never here.
release: $(STAMP)
	@for a in $(ASSIGNMENTS); do \
		AUTOENCODER_COURSE_REPOSITORY= $(BIN)/nbgrader generate_assignment --force "$$a" || exit 1; \
	done

# Reads submitted/ and course/ only: stripped metadata, deleted test cells, bad files.
check: $(STAMP)
	$(BIN)/python -m autoencoder_lib.instructor.submissions submitted course

# LMS downloads (zip files or notebooks named <student>_<anything>_<notebook>.ipynb, as
# Canvas and Moodle name them) in downloaded/<assignment>/archive/ -> submitted/. Existing
# submissions are never overwritten: nbgrader skips them unless told --force.
collect: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "Say which: make collect ASSIGNMENT=01_basic_autoencoder"; exit 1; }
	$(BIN)/nbgrader zip_collect "$(ASSIGNMENT)"

# Grading runs in fast mode (small data, few epochs, the same tests), each student in
# a private course folder and every kernel in the bubblewrap sandbox, under the limits
# of autoencoder_lib/instructor/limits.py. The submissions check runs first; files
# nbgrader cannot grade are left out with the reason; a table per assignment says what
# happened to each student. UNSANDBOXED=1 grades without the sandbox, and says so.
# WORKERS=N grades N students at once (default: one per core, as memory allows);
# SCHEDULER=tcp://host:8786 grades on a Dask cluster instead, SLURM=N on Dask workers
# started as N Slurm jobs (dask-jobqueue). Students graded before
# and unchanged since are skipped (an interrupted run resumes): FORCE=1 regrades all.
autograde: $(STAMP) $(SANDBOX_STAMP)
	$(BIN)/python -m autoencoder_lib.instructor.grading $(ASSIGNMENT) $(if $(UNSANDBOXED),--unsandboxed) $(if $(WORKERS),--workers=$(WORKERS)) $(if $(SCHEDULER),--scheduler=$(SCHEDULER)) $(if $(SLURM),--slurm=$(SLURM)) $(if $(FORCE),--force)

feedback: $(STAMP)
	@for a in $(ASSIGNMENTS); do \
		if ls autograded/*/"$$a" >/dev/null 2>&1; then \
			$(BIN)/nbgrader generate_feedback "$$a" || exit 1; \
		fi; \
	done

# The solutions' trained models, which every grading kernel reads (never writes): a
# student whose model is the solution's is not trained again (autoencoder_lib/model_cache.py).
warm-cache: $(STAMP)
	$(BIN)/python -m autoencoder_lib.instructor.warm_cache $(ASSIGNMENT)

grades: $(STAMP)
	$(BIN)/nbgrader export --to grades.csv

# The figures quoted in the notebooks come from this: every solution notebook run top to
# bottom in full mode, executed copies (with outputs) written to runs/.
NOTEBOOKS ?= $(wildcard solutions/[0-9]*/*.ipynb)
full-run: $(STAMP)
	@mkdir -p runs
	@for nb in $(NOTEBOOKS); do \
		echo "== $$nb (full mode)"; \
		start=$$(date +%s); \
		AUTOENCODER_FAST=0 AUTOENCODER_STRICT_CLAIMS=1 $(BIN)/jupyter nbconvert --to notebook --execute \
			--ExecutePreprocessor.timeout=-1 --output-dir runs "$$nb" || exit 1; \
		echo "   $$(( $$(date +%s) - start )) s on $$(uname -m), $$(nproc) cores"; \
	done
