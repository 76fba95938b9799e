//! Guest SDK for [Reprise](../../README.md) durable WebAssembly functions,
//! implementing guest ABI v1 (`abi/ABI.md`).
//!
//! A guest is a `cdylib` built for `wasm32-wasi` (`wasm32-wasip1` on Rust 1.78
//! and later). Its entry function reads its input, makes host calls whose
//! results the host journals, and returns a result:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn handle(input: &[u8]) -> Result<Vec<u8>, reprise::Error> {
//!     let child = reprise::invoke("square", input)?; // a child execution
//!     reprise::sleep(Duration::from_secs(60))?;       // a durable timer
//!     let squared = child.wait()?;                    // a rejection propagates
//!     Ok(squared)
//! }
//!
//! reprise::entry!(run, handle);
//! ```
//!
//! After a crash the host runs the entry again from the start and answers
//! every journaled call ([`invoke`], [`after`], [`promise`], [`http()`],
//! [`any`], [`now`], [`random`]) from its journal, so the function must make
//! the same calls in the same order with the same arguments.

#![warn(missing_docs)]

pub mod base64;
mod http;
pub mod json;
mod sys;

pub use http::{http, Request, Response};

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The version of the guest ABI this crate implements.
pub const ABI_VERSION: u32 = 1;

/// An error from a host call, or a promise that did not resolve.
///
/// The codes that can only mean a bug in the guest (bad handle, bad memory,
/// bad argument, already set) are not returned: the SDK panics on them, which
/// traps the attempt, as ABI.md suggests. Their variants exist for
/// [`Error::from_code`] and for code that calls `sys`-level functions itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// -1: the handle was not returned by this attempt.
    BadHandle,
    /// -2: a (pointer, length) lies outside memory.
    BadMemory,
    /// -3: a payload is over the host's limit (1 MiB by default).
    TooLarge,
    /// -4: a malformed argument (empty name, bad http JSON, ...).
    BadArgument,
    /// -5: `value` of a promise that was not awaited to settlement.
    NotSettled,
    /// -6: a per-execution limit the guest can recover from.
    Limit,
    /// -7: `resolve` or `reject` was called before.
    AlreadySet,
    /// -8: a capability not granted.
    Disabled,
    /// Another negative code, from a newer host.
    Unknown(i32),
    /// A promise that did not resolve: it was rejected, canceled or timed
    /// out. `value` is the rejection value, usually `{"error": "..."}`.
    Rejected {
        /// How the promise settled (never [`State::Resolved`]).
        state: State,
        /// The rejection value as the host holds it.
        value: Vec<u8>,
    },
    /// An error of the guest's own, e.g. `Err("no such order".into())`.
    Message(String),
}

impl Error {
    /// The error for a negative ABI result code; `None` for 0 or more.
    pub fn from_code(code: i32) -> Option<Error> {
        Some(match code {
            0.. => return None,
            -1 => Error::BadHandle,
            -2 => Error::BadMemory,
            -3 => Error::TooLarge,
            -4 => Error::BadArgument,
            -5 => Error::NotSettled,
            -6 => Error::Limit,
            -7 => Error::AlreadySet,
            -8 => Error::Disabled,
            c => Error::Unknown(c),
        })
    }

    /// The ABI code of a host error; `None` for `Rejected` and `Message`.
    pub fn code(&self) -> Option<i32> {
        Some(match self {
            Error::BadHandle => -1,
            Error::BadMemory => -2,
            Error::TooLarge => -3,
            Error::BadArgument => -4,
            Error::NotSettled => -5,
            Error::Limit => -6,
            Error::AlreadySet => -7,
            Error::Disabled => -8,
            Error::Unknown(c) => *c,
            Error::Rejected { .. } | Error::Message(_) => return None,
        })
    }

    /// A guest error with this message.
    pub fn msg(message: impl Into<String>) -> Error {
        Error::Message(message.into())
    }

