"""The functions of template.yaml, for the shell scripts.

  functions.py binaries            every function's binary name
  functions.py build-command ARCH [NAME ...]
                                   the one `cargo lambda build` that builds them all for ARCH
                                   (or only the functions NAME ...)
  functions.py deploy-template OUT the template with each function's CodeUri at its built
                                   bootstrap folder (target/lambda/<name>), ready for `sam deploy`
"""

import json
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]


def template():
    loaded, problems = decode(str(ROOT / "template.yaml"))
    if problems:
        raise SystemExit(f"template.yaml does not load: {problems}")
    return json.loads(json.dumps(loaded))


def functions(t):
    for resource in t["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            yield resource


def build_command(arch, binaries):
    """What `sam build` runs for one function (BuildMethod rust-cargolambda: `cargo lambda
    build --release [--arm64] --bin NAME`), with every function's --bin in one invocation."""
    command = ["cargo", "lambda", "build", "--release"]
    if arch == "arm64":
        command.append("--arm64")
    for binary in binaries:
        command += ["--bin", binary]
    return command


def main():
    t = template()
    if sys.argv[1] == "binaries":
        for resource in functions(t):
            print(resource["Metadata"]["BuildProperties"]["Binary"])
    elif sys.argv[1] == "build-command":
        binaries = [r["Metadata"]["BuildProperties"]["Binary"] for r in functions(t)]
        unknown = set(sys.argv[3:]) - set(binaries)
        if unknown:
            raise SystemExit(f"no function named {', '.join(sorted(unknown))} in template.yaml")
        chosen = [b for b in binaries if b in sys.argv[3:]] if sys.argv[3:] else binaries
        print("\n".join(build_command(sys.argv[2], chosen)))
    elif sys.argv[1] == "deploy-template":
        # The bootstraps are built already (build.sh); `sam deploy` zips each folder. The build
        # metadata is for `sam build` only.
        for resource in functions(t):
            binary = resource.pop("Metadata")["BuildProperties"]["Binary"]
            resource["Properties"]["CodeUri"] = str(ROOT / "target" / "lambda" / binary)
        t.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
        Path(sys.argv[2]).parent.mkdir(parents=True, exist_ok=True)
        Path(sys.argv[2]).write_text(json.dumps(t, indent=1))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
