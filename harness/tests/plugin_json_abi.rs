//! The JSON ABI of WASI command plugins cannot drift from the WIT world: its schema
//! (docs/plugin-abi.schema.json, which PLUGINS.md documents and `tarmac plugin new --lang
//! go|zig` copies) is generated here from wit/ by walking the world's functions and every
//! type they reach, with the mapping rules of PLUGINS.md; and the host's own request and
//! answer types (harness/src/plugin/json_abi.rs) are validated against that schema.
//!
//! After a WIT change: `TARMAC_BLESS=1 cargo test -p tarmac --test plugin_json_abi`
//! rewrites the schema; review the diff like the WIT's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tarmac::plugin::bindings as wit;
use tarmac::plugin::json_abi::{self, INTERFACE, Request};
use wit_parser::{Resolve, Type, TypeDefKind, TypeId, WorldItem};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Which way a type travels: requests carry every field; answers may leave out options
/// and lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Answer,
}

struct Generator<'a> {
    resolve: &'a Resolve,
    defs: Map<String, Value>,
    seen: Vec<(String, Direction)>,
}

impl Generator<'_> {
    fn ty(&mut self, ty: &Type, dir: Direction) -> Value {
        match ty {
            Type::Bool => json!({"type": "boolean"}),
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
                json!({"type": "integer", "minimum": 0})
            }
            Type::S8 | Type::S16 | Type::S32 | Type::S64 => json!({"type": "integer"}),
            Type::F32 | Type::F64 => json!({"type": "number"}),
            Type::Char | Type::String => json!({"type": "string"}),
            Type::ErrorContext => panic!("error-context has no JSON mapping"),
            Type::Id(id) => self.type_id(*id, dir),
        }
    }

    fn type_id(&mut self, id: TypeId, dir: Direction) -> Value {
        let def = &self.resolve.types[id];
        // The world's `use types.{finding, ...}` makes aliases of the same name: follow them.
        if let TypeDefKind::Type(Type::Id(target)) = def.kind {
            return self.type_id(target, dir);
        }
        if let Some(name) = &def.name {
            self.named(id, name.clone(), dir);
            return json!({"$ref": format!("#/$defs/{name}")});
        }
        self.kind(&def.kind, dir)
    }

    /// A named WIT type becomes one `$defs` entry; a type reached from both directions
    /// would need two (its required fields differ), which the mapping does not define yet.
    fn named(&mut self, id: TypeId, name: String, dir: Direction) {
        if let Some((_, other)) = self.seen.iter().find(|(n, _)| *n == name) {
            assert_eq!(
                *other, dir,
                "WIT type {name} travels in requests and answers: give the JSON ABI a rule for it"
            );
            return;
        }
        self.seen.push((name.clone(), dir));
        let def = &self.resolve.types[id];
        let mut schema = self.kind(&def.kind.clone(), dir);
        if let Some(docs) = &def.docs.contents {
            schema["description"] = Value::String(docs.trim().to_owned());
        }
        self.defs.insert(name, schema);
    }

    fn kind(&mut self, kind: &TypeDefKind, dir: Direction) -> Value {
        match kind {
            TypeDefKind::Record(record) => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for field in &record.fields {
                    // A `*-json` string is JSON text in WIT and the value itself here.
                    let (name, mut schema) = match field.name.strip_suffix("-json") {
                        Some(bare) if field.ty == Type::String => (bare.to_owned(), json!({})),
                        _ => (field.name.clone(), self.ty(&field.ty, dir)),
                    };
                    if let Some(docs) = &field.docs.contents {
                        schema["description"] = Value::String(docs.trim().to_owned());
                    }
                    if dir == Direction::Request || !self.omittable(&field.ty) {
                        required.push(Value::String(name.clone()));
                    }
                    properties.insert(name, schema);
                }
                json!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                })
            }
            TypeDefKind::Enum(e) => {
                json!({"enum": e.cases.iter().map(|c| c.name.clone()).collect::<Vec<_>>()})
            }
            TypeDefKind::Option(inner) => {
                json!({"anyOf": [self.ty(inner, dir), {"type": "null"}]})
            }
            TypeDefKind::List(inner) => json!({"type": "array", "items": self.ty(inner, dir)}),
            TypeDefKind::Type(inner) => self.ty(inner, dir),
            other => panic!(
                "WIT {} has no JSON ABI mapping yet: add one to PLUGINS.md and to this generator",
                other.as_str()
            ),
        }
    }

    fn omittable(&self, ty: &Type) -> bool {
        let Type::Id(id) = ty else { return false };
        match &self.resolve.types[*id].kind {
            TypeDefKind::Option(_) | TypeDefKind::List(_) => true,
            TypeDefKind::Type(inner) => self.omittable(inner),
            _ => false,
        }
    }
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The schema of the JSON ABI, from the WIT world's exports.
fn generate() -> Value {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(root().join("wit")).unwrap();
    let world = resolve.select_world(&[package], Some("plugin")).unwrap();
    let package_name = resolve.packages[package].name.to_string();
    assert_eq!(
        package_name, INTERFACE,
        "json_abi::INTERFACE names another version"
    );
    let mut g = Generator {
        resolve: &resolve,
        defs: Map::new(),
        seen: Vec::new(),
    };
    let mut requests = Vec::new();
    let mut answers = Vec::new();
    let mut functions = BTreeSet::new();
    for item in resolve.worlds[world].exports.values() {
        let WorldItem::Function(f) = item else {
            panic!("the world exports something other than a function: extend the JSON ABI");
        };
        functions.insert(f.name.clone());
        let mut params = Map::new();
        for p in &f.params {
            // config is JSON text in WIT: the value itself in the request.
            let schema = if p.name == "config" {
                json!({"description": "The plugin's settings (`{}` when none)."})
            } else {
                g.ty(&p.ty, Direction::Request)
            };
            params.insert(p.name.clone(), schema);
        }
        let result = f.result.as_ref().expect("every export returns something");
        let (ok, err) = match result {
            Type::Id(id) => match &resolve.types[*id].kind {
                TypeDefKind::Result(r) => (
                    r.ok.as_ref().map(|t| g.ty(t, Direction::Answer)),
                    r.err.as_ref().map(|t| g.ty(t, Direction::Answer)),
                ),
                _ => (Some(g.ty(result, Direction::Answer)), None),
            },
            other => (Some(g.ty(other, Direction::Answer)), None),
        };
        let ok = ok.unwrap_or_else(|| json!({"type": "null"}));
        let err = err.unwrap_or_else(|| json!({"type": "string"}));
        let calls: Vec<(String, Map<String, Value>)> = if f.name == "check" {
            // Two calls: a node plugin gets one `node`, a cluster plugin every node.
            let nodes = params.remove("nodes").expect("check takes nodes");
            let mut node = params.clone();
            node.insert("node".to_owned(), nodes["items"].clone());
            let mut cluster = params;
            cluster.insert("nodes".to_owned(), nodes);
            vec![
                ("check-node".to_owned(), node),
                ("check-cluster".to_owned(), cluster),
            ]
        } else {
            vec![(f.name.clone(), params)]
        };
        for (call, mut properties) in calls {
            let mut required: Vec<String> = vec!["call".to_owned(), "interface".to_owned()];
            required.extend(properties.keys().cloned());
            properties.insert("call".to_owned(), json!({"const": call}));
            properties.insert(
                "interface".to_owned(),
                json!({"type": "string", "description": "The interface version tarmac speaks, e.g. tarmac:check@0.1.0."}),
            );
            let required: Vec<&str> = required.iter().map(String::as_str).collect();
            g.defs.insert(
                format!("{call}-request"),
                object(Value::Object(properties), &required),
            );
            requests.push(json!({"$ref": format!("#/$defs/{call}-request")}));
        }
        let answer = format!("{}-answer", f.name);
        let mut ok_form = json!({"ok": ok});
        let mut ok_required = vec!["ok"];
        let mut err_form = json!({"error": err});
        if f.name == "describe" {
            let interface = json!({"type": "string", "description": "The tarmac:check version the plugin targets, e.g. tarmac:check@0.1.0."});
            ok_form["interface"] = interface.clone();
            err_form["interface"] = interface;
            ok_required.push("interface");
        }
        g.defs.insert(
            answer.clone(),
            json!({"oneOf": [object(ok_form, &ok_required), object(err_form, &["error"])]}),
        );
        answers.push(json!({"$ref": format!("#/$defs/{answer}")}));
    }
    assert_eq!(
        functions,
        BTreeSet::from([
            "check".to_owned(),
            "describe".to_owned(),
            "validate-config".to_owned()
        ]),
        "the world's exports changed: the JSON ABI's calls must follow"
    );
    let mut defs = g.defs;
    defs.insert("request".to_owned(), json!({"oneOf": requests}));
    defs.insert("answer".to_owned(), json!({"oneOf": answers}));
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{INTERFACE}/json-abi"),
        "title": format!("The JSON ABI of {INTERFACE} WASI command plugins"),
        "description": "Generated from wit/tarmac-check.wit by harness/tests/plugin_json_abi.rs (TARMAC_BLESS=1 rewrites it); see PLUGINS.md, \"The JSON ABI\". A request is one `request` on stdin; the answer to a call is its `<function>-answer` on stdout.",
        "$defs": defs,
    })
}