    /// The human-readable message: for `Rejected`, the `"error"` field of the
    /// value when it is a JSON object with one, else the value as text.
    pub fn message(&self) -> String {
        match self {
            Error::Rejected { value, .. } => match json::parse(value) {
                Some(v) => match v.get("error").and_then(json::Value::as_str) {
                    Some(m) => m.to_string(),
                    None => String::from_utf8_lossy(value).into_owned(),
                },
                None => String::from_utf8_lossy(value).into_owned(),
            },
            Error::Message(m) => m.clone(),
            Error::Unknown(c) => format!("host error {}", c),
            e => code_text(e.code().unwrap_or(0)).to_string(),
        }
    }

    /// The value an execution that fails with this error rejects with: a
    /// `Rejected` error's own value (so a child's rejection propagates as it
    /// is), otherwise `{"error":"<message>"}`.
    pub fn to_value(&self) -> Vec<u8> {
        match self {
            Error::Rejected { value, .. } => value.clone(),
            e => {
                let mut s = String::from("{\"error\":");
                json::write_quoted(&mut s, e.to_string().as_bytes());
                s.push('}');
                s.into_bytes()
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.message();
        match self {
            Error::Rejected { state, .. } if *state != State::Rejected => {
                if m.is_empty() {
                    write!(f, "{}", state)
                } else {
                    write!(f, "{}: {}", state, m)
                }
            }
            Error::Rejected { .. } | Error::Message(_) => f.write_str(&m),
            _ => write!(f, "reprise: {}", m),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(m: String) -> Error {
        Error::Message(m)
    }
}

impl From<&str> for Error {
    fn from(m: &str) -> Error {
        Error::Message(m.to_string())
    }
}

fn code_text(code: i32) -> &'static str {
    match code {
        -1 => "bad handle",
        -2 => "bad memory",
        -3 => "payload too large",
        -4 => "bad argument",
        -5 => "promise not settled",
        -6 => "execution limit reached",
        -7 => "outcome already set",
        -8 => "capability not granted",
        _ => "unknown error",
    }
}

/// Turns a host result into `Ok(result)` or an error; panics (traps) on the
/// codes that can only mean a bug in the guest.
pub(crate) fn check(op: &str, code: i32) -> Result<i32, Error> {
    match code {
        0.. => Ok(code),
        -1 | -2 | -4 | -7 => panic!("reprise: {}: {} ({})", op, code_text(code), code),
        c => Err(Error::from_code(c).unwrap_or(Error::Unknown(c))),
    }
}

/// Length-then-copy: asks for the length, allocates, asks again.
fn read_bytes(op: &str, call: impl Fn(*mut u8, i32) -> i32) -> Result<Vec<u8>, Error> {
    let n = check(op, call(std::ptr::null_mut(), 0))? as usize;
    let mut b = Vec::with_capacity(n);
    if n > 0 {
        let m = check(op, call(b.as_mut_ptr(), n as i32))? as usize;
        assert!(m == n, "reprise: {}: length changed from {} to {}", op, n, m);
        // Safety: the host wrote n bytes into b's buffer.
        unsafe { b.set_len(n) };
    }
    Ok(b)
}

/// How a promise settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Resolved with a value.
    Resolved = 1,
    /// Rejected with a value.
    Rejected = 2,
    /// Rejected: canceled.
    Canceled = 3,
    /// Rejected: timed out.
    TimedOut = 4,
}

impl State {
    /// `"resolved"`, `"rejected"`, `"canceled"` or `"timedout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Resolved => "resolved",
            State::Rejected => "rejected",
            State::Canceled => "canceled",
            State::TimedOut => "timedout",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A durable promise this execution started: a child execution, a timer, a
/// promise settled from outside or an HTTP request. It is a handle (a small
/// integer, valid until the attempt ends), so it is `Copy`; waiting for it
/// again is cheap and not journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Promise {
    handle: i32,
}

impl Promise {
    /// The promise with this raw handle (0 is the execution's own promise).
    pub fn from_handle(handle: i32) -> Promise {
        Promise { handle }
    }

    /// The raw handle.
    pub fn handle(self) -> i32 {
        self.handle
    }

    /// The promise's durable id, e.g. to hand to whoever must settle it.
    pub fn id(self) -> String {
        let b = read_bytes("promise_id", |buf, cap| unsafe { sys::promise_id(self.handle, buf, cap) })
            .unwrap_or_else(|e| panic!("reprise: promise_id: {}", e));
        String::from_utf8_lossy(&b).into_owned()
    }

    /// Blocks until the promise settles and returns how, without reading
    /// its value.
    pub fn settle(self) -> State {
        match check("await", unsafe { sys::await_(self.handle) }) {
            Ok(1) => State::Resolved,
            Ok(2) => State::Rejected,
            Ok(3) => State::Canceled,
            Ok(4) => State::TimedOut,
            r => panic!("reprise: await: unexpected result {:?}", r),
        }
    }

    /// The value of a settled promise (its resolved or rejection value);
    /// [`Error::NotSettled`] if it was not awaited yet.
    pub fn value(self) -> Result<Vec<u8>, Error> {
        read_bytes("value", |buf, cap| unsafe { sys::value(self.handle, buf, cap) })
    }

    /// Blocks until the promise settles. Its value if it resolved, else
    /// [`Error::Rejected`] with the state and the rejection value.
    pub fn wait(self) -> Result<Vec<u8>, Error> {
        let state = self.settle();
        let value = self.value()?;
        match state {
            State::Resolved => Ok(value),
            state => Err(Error::Rejected { state, value }),
        }
    }
}

/// This execution's input.
pub fn input() -> Vec<u8> {
    read_bytes("input", |buf, cap| unsafe { sys::input(buf, cap) }).unwrap_or_else(|e| panic!("reprise: input: {}", e))
}

/// Whether the outcome was set with [`resolve`] or [`reject`].
static SETTLED: AtomicBool = AtomicBool::new(false);

/// Sets the execution's result (once). [`entry!`] calls it with the handler's
/// result unless the handler already did.
pub fn resolve(value: &[u8]) -> Result<(), Error> {
    check("resolve", unsafe { sys::resolve(value.as_ptr(), value.len() as i32) })?;
    SETTLED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Sets the execution's rejection value (once), by convention
/// `{"error":"message"}`.
pub fn reject(value: &[u8]) -> Result<(), Error> {
    check("reject", unsafe { sys::reject(value.as_ptr(), value.len() as i32) })?;
    SETTLED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Starts the deployed function `name` as a child execution with `args` as
/// its input (JSON by convention).
pub fn invoke(name: &str, args: &[u8]) -> Result<Promise, Error> {
    let h = unsafe { sys::invoke(name.as_ptr(), name.len() as i32, args.as_ptr(), args.len() as i32) };
    check("invoke", h).map(Promise::from_handle)
}

fn nanos(d: Duration) -> i64 {
    d.as_nanos().min(i64::MAX as u128) as i64
}

/// A durable timer: a promise that resolves with an empty value after `d`
/// (rounded up to whole milliseconds). Race it with [`any`].
pub fn after(d: Duration) -> Result<Promise, Error> {
    check("sleep", unsafe { sys::sleep(nanos(d)) }).map(Promise::from_handle)
}

/// Sleeps durably for `d`: after a restart the execution still wakes up `d`
/// after it first went to sleep. Errors if the timer was canceled.
pub fn sleep(d: Duration) -> Result<(), Error> {
    after(d)?.wait().map(drop)
}

/// A promise someone outside settles by its [`Promise::id`]. It rejects as
/// [`State::TimedOut`] after `timeout`; `None` (or zero) means never.
pub fn promise(timeout: Option<Duration>) -> Result<Promise, Error> {
    check("promise", unsafe { sys::promise(timeout.map_or(0, nanos)) }).map(Promise::from_handle)
}

/// Waits for every promise, in order, and returns their values; if any did
/// not resolve, the first such error (all are still awaited).
pub fn all(promises: &[Promise]) -> Result<Vec<Vec<u8>>, Error> {
    let mut values = Vec::with_capacity(promises.len());
    let mut first = None;
    for p in promises {
        match p.wait() {
            Ok(v) => values.push(v),
            Err(e) => {
                values.push(Vec::new());
                first.get_or_insert(e);
            }
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(values),
    }
}

/// Blocks until one of the promises settles and returns its index (the
/// host journals which one won). Read it with [`Promise::wait`], which then
/// returns at once; the others keep running. Panics if `promises` is empty.
pub fn any(promises: &[Promise]) -> usize {
    assert!(!promises.is_empty(), "reprise: any of no promises");
    // A [Promise] is a little-endian i32 array, as the host expects.
    let handles: Vec<i32> = promises.iter().map(|p| p.handle).collect();
    let i = check("await_any", unsafe { sys::await_any(handles.as_ptr(), handles.len() as i32) })
        .unwrap_or_else(|e| panic!("reprise: await_any: {}", e)) as usize;
    assert!(i < promises.len(), "reprise: await_any: index {} out of range", i);
    i
}

/// Real wall-clock time (journaled), Unix nanoseconds.
pub fn now_nanos() -> i64 {
    unsafe { sys::now() }
}

/// Real wall-clock time (journaled). `std::time::SystemTime::now()` is
/// virtual inside the sandbox.
pub fn now() -> SystemTime {
    let n = now_nanos();
    if n >= 0 {
        UNIX_EPOCH + Duration::from_nanos(n as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(n.unsigned_abs())
    }
}

/// Fills `buf` with cryptographically random bytes (journaled, in calls of
/// at most 4096 bytes).
pub fn random(buf: &mut [u8]) -> Result<(), Error> {
    for chunk in buf.chunks_mut(4096) {
        check("random", unsafe { sys::random(chunk.as_mut_ptr(), chunk.len() as i32) })?;
    }
    Ok(())
}

/// This execution's id.
pub fn id() -> String {
    Promise::from_handle(0).id()
}

/// Log levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// 0
    Debug = 0,
    /// 1
    Info = 1,
    /// 2
    Warn = 2,
    /// 3
    Error = 3,
}

/// Writes a line to the host log (not again while the host replays).
pub fn log(level: Level, message: &str) {
    unsafe { sys::log(level as i32, message.as_ptr(), message.len() as i32) }
}

/// Runs a handler as the body of an entry function: passes it the input and
/// resolves with its `Ok` value or rejects with its error's
/// [`Error::to_value`], unless the handler already called [`resolve`] or
/// [`reject`]. [`entry!`] wraps it in an exported function.
pub fn run<F, T, E>(handler: F)
where
    F: FnOnce(&[u8]) -> Result<T, E>,
    T: AsRef<[u8]>,
    E: Into<Error>,
{
    let out = handler(&input());
    if SETTLED.load(Ordering::Relaxed) {
        return;
    }
    let r = match out {
        Ok(v) => match resolve(v.as_ref()) {
            Err(e) => reject(&Error::msg(format!("reprise: result: {}", e)).to_value()),
            ok => ok,
        },
        Err(e) => reject(&e.into().to_value()),
    };
    if let Err(e) = r {
        panic!("reprise: setting the outcome: {}", e);
    }
}

/// Defines an exported entry function that runs a handler with [`run`]:
/// `entry!(run, handler)` exports `run`; deploy with `--entry NAME` for
/// another name. `entry!(handler)` is `entry!(run, handler)`. The handler is
/// `Fn(&[u8]) -> Result<T, E>` with `T: AsRef<[u8]>` (e.g. `Vec<u8>`,
/// `String`) and `E: Into<Error>`; it must not itself be named like the
/// export.
#[macro_export]
macro_rules! entry {
    ($name:ident, $handler:expr) => {
        #[no_mangle]
        pub extern "C" fn $name() {
            $crate::run($handler)
        }
    };
    ($handler:expr) => {
        $crate::entry!(run, $handler);
    };
}
