//! A TCP proxy between the client and the server that can drop connections, lose responses
//! (the request reached the server, the answer never comes back) and delay traffic.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct Faults {
    /// Responses to swallow: the connection closes as the server starts answering.
    lose_responses: AtomicUsize,
    /// Delay added before forwarding each chunk toward the client, in milliseconds.
    delay_ms: AtomicU64,
    /// The pumps of live connections, to cut them all at once.
    live: Mutex<Vec<AbortHandle>>,
    /// Connections accepted so far.
    accepted: AtomicUsize,
    /// Responses to let through before the lost ones.
    skip_responses: AtomicUsize,
    /// New connections are closed at once (the server is unreachable).
    refuse: std::sync::atomic::AtomicBool,
}

pub struct Proxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    accept: AbortHandle,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let faults = Arc::new(Faults::default());
        let shared = Arc::clone(&faults);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                if shared.refuse.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let faults = Arc::clone(&shared);
                let pump = tokio::spawn(pump(client, server, faults));
                shared.live.lock().expect("lock").push(pump.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            addr,
            faults,
            accept,
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Drops every open connection (both directions, at once).
    pub fn cut_all(&self) {
        for pump in self.faults.live.lock().expect("lock").drain(..) {
            pump.abort();
        }
    }

    /// The next `n` responses are lost after their requests reach the server.
    pub fn lose_next_responses(&self, n: usize) {
        self.faults.lose_responses.store(n, Ordering::SeqCst);
    }

    /// After `skip` more responses, the next one is lost.
    pub fn lose_response_after(&self, skip: usize) {
        self.faults.skip_responses.store(skip, Ordering::SeqCst);
        self.faults.lose_responses.store(1, Ordering::SeqCst);
    }

    /// Makes the server unreachable (open connections dropped, new ones closed), or
    /// reachable again.
    pub fn set_unreachable(&self, unreachable: bool) {
        self.faults.refuse.store(unreachable, Ordering::SeqCst);
        if unreachable {
            self.cut_all();
        }
    }

    pub fn delay_responses(&self, delay: Duration) {
        self.faults
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn accepted(&self) -> usize {
        self.faults.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

async fn pump(client: TcpStream, server: TcpStream, faults: Arc<Faults>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let skipped = faults
                .skip_responses
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let lose = !skipped
                && faults
                    .lose_responses
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            if lose {
                break;
            }
            let delay = faults.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    // Whichever direction ends first ends the connection, as a reset would.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
