//! A loopback JSON-RPC server (WebSocket and HTTP on one port) that answers from a recording
//! of real node sessions, for tests without network (compiled with the `replay` feature).
//!
//! The recording is `{session: {rpc_method: {params_json: response}}}` (the Python SDK's
//! integration-test data). A server replays the sessions it is given, in priority order:
//! a request is answered by the first session that recorded the same method with the same
//! parameters (hex compared without `0x` and case-insensitively). Methods whose answer does
//! not depend on their parameters within one session (`state_getRuntimeVersion`,
//! `rpc_methods`, `system_chain`, `chain_getHead`) answer the session's recording whatever
//! the parameters, and `chain_getHeader` without a hash is the head's. `state_getMetadata`
//! answers the metadata file given. Anything else is a JSON-RPC error (-32601 unknown method,
//! -32602 when the method is known but those parameters were not recorded).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{json, Value as Json};

/// Methods answered from the session whatever their parameters.
const PARAM_FREE: &[&str] = &[
    "state_getRuntimeVersion",
    "rpc_methods",
    "system_chain",
    "chain_getHead",
];

/// A recording: session → method → normalised params → response.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    sessions: BTreeMap<String, BTreeMap<String, Vec<(Json, Json)>>>,
}

fn normalise(v: &Json) -> Json {
    match v {
        Json::String(s) => {
            let t = s.strip_prefix("0x").unwrap_or(s);
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                Json::String(t.to_ascii_lowercase())
            } else {
                Json::String(s.clone())
            }
        }
        Json::Array(a) => Json::Array(a.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

impl Recording {
    /// Parses the recording's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Recording, String> {
        let root: Json = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let root = root.as_object().ok_or("recording: expected an object")?;
        let mut sessions = BTreeMap::new();
        for (name, methods) in root {
            let methods = methods
                .as_object()
                .ok_or_else(|| format!("session {name}: expected an object"))?;
            let mut out = BTreeMap::new();
            for (method, calls) in methods {
                let calls = calls
                    .as_object()
                    .ok_or_else(|| format!("{name}.{method}: expected an object"))?;
                let mut list = Vec::new();
                for (params, response) in calls {
                    let params: Json = serde_json::from_str(params)
                        .map_err(|e| format!("{name}.{method}: params {params:?}: {e}"))?;
                    list.push((normalise(&params), response.clone()));
                }
                out.insert(method.clone(), list);
            }
            sessions.insert(name.clone(), out);
        }
        Ok(Recording { sessions })
    }

    /// Session names.
    pub fn sessions(&self) -> impl Iterator<Item = &str> {
        self.sessions.keys().map(String::as_str)
    }

    /// The recorded response of `method` with `params` in `session`, if any.
    pub fn response(&self, session: &str, method: &str, params: &Json) -> Option<&Json> {
        let calls = self.sessions.get(session)?.get(method)?;
        let want = normalise(params);
        calls.iter().find(|(p, _)| *p == want).map(|(_, r)| r)
    }

    /// Replaces the recorded responses of `session.method` (a hostile-node test mutates them).
    pub fn responses_mut(&mut self, session: &str, method: &str) -> Option<&mut Vec<(Json, Json)>> {
        self.sessions.get_mut(session)?.get_mut(method)
    }

    /// Adds a response to `session` (a fact the recording lacks, such as the genesis hash).
    pub fn insert(&mut self, session: &str, method: &str, params: Json, response: Json) {
        self.sessions
            .entry(session.to_string())
            .or_default()
            .entry(method.to_string())
            .or_default()
            .insert(0, (normalise(&params), response));
    }
}

struct State {
    recording: Recording,
    sessions: Vec<String>,
    metadata_hex: String,
}

impl State {
    fn answer(&self, method: &str, params: Json) -> Result<Json, ErrorObjectOwned> {
        if method == "state_getMetadata" {
            return Ok(json!(self.metadata_hex));
        }
        let params = match params {
            Json::Null => json!([]),
            p => p,
        };
        let mut known = false;
        for s in &self.sessions {
            let Some(calls) = self.recording.sessions.get(s).and_then(|m| m.get(method)) else {
                continue;
            };
            known = true;
            let head_header = method == "chain_getHeader"
                && matches!(
                    params.as_array().map(Vec::as_slice),
                    Some([]) | Some([Json::Null])
                );
            let found = if head_header {
                self.recording.response(s, method, &json!([null]))
            } else {
                self.recording.response(s, method, &params)
            };
            let found = found.or_else(|| {
                PARAM_FREE
                    .contains(&method)
                    .then(|| calls.first().map(|(_, r)| r))
                    .flatten()
            });
            if let Some(r) = found {
                return to_result(r);
            }
        }
        if known {
            Err(ErrorObjectOwned::owned(
                -32602,
                format!("replay: {method} was not recorded with params {params}"),
                None::<()>,
            ))
        } else {
            Err(ErrorObjectOwned::owned(
                -32601,
                format!("replay: method {method} not found"),
                None::<()>,
            ))
        }
    }
}

fn to_result(r: &Json) -> Result<Json, ErrorObjectOwned> {
    if let Some(result) = r.get("result") {
        return Ok(result.clone());
    }
    if let Some(err) = r.get("error") {
        let code = err.get("code").and_then(Json::as_i64).unwrap_or(-32000) as i32;
        let message = err
            .get("message")
            .and_then(Json::as_str)
            .unwrap_or("error")
            .to_string();
        return Err(ErrorObjectOwned::owned(code, message, None::<()>));
    }
    Err(ErrorObjectOwned::owned(
        -32603,
        "replay: this response was not recorded in full",
        None::<()>,
    ))
}

/// A running replay server; stops when dropped.
pub struct ReplayServer {
    addr: SocketAddr,
    handle: ServerHandle,
}

impl ReplayServer {
    /// Serves `sessions` of `recording` (first match wins) and `metadata` on
    /// `127.0.0.1:0`.
    pub async fn start(
        recording: Recording,
        sessions: &[&str],
        metadata: &[u8],
    ) -> std::io::Result<ReplayServer> {
        Self::start_on(recording, sessions, metadata, 0).await
    }

    /// As [`ReplayServer::start`], on `127.0.0.1:port` (a restart test reuses a port).
    pub async fn start_on(
        recording: Recording,
        sessions: &[&str],
        metadata: &[u8],
        port: u16,
    ) -> std::io::Result<ReplayServer> {
        let state = Arc::new(State {
            sessions: sessions.iter().map(|s| s.to_string()).collect(),
            metadata_hex: format!("0x{}", hex::encode(metadata)),
            recording,
        });
        let mut methods: Vec<String> = vec!["state_getMetadata".into()];
        for s in &state.sessions {
            if let Some(m) = state.recording.sessions.get(s) {
                methods.extend(m.keys().cloned());
            }
        }
        methods.sort();
        methods.dedup();
        let mut module = RpcModule::new(state.clone());
        for method in methods {
            let name: &'static str = Box::leak(method.into_boxed_str());
            module
                .register_method(name, move |params, state, _| {
                    let params: Json = params
                        .as_str()
                        .and_then(|p| serde_json::from_str(p).ok())
                        .unwrap_or(Json::Null);
                    state.answer(name, params)
                })
                .map_err(std::io::Error::other)?;
        }
        let server = Server::builder()
            .max_response_body_size(64 << 20)
            .build(("127.0.0.1", port))
            .await?;
        let addr = server.local_addr()?;
        let handle = server.start(module);
        Ok(ReplayServer { addr, handle })
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving.
    pub fn stop(&self) {
        let _ = self.handle.stop();
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.stop();
    }
}
