# One-command set-up: `make run` (the app on the demo recording) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup sysdeps bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/.installed

# Qt's X11 plugin needs these on a bare Debian; xvfb gives tests and display-less runs a screen.
sysdeps:
	@dpkg -s xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libegl1 libxkbcommon-x11-0 >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libegl1 libxkbcommon-x11-0 >/dev/null; }

run: setup
	$(BIN)/python main.py

test: setup sysdeps
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m benchmarks.foundation

clean:
	rm -rf $(VENV) build *.egg-info
