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

# Qt's X11 plugin needs these on a bare Debian; Xvfb gives the GUI tests a real X server.
# Installed when missing and we are root (CI, containers); otherwise a hint is printed.
SYSDEPS := xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libegl1 libxkbcommon-x11-0
sysdeps:
	@dpkg -s $(SYSDEPS) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSDEPS) >/dev/null; \
	  else echo "note: for the Qt window and the GUI tests install: sudo apt-get install $(SYSDEPS)"; fi; }

run: setup sysdeps
	$(BIN)/python main.py

test: setup sysdeps
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m benchmarks.foundation

clean:
	rm -rf $(VENV) build *.egg-info
