//! What the fault suites share: a seeded random source, a registry on
//! loopback whose misbehaviour the test picks, and the checks that a store
//! came out of a fault whole.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use testkit::TestEnv;

use super::{image_blobs, md_in, ok_in};

/// splitmix64: small, seedable, good enough to pick delays and operations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The seed a suite uses: `FAULTS_SEED` when set (to replay a failure),
/// otherwise the clock's; either way printed.
pub fn seed(suite: &str) -> u64 {
    let seed = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{suite}: FAULTS_SEED={seed}");
    seed
}

/// How a [`Registry`] misbehaves when the layer blob is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serves everything, the layer slowly (so a kill lands mid-download).
    None,
    /// Sends the headers and half the layer, then stalls.
    Stall,
    /// Sends half the layer, then resets the connection (RST).
    Reset,
    /// Redirects the layer to another loopback address and port.
    Redirect,
    /// Redirects the layer to itself, forever.
    RedirectLoop,
    /// Declares the right length, then sends garbage after it.
    TrailingGarbage,
    /// Declares and sends more than the manifest's size, the right bytes
    /// first.
    Oversized,
}

/// A registry on 127.0.0.1 serving one image as `app` (any tag), with a
/// [`Fault`] on its layer blob; counts the requests, and notes whether the
/// redirect target ever saw an `Authorization` header.
pub struct Registry {
    pub addr: String,
    pub requests: Arc<AtomicUsize>,
    pub leaked_auth: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

struct Image {
    manifest: String,
    blobs: HashMap<String, Vec<u8>>,
    layer: String,
}

impl Registry {
    /// Serves the image `tar` (imported into the store `source` first).
    pub fn start(env: &TestEnv, tar: &str, fault: Fault) -> Self {
        if !env.path("source/images").exists() {
            ok_in(env, "source", &["import", tar, "img"]);
        }
        let (manifest, blobs) = image_blobs(&env.path("source"));
        let layer = blobs
            .iter()
            .filter(|(d, _)| **d != manifest)
            .max_by_key(|(_, b)| b.len())
            .map(|(d, _)| d.clone())
            .unwrap();
        let image = Arc::new(Image {
            manifest,
            blobs,
            layer,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let leaked_auth = Arc::new(AtomicBool::new(false));
        // The redirect target: another loopback address, another port.
        let other = TcpListener::bind("127.0.0.2:0").unwrap();
        let other_addr = other.local_addr().unwrap().to_string();
        spawn_server(other, {
            let (image, leaked) = (image.clone(), leaked_auth.clone());
            move |req: &Req, s: &mut TcpStream| {
                if req.headers.contains_key("authorization") {
                    leaked.store(true, Ordering::SeqCst);
                }
                let digest = req.path.rsplit('/').next().unwrap_or_default();
                match image.blobs.get(digest) {
                    Some(b) => respond(s, 200, &[], b, b.len()),
                    None => respond(s, 404, &[], b"{}", 2),
                }
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (count, halt) = (requests.clone(), stop.clone());
        let me = addr.clone();
        spawn_server(listener, move |req: &Req, s: &mut TcpStream| {
            count.fetch_add(1, Ordering::SeqCst);
            serve(&image, fault, &me, &other_addr, req, s, &halt)
        });
        Registry {
            addr,
            requests,
            leaked_auth,
            stop,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Req {
    path: String,
    head: bool,
    headers: HashMap<String, String>,
}

fn spawn_server(
    listener: TcpListener,
    handler: impl Fn(&Req, &mut TcpStream) + Send + Sync + 'static,
) {
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Some(req) = read_request(&stream) else {
                    return;
                };
                handler(&req, &mut stream);
                let _ = stream.flush();
            });
        }
    });
}

fn read_request(stream: &TcpStream) -> Option<Req> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Some(Req {
        path,
        head: method == "HEAD",
        headers,
    })
}

/// Writes a one-shot response declaring `declared` bytes and sending `body`.
fn respond(s: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8], declared: usize) {
    let mut head =
        format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {declared}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

fn serve(
    image: &Image,
    fault: Fault,
    me: &str,
    other: &str,
    req: &Req,
    s: &mut TcpStream,
    stop: &AtomicBool,
) {
    let path = req.path.as_str();
    if path == "/v2/" {
        return respond(s, 200, &[], b"{}", 2);
    }
    let digest = path.rsplit('/').next().unwrap_or_default().to_string();
    if path.contains("/manifests/") {
        let bytes = &image.blobs[&image.manifest];
        let kind = "application/vnd.docker.distribution.manifest.v2+json";
        let headers = [
            ("Content-Type", kind),
            ("Docker-Content-Digest", image.manifest.as_str()),
        ];
        let body: &[u8] = if req.head { b"" } else { bytes };
        return respond(s, 200, &headers, body, bytes.len());
    }
    let Some(blob) = image.blobs.get(&digest) else {
        return respond(s, 404, &[], br#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#, 36);
    };
    if digest != image.layer {
        return respond(s, 200, &[], blob, blob.len());
    }
    let half = &blob[..blob.len() / 2];
    match fault {
        Fault::None => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                blob.len()
            );
            let _ = s.write_all(head.as_bytes());
            for chunk in blob.chunks(16 << 10) {
                if s.write_all(chunk).is_err() || stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(4));
            }
        }
        Fault::Stall => {
            respond(s, 200, &[], half, blob.len());
            for _ in 0..300 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Fault::Reset => {
            respond(s, 200, &[], half, blob.len());
            let _ = s.flush();
            // SO_LINGER 0: close sends RST, not FIN.
            let _ = nix::sys::socket::setsockopt(
                &*s,
                nix::sys::socket::sockopt::Linger,
                &libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                },
            );
            return;
        }
        Fault::Redirect => {
            let to = format!("http://{other}/blobs/{digest}");
            respond(s, 307, &[("Location", &to)], b"", 0);
        }
        Fault::RedirectLoop => {
            let to = format!("http://{me}{path}");
            respond(s, 307, &[("Location", &to)], b"", 0);
        }
        Fault::TrailingGarbage => {
            let mut body = blob.clone();
            body.extend_from_slice(&[0x5a; 4096]);
            respond(s, 200, &[], &body, blob.len());
        }
        Fault::Oversized => {
            let mut body = blob.clone();
            body.extend_from_slice(&[0x5a; 4096]);
            respond(s, 200, &[], &body, body.len());
        }
    }
    let _ = s.shutdown(Shutdown::Write);
}

/// Incompressible bytes, so a gzipped layer of them is as big as they are.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A tarball with one file of `len` bytes of noise, written under `env`.
pub fn noise_tar(env: &TestEnv, len: usize) -> String {
    let data = noise(len, 0x2545_f491);
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "noise.bin", &data[..])
        .unwrap();
    let path = env.path(format!("noise-{len}.tar"));
    std::fs::write(&path, tar.into_inner().unwrap()).unwrap();
    path.display().to_string()
}

/// The store `root` holds nothing half-made: no temporary files and only
/// the layers and blobs its images use; every command still reads it.
pub fn assert_whole(env: &TestEnv, root: &str) {
    let tmp = env.path(format!("{root}/tmp"));
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    // A command sweeps what a killed one left; run one first.
    let out = md_in(env, root, &["images", "-q"]);
    assert!(out.status.success(), "images failed after a fault");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("damaged"), "{stderr}");
    let after: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        after.is_empty(),
        "tmp/ not swept: {after:?} (before: {left:?})"
    );
}
