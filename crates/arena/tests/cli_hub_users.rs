//! `arena hub user add|list|remove` against a running `arena hub serve`: the printed token
//! works without restarting the server, is stored hashed, and writes only its own namespace.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arena(home: &Path, endpoint: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_TOKEN", token)
        .env_remove("ARENA_CONFIG")
        .output()
        .expect("arena runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn a_user_added_to_a_running_hub_can_upload_to_its_namespace_only() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let root = dir.path().join("hub-root");
    let root_str = root.to_str().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let endpoint = format!("http://{addr}");
    // No users file at all: the server starts with no accounts.
    let child = Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("--home")
        .arg(&home)
        .args(["hub", "serve", "--addr", &addr, "--root", root_str])
        .env_remove("ARENA_CONFIG")
        .spawn()
        .unwrap();
    let _server = Server(child);
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(&addr).is_ok()
    });
    assert!(up, "hub did not start on {addr}");

    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), b"{\"a\": 1}").unwrap();
    std::fs::write(model.join("model.bin"), vec![7u8; 3000]).unwrap();
    let model_str = model.to_str().unwrap();

    let added = arena(
        &home,
        &endpoint,
        "",
        &["hub", "user", "add", "dora", "--root", root_str],
    );
    let printed = stdout(&added);
    let token = printed
        .lines()
        .last()
        .expect("a token line")
        .trim()
        .to_string();
    assert!(
        token.starts_with("arena_") && token.len() > 40,
        "{printed:?}"
    );
    let listed = stdout(&arena(
        &home,
        &endpoint,
        "",
        &["hub", "user", "list", "--root", root_str],
    ));
    assert_eq!(listed, "dora\n");

    // The token uploads to dora's namespace through the running server.
    let uploaded = stdout(&arena(
        &home,
        &endpoint,
        &token,
        &["hub", "upload", model_str, "dora/first", "--json"],
    ));
    let uploaded: serde_json::Value = serde_json::from_str(&uploaded).unwrap();
    let commit = uploaded["commit"].as_str().unwrap();
    let info = stdout(&arena(&home, &endpoint, "", &["hub", "info", "dora/first"]));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["sha"], commit);

    // Not elsewhere (403), and a token nobody was given is refused (401).
    let foreign = arena(
        &home,
        &endpoint,
        &token,
        &["hub", "upload", model_str, "erin/m"],
    );
    assert!(!foreign.status.success());
    assert!(
        String::from_utf8_lossy(&foreign.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&foreign.stderr)
    );
    let wrong = format!("arena_{}", "x".repeat(43));
    let refused = arena(
        &home,
        &endpoint,
        &wrong,
        &["hub", "upload", model_str, "dora/second"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));

    // The users file keeps the hash only, mode 0600; a second add is refused and says how to
    // rotate, and leaves the token working.
    let file = root.join("users.toml");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.contains("dora") && !stored.contains(&token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = arena(
        &home,
        &endpoint,
        "",
        &["hub", "user", "add", "dora", "--root", root_str],
    );
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--rotate"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stored);
    stdout(&arena(
        &home,
        &endpoint,
        &token,
        &["hub", "visibility", "dora/first", "--private"],
    ));

    // Removed: the token stops working within a second, without a restart.
    stdout(&arena(
        &home,
        &endpoint,
        "",
        &["hub", "user", "remove", "dora", "--root", root_str],
    ));
    std::thread::sleep(Duration::from_millis(1200));
    let gone = arena(
        &home,
        &endpoint,
        &token,
        &["hub", "visibility", "dora/first", "--public"],
    );
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("401"));
}
