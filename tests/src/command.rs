//! Running the host tools the lab is made of (`ip`, `nsenter`, `ssh-keygen`, ...) with errors
//! that show the command line and its stderr.

use std::process::{Command, Output};

use crate::LabError;

/// The command line as a user would type it, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `cmd` to completion and fails unless it exits 0.
pub(crate) fn run(lab: &str, cmd: &mut Command) -> Result<Output, LabError> {
    let output = cmd.output().map_err(|source| LabError::Spawn {
        lab: lab.to_owned(),
        command: describe(cmd),
        source,
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::Command {
            lab: lab.to_owned(),
            command: describe(cmd),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Shorthand for `run(lab, Command::new(program).args(args))`.
pub(crate) fn run_args(lab: &str, program: &str, args: &[&str]) -> Result<Output, LabError> {
    run(lab, Command::new(program).args(args))
}

/// Quotes `text` for a POSIX shell.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
