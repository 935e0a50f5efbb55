//! Opening a database: a URL (remote `http(s)://`, `ws(s)://`, `libsql://`, or local `file:`,
//! `:memory:`) or a local path, with options whose defaults are the core's.

use std::sync::Arc;
use std::time::Duration;

use crate::changes::{ChangeListener, ChangeListenerHandle, Notifier};
use crate::connection::Connection;
use crate::error::TidepoolError;
use crate::runtime;

/// Settings for [`Database`]; every field left at its default keeps the core's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct DatabaseOptions {
    /// The JWT sent with every request (remote).
    #[uniffi(default = None)]
    pub auth_token: Option<String>,
    /// Time to open a connection (remote; default 10 s).
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<u64>,
    /// Time for one attempt of one request (remote; default 30 s).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// Time for a request including its retries (remote; default 60 s).
    #[uniffi(default = None)]
    pub total_timeout_ms: Option<u64>,
    /// Most attempts for a request that is safe to retry (remote; default 4, 1 turns retries
    /// off).
    #[uniffi(default = None)]
    pub max_attempts: Option<u32>,
    /// Trust only these PEM CA certificates (remote; default: the bundled webpki roots).
    #[uniffi(default = None)]
    pub ca_pem: Option<String>,
    /// Speak JSON instead of protobuf (remote).
    #[uniffi(default = false)]
    pub force_json: bool,
    /// Reader connections beside the writer (local; default 4).
    #[uniffi(default = None)]
    pub read_connections: Option<u32>,
    /// How long a statement waits for another process's lock (local; default 5 s).
    #[uniffi(default = None)]
    pub busy_timeout_ms: Option<u64>,
}

impl DatabaseOptions {
    fn apply(self, mut b: tidepool::Builder) -> tidepool::Builder {
        let ms = Duration::from_millis;
        if let Some(token) = self.auth_token {
            b = b.auth_token(token);
        }
        if let Some(t) = self.connect_timeout_ms {
            b = b.connect_timeout(ms(t));
        }
        if let Some(t) = self.request_timeout_ms {
            b = b.request_timeout(ms(t));
        }
        if let Some(t) = self.total_timeout_ms {
            b = b.total_timeout(ms(t));
        }
        if let Some(n) = self.max_attempts {
            b = b.max_attempts(n);
        }
        if let Some(pem) = self.ca_pem {
            b = b.custom_ca_pem(pem);
        }
        if self.force_json {
            b = b.force_json();
        }
        if let Some(n) = self.read_connections {
            b = b.read_connections(n as usize);
        }
        if let Some(t) = self.busy_timeout_ms {
            b = b.busy_timeout(ms(t));
        }
        b
    }
}

/// A database, shared by all its connections.
#[derive(Debug, uniffi::Object)]
pub struct Database {
    db: tidepool::Database,
    notifier: Arc<Notifier>,
}

impl Database {
    fn build(builder: tidepool::Builder) -> Result<Arc<Self>, TidepoolError> {
        let _runtime = runtime::enter();
        Ok(Arc::new(Database {
            db: builder.build()?,
            notifier: Arc::new(Notifier::default()),
        }))
    }
}

#[uniffi::export]
impl Database {
    /// A database at `url`: `http://`, `https://`, `ws://`, `wss://`, `libsql://`, or a local
    /// `file:path`, `:memory:`. Validates the URL and options; does no I/O.
    #[uniffi::constructor]
    pub fn new(url: String, options: DatabaseOptions) -> Result<Arc<Self>, TidepoolError> {
        Self::build(options.apply(tidepool::Builder::new(url)))
    }

    /// A local database in the file at `path` (created on first use), taken as it is rather
    /// than parsed as a URL.
    #[uniffi::constructor]
    pub fn local(path: String, options: DatabaseOptions) -> Result<Arc<Self>, TidepoolError> {
        Self::build(options.apply(tidepool::Builder::local(path)))
    }

    /// A new connection. Cheap: no I/O until its first statement.
    pub fn connect(&self) -> Arc<Connection> {
        let _runtime = runtime::enter();
        Arc::new(Connection::new(
            self.db.connect(),
            Arc::clone(&self.notifier),
        ))
    }

    /// The server URL without credentials, or the local `file:` URL (`:memory:`).
    pub fn url(&self) -> String {
        self.db.url().to_owned()
    }

    /// Whether the database is on this device.
    pub fn is_local(&self) -> bool {
        self.db.is_local()
    }

    /// Calls `listener` after every committed change made through this database's
    /// connections, on a thread of its own, until the handle is cancelled or dropped.
    pub fn add_change_listener(
        &self,
        listener: Box<dyn ChangeListener>,
    ) -> Arc<ChangeListenerHandle> {
        Arc::new(self.notifier.add(listener))
    }
}