fn schema_path() -> PathBuf {
    root().join("docs/plugin-abi.schema.json")
}

#[test]
fn the_committed_schema_is_the_one_the_wit_generates() {
    let mut generated = serde_json::to_string_pretty(&generate()).unwrap();
    generated.push('\n');
    if std::env::var_os("TARMAC_BLESS").is_some() {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(schema_path()).unwrap();
    assert!(
        committed == generated,
        "docs/plugin-abi.schema.json is not what wit/ generates: the WIT changed (or the \
         schema was edited by hand). Regenerate it with `TARMAC_BLESS=1 cargo test -p tarmac \
         --test plugin_json_abi`, update harness/src/plugin/json_abi.rs, the Go and Zig \
         examples and PLUGINS.md to match, and review the diff."
    );
}

/// A small JSON Schema check for the keywords the generator writes.
fn check(schema: &Value, value: &Value, defs: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return check(&defs[name], value, defs, at);
    }
    if let Some(options) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        let fits: Vec<_> = options
            .as_array()
            .unwrap()
            .iter()
            .map(|s| check(s, value, defs, at))
            .collect();
        return match fits.iter().filter(|r| r.is_ok()).count() {
            0 => Err(fits
                .into_iter()
                .filter_map(Result::err)
                .collect::<Vec<_>>()
                .join(" | ")),
            1 => Ok(()),
            _ if schema.get("anyOf").is_some() => Ok(()),
            _ => Err(format!("{at}: fits more than one of oneOf")),
        };
    }
    if let Some(want) = schema.get("const")
        && want != value
    {
        return Err(format!("{at}: {value} is not {want}"));
    }
    if let Some(cases) = schema.get("enum")
        && !cases.as_array().unwrap().contains(value)
    {
        return Err(format!("{at}: {value} is none of {cases}"));
    }
    let Some(ty) = schema.get("type").and_then(Value::as_str) else {
        return Ok(());
    };
    let fits = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        other => panic!("the checker knows no type {other}"),
    };
    if !fits {
        return Err(format!("{at}: {value} is not of type {ty}"));
    }
    if schema.get("minimum").is_some() && value.as_i64().is_some_and(|n| n < 0) {
        return Err(format!("{at}: {value} is negative"));
    }
    if let Some(items) = schema.get("items") {
        for (i, item) in value.as_array().unwrap().iter().enumerate() {
            check(items, item, defs, &format!("{at}[{i}]"))?;
        }
    }
    if ty == "object" {
        let object = value.as_object().unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for key in schema["required"].as_array().unwrap() {
            let key = key.as_str().unwrap();
            if !object.contains_key(key) {
                return Err(format!("{at}: lacks {key}"));
            }
        }
        for (key, v) in object {
            let Some(s) = properties.get(key) else {
                return Err(format!("{at}: has {key}, which the schema does not know"));
            };
            check(s, v, defs, &format!("{at}.{key}"))?;
        }
    }
    Ok(())
}

