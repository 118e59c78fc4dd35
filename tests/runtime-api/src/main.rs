//! `local-runtime`, the command line of the harnesses' Runtime API (the library's docs):
//!
//! - `local-runtime serve` starts a Runtime API on a free loopback port, prints its address on
//!   the first line of standard output, and serves it, with the control interface, until killed
//!   or until standard input closes.
//! - `local-runtime run --api ADDRESS --name NAME [--memory MB] BOOTSTRAP` becomes BOOTSTRAP
//!   (the same process) with the environment Lambda gives it, plus the variables this command
//!   was started with, which are the function's settings.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use local_runtime::{RuntimeApi, lambda_command};
use tokio::io::AsyncReadExt;

const USAGE: &str = "usage: local-runtime serve | local-runtime run --api ADDRESS --name NAME [--memory MB] BOOTSTRAP";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(),
        Some("run") => run(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("local-runtime: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve() -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", api.address()).map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
        // Served until standard input closes (the harness went away) or the process is killed.
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        Ok(())
    })
}

fn run(args: &[String]) -> Result<(), String> {
    let (mut api, mut name, mut memory, mut bootstrap) = (None, None, 256, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(USAGE.to_owned());
        match arg.as_str() {
            "--api" => api = Some(value()?),
            "--name" => name = Some(value()?),
            "--memory" => memory = value()?.parse().map_err(|_| "--memory takes megabytes")?,
            path if bootstrap.is_none() && !path.starts_with("--") => {
                bootstrap = Some(PathBuf::from(path))
            }
            _ => return Err(USAGE.to_owned()),
        }
    }
    let (Some(api), Some(name), Some(bootstrap)) = (api, name, bootstrap) else {
        return Err(USAGE.to_owned());
    };
    let mut command = lambda_command(&bootstrap, &name, memory, &api);
    command.envs(std::env::vars_os());
    // Only returns if the bootstrap could not be started.
    let error = command.exec();
    Err(format!("starting {}: {error}", bootstrap.display()))
}
