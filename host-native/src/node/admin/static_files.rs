//! Files under one directory over HTTP, for the web visualizer: `GET` and `HEAD`
//! only, nothing outside the root (no `..`, no absolute or encoded escapes, no
//! symbolic links leading out).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::http::{self, Method, Request, Response};
use super::server::{self, ServerLimits};

/// Larger files are refused rather than read into memory.
pub const FILE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Serve the files under `root` until `shutdown` flips to true (or its sender is dropped).
pub async fn serve_static(listener: TcpListener, root: PathBuf, shutdown: watch::Receiver<bool>) {
    let root = match tokio::fs::canonicalize(&root).await {
        Ok(root) => root,
        Err(error) => {
            // Serving 404s beats failing the node over its visualizer.
            tracing::warn!(root = %root.display(), %error, "static files: cannot open the directory");
            root
        }
    };
    let root = Arc::new(root);
    let handle = move |request: Request| {
        let root = root.clone();
        async move { respond(&root, &request).await }
    };
    server::run(listener, ServerLimits::default(), shutdown, handle).await;
}

/// The request path as a path relative to the root, or why it is refused.
pub fn relative_path(request_path: &str) -> Result<PathBuf, &'static str> {
    let decoded = http::percent_decode(request_path, false).ok_or("the path is badly encoded")?;
    let inside = decoded.strip_prefix('/').ok_or("the path does not start with /")?;
    let mut relative = PathBuf::new();
    let segments: Vec<&str> = inside.split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        if segment.is_empty() && !last {
            return Err("the path has an empty segment");
        }
        if *segment == ".." || *segment == "." {
            return Err("the path leaves its directory");
        }
        if segment.contains(['\\', '\0', ':']) {
            return Err("the path has a character files here are not named with");
        }
        relative.push(segment);
    }
    if inside.is_empty() || inside.ends_with('/') {
        relative.push("index.html");
    }
    Ok(relative)
}

pub fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|extension| extension.to_str()).unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "txt" | "scenario" | "md" => "text/plain; charset=utf-8",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

async fn respond(root: &Path, request: &Request) -> Response {
    if !matches!(request.method, Method::Get | Method::Head) {
        return Response::method_not_allowed("GET, HEAD");
    }
    let relative = match relative_path(&request.path) {
        Ok(relative) => relative,
        Err(message) => return Response::error(400, "bad-request", message),
    };
    let not_found = || Response::error(404, "not-found", "no such file");
    let mut path = root.join(&relative);
    if tokio::fs::metadata(&path).await.is_ok_and(|metadata| metadata.is_dir()) {
        path.push("index.html");
    }
    // Resolving links and checking the result keeps a link inside the root from
    // leading out of it.
    let Ok(resolved) = tokio::fs::canonicalize(&path).await else {
        return not_found();
    };
    if !resolved.starts_with(root) {
        return not_found();
    }
    match tokio::fs::metadata(&resolved).await {
        Ok(metadata) if metadata.is_file() && metadata.len() > FILE_MAX_BYTES => {
            return Response::error(500, "error", "the file is too large to serve");
        }
        Ok(metadata) if metadata.is_file() => {}
        _ => return not_found(),
    }
    match tokio::fs::read(&resolved).await {
        Ok(body) => Response::new(200, content_type(&resolved), body),
        Err(_) => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::server::tests::{exchange, split_answer};
    use super::*;

    #[test]
    fn traversal_is_refused() {
        assert_eq!(relative_path("/"), Ok(PathBuf::from("index.html")));
        assert_eq!(relative_path("/app.js"), Ok(PathBuf::from("app.js")));
        assert_eq!(relative_path("/pkg/core.wasm"), Ok(PathBuf::from("pkg/core.wasm")));
        assert_eq!(relative_path("/docs/"), Ok(PathBuf::from("docs/index.html")));
        assert_eq!(relative_path("/a%20b.txt"), Ok(PathBuf::from("a b.txt")));
        for bad in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/a/%2e%2e%2f%2e%2e/b",
            "//etc/passwd",
            "/%2fetc/passwd",
            "/./a",
            "/..%5cwindows",
            "/c:/x",
            "/a%00b",
            "/%zz",
            "relative",
        ] {
            assert!(relative_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_types_fit_the_browser() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("worker.mjs", "text/javascript; charset=utf-8"),
            ("core.wasm", "application/wasm"),
            ("style.CSS", "text/css; charset=utf-8"),
            ("data.json", "application/json"),
            ("logo.svg", "image/svg+xml"),
            ("blob", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    #[tokio::test]
    async fn files_are_served_and_nothing_outside() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let root = outside.path().join("web");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(root.join("pkg/core.wasm"), b"\0asm\x01\0\0\0").unwrap();
        std::fs::write(root.join("pkg/index.html"), "pkg").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("link.txt")).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(serve_static(listener, root, shutdown_rx));
        let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");

        let answer = exchange(address, get("/").as_bytes()).await;
        assert_eq!(split_answer(&answer), (200, "<h1>hi</h1>"));
        assert!(answer.contains("Content-Type: text/html; charset=utf-8\r\n"));
        let answer = exchange(address, get("/pkg/core.wasm").as_bytes()).await;
        assert!(answer.contains("Content-Type: application/wasm\r\n") && answer.contains("Content-Length: 8\r\n"));
        assert_eq!(split_answer(&exchange(address, get("/pkg").as_bytes()).await), (200, "pkg"));
        assert_eq!(split_answer(&exchange(address, get("/missing.js").as_bytes()).await).0, 404);
        assert_eq!(split_answer(&exchange(address, get("/../secret.txt").as_bytes()).await).0, 400);
        assert_eq!(split_answer(&exchange(address, get("/%2e%2e/secret.txt").as_bytes()).await).0, 400);
        #[cfg(unix)]
        assert_eq!(split_answer(&exchange(address, get("/link.txt").as_bytes()).await).0, 404);
        let answer = exchange(address, b"HEAD / HTTP/1.1\r\n\r\n").await;
        assert_eq!(split_answer(&answer), (200, ""));
        assert!(answer.contains("Content-Length: 11\r\n"));
        assert_eq!(split_answer(&exchange(address, b"POST / HTTP/1.1\r\n\r\n").await).0, 405);

        shutdown_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), task).await.expect("stops").unwrap();
    }
}