fn defs() -> Value {
    generate()["$defs"].clone()
}

/// A node with every field set, options `Some` and lists non-empty.
fn full_node() -> wit::NodeFacts {
    wit::NodeFacts {
        name: "w1".to_owned(),
        address: "198.18.0.2".to_owned(),
        roles: vec!["worker".to_owned()],
        hostname: "w1".to_owned(),
        kernel_release: "6.1.0-18-amd64".to_owned(),
        arch: "x86_64".to_owned(),
        os: wit::OsRelease {
            id: Some("debian".to_owned()),
            version_id: Some("12".to_owned()),
            pretty_name: None,
        },
        cpus: 2,
        memory_total_bytes: 4 << 30,
        swap_total_bytes: 0,
        sysctls: vec![wit::Sysctl {
            name: "vm.max_map_count".to_owned(),
            value: Some("65530".to_owned()),
        }],
        files: vec![wit::FileContent {
            path: "/etc/resolv.conf".to_owned(),
            exists: true,
            content: "nameserver 198.18.0.1\n".to_owned(),
            truncated: false,
            error: None,
        }],
        commands: vec![wit::CommandOutput {
            name: "containerd-config-dump".to_owned(),
            exit_code: Some(0),
            stdout: "version = 2\n".to_owned(),
            stderr: String::new(),
            truncated: false,
            error: Some("not run".to_owned()),
        }],
        facts_json: r#"{"identity":{"hostname":"w1"}}"#.to_owned(),
    }
}

