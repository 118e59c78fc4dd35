"""Holds the README and docs/ to the code: every file they name exists, every link resolves,
the routes docs/api.md lists are exactly the router's, and the settings docs/configuration.md
lists are exactly those the code reads. The README stays a newcomer's page (at most 200 lines).

Usage: check_docs.py [--self-test]
"""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 200
TOP_LEVEL = ("shared/", "functions/", "migrations/", "tests/", "docs/", "examples/", ".cargo/", ".sqlx")
TOP_FILES = {"template.yaml", "openapi.yaml", "Cargo.toml", "Cargo.lock", "BENCHMARKS.md", "Makefile", "README.md", "rust-toolchain.toml", "clippy.toml"}


def pages(root):
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def named_paths(text):
    """Paths in backticks or links that name a file or folder of the repository."""
    found = set()
    for token in re.findall(r"`([^`\s]+)`", text) + re.findall(r"\]\(([^)#\s]+)\)", text):
        token = token.rstrip(".,;:)")
        if "<" in token or "*" in token or "{" in token or "..." in token or "://" in token:
            continue
        if token.startswith(TOP_LEVEL) or token in TOP_FILES:
            found.add(token)
    return found


def router(root):
    cargo = tomllib.loads((root / "Cargo.toml").read_text())
    routes = set()
    for path, handlers in cargo["workspace"]["metadata"]["lambda"]["watch"]["router"].items():
        for handler in handlers:
            routes.add(f"{handler['method']} {path}")
    return routes


def documented_routes(text):
    return set(re.findall(r"^\| `((?:GET|POST|PUT|PATCH|DELETE) /api/[^`]*)` \|", text, re.M))


def code_settings(root):
    """Every environment variable the functions read: the names config.rs and env.rs look up."""
    names = set()
    for source in [root / "shared/src/config.rs", root / "shared/src/env.rs", root / "shared/src/telemetry.rs", root / "shared/src/secrets.rs"]:
        names |= set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', source.read_text()))
    return names


def documented_settings(text):
    names = set()
    for cell in re.findall(r"^\| ([^|]+) \|", text, re.M):
        names |= set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", cell))
    return names


def check(root):
    problems = []
    readme = (root / "README.md").read_text()
    lines = readme.count("\n")
    if lines > README_MAX_LINES:
        problems.append(f"README.md has {lines} lines; a newcomer's page has at most {README_MAX_LINES} (the rest belongs in docs/)")
    for page in pages(root):
        text = page.read_text()
        for path in sorted(named_paths(text)):
            base = root if page.name == "README.md" or not path.startswith(("../", "./")) else page.parent
            target = (page.parent / path) if path.endswith(".md") and not path.startswith(TOP_LEVEL) and path not in TOP_FILES else root / path
            if not (target.exists() or (base / path).exists()):
                problems.append(f"{page.relative_to(root)} names {path}, which does not exist")
    api = (root / "docs" / "api.md").read_text()
    listed, served = documented_routes(api), router(root)
    for route in sorted(served - listed):
        problems.append(f"docs/api.md does not list the route {route}")
    for route in sorted(listed - served):
        problems.append(f"docs/api.md lists {route}, which the router does not serve")
    configuration = (root / "docs" / "configuration.md").read_text()
    documented, read = documented_settings(configuration), code_settings(root)
    # The AWS_ names are the platform's and the SDK's (credentials, region, endpoints): the
    # code reads them, but they are documented where they come from.
    for name in sorted(n for n in read - documented if not n.startswith("AWS_")):
        problems.append(f"docs/configuration.md does not document {name}, which the code reads")
    for name in sorted(documented - read):
        problems.append(f"docs/configuration.md documents {name}, which no code reads")
    return problems


def self_test(root):
    """Each check must be able to fail: a copy of the docs with one claim broken each time."""
    import shutil
    import tempfile

    failures = []
    cases = {
        "a file that does not exist": ("docs/architecture.md", lambda t: t + "\n`shared/src/nowhere.rs`\n"),
        "a route the router does not serve": ("docs/api.md", lambda t: t + "\n| `GET /api/nowhere` | Bearer | 200 | 401 |\n"),
        "a setting no code reads": ("docs/configuration.md", lambda t: t + "\n| `NO_SUCH_SETTING` | – | nothing |\n"),
        "a long README": ("README.md", lambda t: t + "\n" * 200),
    }
    for name, (page, breaks) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp)
            for item in ["README.md", "docs", "Cargo.toml", "shared/src"]:
                source = root / item
                if source.is_dir():
                    shutil.copytree(source, copy / item)
                else:
                    (copy / item).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(source, copy / item)
            for item in TOP_FILES | {"functions", "migrations", "tests", "examples", ".cargo", ".sqlx"}:
                if (root / item).exists() and not (copy / item).exists():
                    (copy / item).symlink_to(root / item)
            target = copy / page
            target.write_text(breaks(target.read_text()))
            if not check(copy):
                failures.append(f"self-test: {name} was not caught")
    return failures


def main():
    problems = check(ROOT)
    if "--self-test" in sys.argv:
        problems += self_test(ROOT)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"docs agree with the code: README.md {(ROOT / 'README.md').read_text().count(chr(10))} lines; every named file exists; routes and settings match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
