"""Install the real test distribution (tests/plugins/echo_plugin) with pip into a temporary directory and put
it on sys.path, so ``importlib.metadata`` finds its ``smallfirst`` entry point like any installed plugin."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smallfirst.config.registry import reload_plugins

SOURCE = Path(__file__).parent / "echo_plugin"
PACKAGE = "smallfirst_echo_plugin"


@pytest.fixture(scope="module")
def echo_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The directory the plugin is installed in, on sys.path while the module's tests run."""
    root = tmp_path_factory.mktemp("echo-plugin")
    src = root / "src"
    # pip builds in place: build from a copy, so the repository stays clean
    shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--disable-pip-version-check", "--target", str(site), str(src)],
                   check=True, capture_output=True, timeout=300)
    assert list(site.glob("smallfirst_echo_plugin-*.dist-info")), "pip did not install the test plugin"
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    reload_plugins()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        reload_plugins()
