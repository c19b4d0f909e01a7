//! `arena hub` as a user runs it: a real server process, upload, download, hash.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

const TOKEN: &str = "cli-test-token-0123";
const HOTKEY: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arena(home: &Path, endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_TOKEN", TOKEN)
        .env_remove("ARENA_CONFIG")
        .output()
        .expect("arena runs")
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn serve_upload_download_hash() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        format!("[[user]]\nname = \"alice\"\ntoken = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let endpoint = format!("http://{addr}");
    let child = Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("--home")
        .arg(&home)
        .args([
            "hub",
            "serve",
            "--addr",
            &addr,
            "--inline-threshold",
            "1000",
            "--users",
        ])
        .arg(&users)
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
    std::fs::write(model.join("model.bin"), vec![42u8; 5000]).unwrap();
    let model_str = model.to_str().unwrap();

    let uploaded = json_of(&arena(
        &home,
        &endpoint,
        &[
            "hub",
            "upload",
            model_str,
            "alice/cli",
            "--private",
            "--json",
        ],
    ));
    let commit = uploaded["commit"].as_str().unwrap().to_string();
    assert_eq!(commit.len(), 40);

    let cache = dir.path().join("cache");
    let cache_str = cache.to_str().unwrap();
    let refused = arena(
        &home,
        &endpoint,
        &[
            "hub",
            "download",
            "alice/cli",
            "--revision",
            &commit,
            "--max-bytes",
            "4000",
            "--cache",
            cache_str,
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("over the limit"));
    assert!(!cache.exists());

    let downloaded = json_of(&arena(
        &home,
        &endpoint,
        &[
            "hub",
            "download",
            "alice/cli",
            "--revision",
            &commit,
            "--cache",
            cache_str,
            "--hotkey",
            HOTKEY,
            "--json",
        ],
    ));
    let snapshot = Path::new(downloaded["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(snapshot.join("model.bin")).unwrap(),
        vec![42u8; 5000]
    );

    let hashed = json_of(&arena(
        &home,
        &endpoint,
        &["hub", "hash", model_str, "--hotkey", HOTKEY, "--json"],
    ));
    assert_eq!(hashed["directory_hash"], uploaded["directory_hash"]);
    assert_eq!(hashed["directory_hash"], downloaded["directory_hash"]);
    assert_eq!(hashed["secure_hash"], downloaded["secure_hash"]);
    assert_eq!(hashed["secure_hash"].as_str().unwrap().len(), 44);

    let bad = arena(
        &home,
        &endpoint,
        &["hub", "hash", model_str, "--hotkey", "not-an-address"],
    );
    assert!(!bad.status.success());
}
