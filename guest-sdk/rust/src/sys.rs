//! The raw host imports of ABI v1 (module `reprise_v1`), exactly as in
//! abi/ABI.md. Outside WebAssembly they are stubs that panic, so the crate's
//! pure parts (JSON, base64, request encoding) can be unit-tested on the host.

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "reprise_v1")]
extern "C" {
    #[link_name = "input"]
    pub fn input(buf: *mut u8, cap: i32) -> i32;
    #[link_name = "resolve"]
    pub fn resolve(ptr: *const u8, len: i32) -> i32;
    #[link_name = "reject"]
    pub fn reject(ptr: *const u8, len: i32) -> i32;
    #[link_name = "invoke"]
    pub fn invoke(name_ptr: *const u8, name_len: i32, args_ptr: *const u8, args_len: i32) -> i32;
    #[link_name = "sleep"]
    pub fn sleep(duration_ns: i64) -> i32;
    #[link_name = "promise"]
    pub fn promise(timeout_ns: i64) -> i32;
    #[link_name = "http"]
    pub fn http(req_ptr: *const u8, req_len: i32) -> i32;
    #[link_name = "await"]
    pub fn await_(handle: i32) -> i32;
    #[link_name = "await_any"]
    pub fn await_any(handles_ptr: *const i32, count: i32) -> i32;
    #[link_name = "value"]
    pub fn value(handle: i32, buf: *mut u8, cap: i32) -> i32;
    #[link_name = "promise_id"]
    pub fn promise_id(handle: i32, buf: *mut u8, cap: i32) -> i32;
    #[link_name = "now"]
    pub fn now() -> i64;
    #[link_name = "random"]
    pub fn random(buf: *mut u8, len: i32) -> i32;
    #[link_name = "log"]
    pub fn log(level: i32, ptr: *const u8, len: i32);
}

#[cfg(not(target_arch = "wasm32"))]
mod stubs {
    #![allow(clippy::missing_safety_doc, unused_variables)]
    fn no_host() -> ! {
        panic!("reprise: host calls are only available inside a Reprise WebAssembly guest")
    }
    pub unsafe fn input(buf: *mut u8, cap: i32) -> i32 { no_host() }
    pub unsafe fn resolve(ptr: *const u8, len: i32) -> i32 { no_host() }
    pub unsafe fn reject(ptr: *const u8, len: i32) -> i32 { no_host() }
    pub unsafe fn invoke(name_ptr: *const u8, name_len: i32, args_ptr: *const u8, args_len: i32) -> i32 { no_host() }
    pub unsafe fn sleep(duration_ns: i64) -> i32 { no_host() }
    pub unsafe fn promise(timeout_ns: i64) -> i32 { no_host() }
    pub unsafe fn http(req_ptr: *const u8, req_len: i32) -> i32 { no_host() }
    pub unsafe fn await_(handle: i32) -> i32 { no_host() }
    pub unsafe fn await_any(handles_ptr: *const i32, count: i32) -> i32 { no_host() }
    pub unsafe fn value(handle: i32, buf: *mut u8, cap: i32) -> i32 { no_host() }
    pub unsafe fn promise_id(handle: i32, buf: *mut u8, cap: i32) -> i32 { no_host() }
    pub unsafe fn now() -> i64 { no_host() }
    pub unsafe fn random(buf: *mut u8, len: i32) -> i32 { no_host() }
    pub unsafe fn log(level: i32, ptr: *const u8, len: i32) { no_host() }
}
#[cfg(not(target_arch = "wasm32"))]
pub use stubs::*;
