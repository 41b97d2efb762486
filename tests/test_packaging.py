"""Packaging: a non-editable install carries every file the tab serves."""

import fnmatch
import os

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_frontend_file_is_package_data():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        config = tomllib.load(f)["tool"]["setuptools"]
    assert config["package-dir"]["tb_tensorcap.frontend"] == "frontend"
    patterns = config["package-data"]["tb_tensorcap.frontend"]
    frontend = os.path.join(ROOT, "frontend")
    served = [
        os.path.relpath(os.path.join(folder, name), frontend).replace(os.sep, "/")
        for folder, _, names in os.walk(frontend)
        for name in names
        if not name.endswith((".py", ".pyc"))
    ]
    assert "views/rootcause.css" in served and "index.js" in served
    left_out = [
        path
        for path in served
        if not any(fnmatch.fnmatchcase(path, p) and p.count("/") == path.count("/") for p in patterns)
    ]
    assert left_out == [], "frontend files a non-editable install would not carry: %s" % left_out
