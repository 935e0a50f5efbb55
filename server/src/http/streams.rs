//! The open HTTP streams: a stream outlives the request that opened it and is found again by
//! the baton its last response carried. Idle streams and over-long transactions are reaped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tidepool_protocol::Error;
use tokio::sync::OwnedMutexGuard;

use crate::auth::Access;
use crate::errors::{code, err};
use crate::http::baton::BatonKey;
use crate::session::Session;

/// What a stream holds between requests.
#[derive(Debug)]
pub struct StreamState {
    /// The sequence number the next baton must carry.
    seq: u64,
    pub session: Session,
    /// SQL texts stored on this stream.
    pub sqls: HashMap<i32, Arc<str>>,
}

#[derive(Debug)]
struct Entry {
    state: Arc<tokio::sync::Mutex<StreamState>>,
    last_used: Instant,
    /// The sequence number of the last baton issued, readable while a request holds `state`.
    issued_seq: u64,
}

/// A stream checked out for one request. Hand it back with [`HttpStreams::finish`].
#[derive(Debug)]
pub struct Lease {
    id: u64,
    pub state: OwnedMutexGuard<StreamState>,
}

/// A stream found by its baton: locked for the request, or still busy with a cursor body.
enum Resume {
    Ready(OwnedMutexGuard<StreamState>),
    Busy(Arc<tokio::sync::Mutex<StreamState>>),
}

/// Why a stream that no longer exists ended, for the error its next request gets.
#[derive(Debug, Clone, Copy)]
struct Gone {
    code: &'static str,
    at: Instant,
}

/// The registry of open HTTP streams.
#[derive(Debug)]
pub struct HttpStreams {
    key: BatonKey,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Entry>>,
    gone: Mutex<HashMap<u64, Gone>>,
    max_open: usize,
    expiry: Duration,
    txn_timeout: Duration,
}

/// How long a request waits for a stream that is still sending a cursor body.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// How long the reason a stream ended is remembered.
const GONE_MEMORY: Duration = Duration::from_secs(300);

impl HttpStreams {
    pub fn new(max_open: usize, expiry: Duration, txn_timeout: Duration) -> Self {
        HttpStreams {
            key: BatonKey::random(),
            next_id: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
            gone: Mutex::new(HashMap::new()),
            max_open,
            expiry,
            txn_timeout,
        }
    }

    /// Opens a new stream (no baton) or resumes the one a baton names.
    pub async fn acquire(
        &self,
        baton: Option<&str>,
        access: Access,
        new_session: impl FnOnce() -> Session,
    ) -> Result<Lease, Error> {
        let Some(baton) = baton else {
            return self.open_new(new_session());
        };
        let (id, seq) = self.key.check(baton).ok_or_else(|| {
            err(
                code::BATON_INVALID,
                "the baton is not one this server issued",
            )
        })?;
        let mut state = match self.try_resume(id, seq)? {
            Resume::Ready(state) => state,
            // The current baton while the stream still writes a cursor body: the client may
            // send its next request as soon as it has read the body, so wait for the stream.
            Resume::Busy(stream) => {
                let waited = tokio::time::timeout(BUSY_WAIT, stream.lock_owned()).await;
                let state = waited.map_err(|_| {
                    err(
                        code::STREAM_BUSY,
                        "the stream is still streaming a cursor body",
                    )
                })?;
                if state.seq != seq {
                    return Err(err(code::BATON_REUSED, "the baton was already used"));
                }
                state
            }
        };
        if let Some(entry) = self.open.lock().get_mut(&id) {
            entry.last_used = Instant::now();
        }
        state.session.access = access;
        Ok(Lease { id, state })
    }

