//! Running the `tarmac` binary as a user runs it, shared by the CLI test binaries: plain
//! output (NO_COLOR, not in CI mode), exit code and both streams captured, and assertions
//! that print both streams when they fail.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// One invocation of the binary, built fluently (cf. just's `Test`).
pub struct Invocation {
    command: Command,
}

impl Default for Invocation {
    fn default() -> Self {
        Self::new()
    }
}

impl Invocation {
    pub fn new() -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tarmac"));
        // A TARMAC_PROBE of the caller's must not change which probe the tests upload.
        command
            .env_remove("CI")
            .env_remove("TARMAC_PROBE")
            .env("NO_COLOR", "1");
        Invocation { command }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.command.args(args);
        self
    }

    /// Where relative report paths land.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.command.output().expect("run tarmac");
        Run {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `tarmac <args>`.
pub fn tarmac(args: &[&str]) -> Run {
    Invocation::new().args(args).run()
}

/// What one invocation did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "exit code\n{}", self.transcript());
        self
    }

    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    /// Both streams, for assertion messages.
    pub fn transcript(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}
