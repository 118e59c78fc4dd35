"""`make test` and `make deploy` build every function with one `cargo lambda build`
(build.sh); `sam build` builds them one by one. This proves, with the SAM CLI's own builder
(aws-lambda-builders, the code `sam build` runs for BuildMethod rust-cargolambda), that the two
are the same command with the same flags for each function and architecture, so what the tests
run is what SAM would ship: only the grouping of the --bin arguments differs.
"""

import sys
from pathlib import Path

from aws_lambda_builders.architecture import ARM64, X86_64
from aws_lambda_builders.workflow import BuildMode
from aws_lambda_builders.workflows.rust_cargo.actions import RustCargoLambdaBuildAction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from functions import build_command, functions, template  # noqa: E402


class Cargo:
    binary_path = "cargo"


def sam_command(resource, architecture, runtime):
    props = resource["Metadata"]["BuildProperties"]
    action = RustCargoLambdaBuildAction(
        source_dir=".",
        binaries={"cargo": Cargo()},
        mode=BuildMode.RELEASE,
        subprocess_cargo_lambda=None,
        runtime=runtime,
        architecture=architecture,
        handler=props["Binary"],
        flags=props.get("CargoLambdaFlags"),
    )
    return action.build_command()


def main():
    t = template()
    runtime = t["Globals"]["Function"]["Runtime"]
    resources = list(functions(t))
    binaries = [r["Metadata"]["BuildProperties"]["Binary"] for r in resources]
    problems = []
    for arch, architecture in (("x86_64", X86_64), ("arm64", ARM64)):
        ours = build_command(arch, binaries)
        for resource, binary in zip(resources, binaries):
            if resource["Metadata"].get("BuildMethod") != "rust-cargolambda":
                problems.append(f"{binary}: BuildMethod is not rust-cargolambda")
            sam = sam_command(resource, architecture, runtime)
            # Ours, keeping only this function's --bin.
            mine, skip = [], False
            for i, arg in enumerate(ours):
                if skip:
                    skip = False
                    continue
                if arg == "--bin" and ours[i + 1] != binary:
                    skip = True
                    continue
                mine.append(arg)
            if mine != sam:
                problems.append(f"{binary} ({arch}): sam build runs {sam}, build.sh runs {mine}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"build.sh runs what sam build runs for each of the {len(binaries)} functions, for x86_64 and arm64, in one invocation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
