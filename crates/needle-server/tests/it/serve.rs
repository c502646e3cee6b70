//! `serve_with_shutdown` on a real socket (127.0.0.1, port 0).

use needle_server::{serve_with_shutdown, AppState, Config};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn serves_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        http_addr: "127.0.0.1:0".into(),
        ..Config::default()
    };
    let engine = Arc::new(needle_service::Service::open(config.service_config(true)).expect("engine"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_shutdown(listener, AppState::new(engine, config), async {
        let _ = rx.await;
    }));

    // A plain blocking client, off the runtime's threads.
    let response = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"GET /health/live HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    })
    .await
    .expect("join")
    .expect("HTTP exchange");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("x-request-id"), "{response}");
    assert!(response.ends_with("{\"status\":\"ok\"}"), "{response}");

    tx.send(()).expect("server still running");
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
}
