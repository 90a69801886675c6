//! One loaded plugin's calls, whatever its ABI: a component of a supported `tarmac:check`
//! version (one arm per bindgen module; an adapter turns a later version's types into the
//! host's) or a WASI command module speaking the JSON ABI. Every arm answers in the host's
//! WIT types, so validation and reporting are one path.

use serde_json::Value;
use wasmtime::Engine;

use crate::plugin::bindings::{self as wit, v0_1};
use crate::plugin::call::{CallFailure, CallOutput, call};
use crate::plugin::command::{self, CommandPre};
use crate::plugin::host::HostState;
use crate::plugin::json_abi::{self, INTERFACE, Request};
use crate::plugin::limits::Limits;

/// Which binary interface a plugin file speaks, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// A WebAssembly component of the `tarmac:check` world.
    Component,
    /// A core module for WASI preview 1 with `_start`: JSON on stdin and stdout.
    WasiCommand,
}

impl Abi {
    /// `Err` when `bytes` are no WebAssembly binary at all.
    pub fn detect(bytes: &[u8]) -> Result<Self, String> {
        match bytes.get(..8) {
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Ok(Self::WasiCommand),
            Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(Self::Component),
            _ => Err(
                "not a WebAssembly binary (no \\0asm header of a module or component)".to_owned(),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Component => "component",
            Self::WasiCommand => "wasi-command",
        }
    }
}

/// A component linked against the host of the version it targets.
pub enum ComponentPre {
    V0_1(v0_1::PluginPre<HostState>),
}

impl std::fmt::Debug for ComponentPre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V0_1(_) => "ComponentPre::V0_1",
        })
    }
}

/// A plugin ready to be called.
pub enum Runner {
    Component(ComponentPre),
    Command(CommandPre),
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Component(_) => "Runner::Component",
            Self::Command(_) => "Runner::Command",
        })
    }
}

/// describe's answer plus the interface version a command plugin says it targets.
#[derive(Debug)]
pub struct Described {
    pub metadata: wit::Metadata,
    pub interface: Option<String>,
}

impl Runner {
    pub fn describe(&self, engine: &Engine, limits: &Limits) -> CallOutput<Described> {
        match self {
            Self::Component(ComponentPre::V0_1(pre)) => {
                let out = call(engine, pre, limits, "describe", async |store, p| {
                    p.call_describe(store).await
                });
                map(out, |metadata| {
                    Ok(Described {
                        metadata,
                        interface: None,
                    })
                })
            }
            Self::Command(pre) => {
                let request = Request::Describe {
                    interface: INTERFACE,
                };
                let out = command::call(engine, pre, limits, "describe", request.to_bytes());
                map(out, |stdout| {
                    let interface = json_abi::describe_interface(&stdout)
                        .map_err(|reason| CallFailure::Answer(reason, "describe"))?
                        .map_err(|(reason, target)| CallFailure::Refused(reason, target))?;
                    match json_abi::describe_answer(&stdout) {
                        Ok(Ok(metadata)) => Ok(Described {
                            metadata,
                            interface: Some(interface),
                        }),
                        Ok(Err(reason)) => Err(CallFailure::Reported(reason, "describe")),
                        Err(reason) => Err(CallFailure::Answer(reason, "describe")),
                    }
                })
            }
        }
    }

    pub fn validate_config(
        &self,
        engine: &Engine,
        limits: &Limits,
        config: &str,
    ) -> CallOutput<Result<(), String>> {
        match self {
            Self::Component(ComponentPre::V0_1(pre)) => {
                call(engine, pre, limits, "validate-config", async |store, p| {
                    p.call_validate_config(store, config).await
                })
            }
            Self::Command(pre) => {
                let config = config_value(config);
                let request = Request::ValidateConfig {
                    interface: INTERFACE,
                    config: &config,
                };
                let out = command::call(engine, pre, limits, "validate-config", request.to_bytes());
                map(out, |stdout| {
                    json_abi::validate_answer(&stdout)
                        .map_err(|reason| CallFailure::Answer(reason, "validate-config"))
                })
            }
        }
    }

    /// `check` over `nodes` (one node for a node-scoped plugin).
    pub fn check(
        &self,
        engine: &Engine,
        limits: &Limits,
        scope: wit::Scope,
        nodes: Vec<wit::NodeFacts>,
        config: &str,
    ) -> CallOutput<Result<Vec<wit::Finding>, String>> {
        match self {
            Self::Component(ComponentPre::V0_1(pre)) => {
                call(engine, pre, limits, "check", async |store, p| {
                    p.call_check(store, &nodes, config).await
                })
            }
            Self::Command(pre) => {
                let config = config_value(config);
                let mut nodes: Vec<json_abi::NodeFacts> = nodes.iter().map(Into::into).collect();
                let request = match (scope, nodes.len()) {
                    (wit::Scope::Node, 1) => Request::CheckNode {
                        interface: INTERFACE,
                        node: Box::new(nodes.remove(0)),
                        config: &config,
                    },
                    _ => Request::CheckCluster {
                        interface: INTERFACE,
                        nodes,
                        config: &config,
                    },
                };
                let out = command::call(engine, pre, limits, "check", request.to_bytes());
                map(out, |stdout| {
                    json_abi::check_answer(&stdout)
                        .map_err(|reason| CallFailure::Answer(reason, "check"))
                })
            }
        }
    }
}

fn map<A, B>(out: CallOutput<A>, f: impl FnOnce(A) -> Result<B, CallFailure>) -> CallOutput<B> {
    CallOutput {
        result: out.result.and_then(f),
        log: out.log,
    }
}

/// The config text the loader made from a JSON value; `{}` should it not parse.
fn config_value(config: &str) -> Value {
    serde_json::from_str(config).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_tells_a_module_from_a_component() {
        assert_eq!(Abi::detect(b"\0asm\x01\0\0\0rest"), Ok(Abi::WasiCommand));
        assert_eq!(Abi::detect(b"\0asm\x0d\0\x01\0rest"), Ok(Abi::Component));
        assert!(Abi::detect(b"#!/bin/sh\n").is_err());
        assert!(Abi::detect(b"").is_err());
    }
}