#[test]
fn every_request_the_host_sends_fits_the_schema() {
    let defs = defs();
    let config = json!({"min": 3});
    let node: json_abi::NodeFacts = (&full_node()).into();
    let requests = [
        Request::Describe {
            interface: INTERFACE,
        },
        Request::ValidateConfig {
            interface: INTERFACE,
            config: &config,
        },
        Request::CheckNode {
            interface: INTERFACE,
            node: Box::new(node.clone()),
            config: &config,
        },
        Request::CheckCluster {
            interface: INTERFACE,
            nodes: vec![node.clone(), node],
            config: &config,
        },
    ];
    for request in &requests {
        let value: Value = serde_json::from_slice(&request.to_bytes()).unwrap();
        check(&defs["request"], &value, &defs, "request")
            .unwrap_or_else(|e| panic!("the host's request breaks the schema: {e}\n{value:#}"));
    }
}

#[test]
fn the_host_reads_exactly_the_answers_the_schema_allows() {
    let defs = defs();
    let finding = json!({
        "check": "site.x", "node": "w1", "status": "warn", "message": "m",
        "remediation": "r", "details": [{"key": "seen", "value": {"a": [1]}}],
    });
    let minimal = json!({"check": "site.x", "status": "pass", "message": "m", "remediation": ""});
    let metadata = json!({
        "id": "site.x", "name": "X", "version": "1.0.0", "description": "d", "scope": "cluster",
        "requirements": {"files": ["/etc/hosts"], "sysctls": [], "commands": [{"name": "c", "argv": ["c"]}]},
    });
    let good = [
        ("check-answer", json!({"ok": [finding, minimal]})),
        ("check-answer", json!({"error": "cannot judge"})),
        ("validate-config-answer", json!({"ok": null})),
        (
            "describe-answer",
            json!({"interface": INTERFACE, "ok": metadata}),
        ),
    ];
    for (def, answer) in &good {
        check(&defs[*def], answer, &defs, def).unwrap_or_else(|e| panic!("{def}: {e}"));
        let bytes = serde_json::to_vec(answer).unwrap();
        let parsed = match *def {
            "check-answer" => json_abi::check_answer(&bytes).map(|_| ()),
            "validate-config-answer" => json_abi::validate_answer(&bytes).map(|_| ()),
            _ => json_abi::describe_answer(&bytes).map(|_| ()),
        };
        parsed.unwrap_or_else(|e| panic!("the host refuses a schema-valid {def}: {e}\n{answer}"));
    }
    // What the schema refuses, the host refuses too.
    let bad = [
        json!({"ok": [{"check": "x", "status": "pass", "message": "m"}]}),
        json!({"ok": [{"check": "x", "status": "critical", "message": "m", "remediation": ""}]}),
        json!({"ok": [{"check": "x", "status": "pass", "message": "m", "remediation": "", "score": 1}]}),
        json!({"ok": [], "extra": true}),
    ];
    for answer in &bad {
        assert!(
            check(&defs["check-answer"], answer, &defs, "answer").is_err(),
            "{answer}"
        );
        let parsed = json_abi::check_answer(&serde_json::to_vec(answer).unwrap());
        assert!(
            parsed.is_err(),
            "the host accepts what the schema refuses: {answer}"
        );
    }
}

#[test]
fn the_metadata_and_findings_the_host_understands_are_all_the_schema_has() {
    // Serialize the host's answer types with every field and hold them to the schema:
    // a field added to the WIT but not to json_abi.rs (or the other way) fails here.
    let defs = defs();
    let metadata: json_abi::Metadata = serde_json::from_value(json!({
        "id": "site.x", "name": "X", "version": "1", "description": "d", "scope": "node",
        "requirements": {"files": ["/f"], "sysctls": ["a.b"], "commands": [{"name": "n", "argv": ["n"]}]},
    }))
    .unwrap();
    check(
        &defs["metadata"],
        &serde_json::to_value(&metadata).unwrap(),
        &defs,
        "metadata",
    )
    .unwrap();
    let finding: json_abi::Finding = serde_json::from_value(json!({
        "check": "site.x", "node": "w1", "status": "fail", "message": "m", "remediation": "r",
        "details": [{"key": "k", "value": 1}],
    }))
    .unwrap();
    check(
        &defs["finding"],
        &serde_json::to_value(&finding).unwrap(),
        &defs,
        "finding",
    )
    .unwrap();
    let statuses: Vec<Value> = ["pass", "skip", "warn", "fail", "error"]
        .into_iter()
        .map(|s| json!(s))
        .collect();
    assert_eq!(defs["status"]["enum"], Value::Array(statuses));
}