    /// Locks the stream `id` for request `seq` if it is free.
    fn try_resume(&self, id: u64, seq: u64) -> Result<Resume, Error> {
        let open = self.open.lock();
        let Some(entry) = open.get(&id) else {
            drop(open);
            let gone = self
                .gone
                .lock()
                .get(&id)
                .map_or(code::STREAM_EXPIRED, |g| g.code);
            let message = if gone == code::TRANSACTION_TIMEOUT {
                "the stream's transaction ran past the server's timeout and was rolled back"
            } else {
                "the stream has expired or was closed"
            };
            return Err(err(gone, message));
        };
        match Arc::clone(&entry.state).try_lock_owned() {
            Ok(state) if state.seq == seq => Ok(Resume::Ready(state)),
            Ok(_) => Err(err(code::BATON_REUSED, "the baton was already used")),
            Err(_) if seq == entry.issued_seq && seq != 0 => {
                Ok(Resume::Busy(Arc::clone(&entry.state)))
            }
            Err(_) => Err(err(
                code::BATON_REUSED,
                "the baton is already in use by another request",
            )),
        }
    }

    fn open_new(&self, session: Session) -> Result<Lease, Error> {
        let mut open = self.open.lock();
        if open.len() >= self.max_open {
            return Err(err(
                code::STREAM_LIMIT,
                "the server has too many open streams",
            ));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(tokio::sync::Mutex::new(StreamState {
            seq: 0,
            session,
            sqls: HashMap::new(),
        }));
        let Ok(guard) = Arc::clone(&state).try_lock_owned() else {
            return Err(err(code::INTERNAL, "a new stream was already locked"));
        };
        open.insert(
            id,
            Entry {
                state,
                last_used: Instant::now(),
                issued_seq: 0,
            },
        );
        Ok(Lease { id, state: guard })
    }

    /// Advances the stream past this request and returns the baton for the next one.
    /// Called before a cursor body streams, so the client has its baton up front.
    pub fn next_baton(&self, lease: &mut Lease) -> String {
        lease.state.seq += 1;
        if let Some(entry) = self.open.lock().get_mut(&lease.id) {
            entry.issued_seq = lease.state.seq;
        }
        self.key.issue(lease.id, lease.state.seq)
    }

    /// Hands a stream back after a request: kept open (and its idle clock restarted) unless
    /// `close`, in which case it ends and its connection returns to the pool.
    pub fn finish(&self, lease: Lease, close: bool) -> Option<Lease> {
        let mut open = self.open.lock();
        if close {
            open.remove(&lease.id);
            return Some(lease);
        }
        if let Some(entry) = open.get_mut(&lease.id) {
            entry.last_used = Instant::now();
        }
        None
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        self.open.lock().len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.open.lock().is_empty()
    }

    /// Removes idle streams and streams whose transaction ran too long. Returns what they
    /// held, for the caller to drop on a blocking thread (dropping returns the connections to
    /// the pool, rolling back).
    pub fn reap(&self) -> Vec<Arc<tokio::sync::Mutex<StreamState>>> {
        let now = Instant::now();
        let mut ended = Vec::new();
        let mut gone = Vec::new();
        {
            let mut open = self.open.lock();
            let expired: Vec<(u64, &'static str)> = open
                .iter()
                .filter_map(|(id, entry)| {
                    // A stream serving a request is not idle.
                    let state = entry.state.try_lock().ok()?;
                    let timed_out = state
                        .session
                        .txn_since()
                        .is_some_and(|t| now - t > self.txn_timeout);
                    let idle = now - entry.last_used > self.expiry;
                    match (timed_out, idle) {
                        (true, _) => Some((*id, code::TRANSACTION_TIMEOUT)),
                        (false, true) => Some((*id, code::STREAM_EXPIRED)),
                        _ => None,
                    }
                })
                .collect();
            for (id, code) in expired {
                if let Some(entry) = open.remove(&id) {
                    ended.push(entry.state);
                    gone.push((id, Gone { code, at: now }));
                }
            }
        }
        let mut memory = self.gone.lock();
        memory.retain(|_, g| now - g.at < GONE_MEMORY);
        memory.extend(gone);
        ended
    }
}
