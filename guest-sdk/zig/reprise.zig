//! Reprise guest SDK for Zig: durable functions over ABI v1 (abi/ABI.md).
//!
//! A function is a wasm32 module exporting an entry (`run` by default) that reads
//! its input, makes host calls and sets its outcome:
//!
//!     const reprise = @import("reprise");
//!     pub const panic = reprise.panic;
//!     export fn run() void {
//!         reprise.handle(square);
//!     }
//!
//! Every promise call (`invoke`, `after`, `promise`, `http`), `awaitAny`, `now` and
//! `random` is journaled by the host: after a crash the function runs again from
//! the start and those calls are answered from the journal. Make the same calls in
//! the same order with the same arguments.
//!
//! Functions that return bytes take an allocator; the bytes belong to the caller.
//! An execution attempt runs on a fresh instance, so an arena that is never freed
//! (as `handle` gives) is the simplest choice.

const std = @import("std");
const Allocator = std.mem.Allocator;

/// A small JSON reader and writer (see json.zig); std.json works too.
pub const json = @import("json.zig");

/// The raw host imports of ABI v1 (module "reprise_v1"). A negative result is an
/// error code (see `Error`). Most programs use the wrappers below instead.
pub const raw = struct {
    pub extern "reprise_v1" fn input(buf: [*]u8, cap: i32) i32;
    pub extern "reprise_v1" fn resolve(ptr: [*]const u8, len: i32) i32;
    pub extern "reprise_v1" fn reject(ptr: [*]const u8, len: i32) i32;
    pub extern "reprise_v1" fn invoke(name_ptr: [*]const u8, name_len: i32, args_ptr: [*]const u8, args_len: i32) i32;
    pub extern "reprise_v1" fn sleep(duration_ns: i64) i32;
    pub extern "reprise_v1" fn promise(timeout_ns: i64) i32;
    pub extern "reprise_v1" fn http(req_ptr: [*]const u8, req_len: i32) i32;
    pub extern "reprise_v1" fn @"await"(handle: i32) i32;
    pub extern "reprise_v1" fn await_any(handles_ptr: [*]const i32, count: i32) i32;
    pub extern "reprise_v1" fn value(handle: i32, buf: [*]u8, cap: i32) i32;
    pub extern "reprise_v1" fn promise_id(handle: i32, buf: [*]u8, cap: i32) i32;
    pub extern "reprise_v1" fn now() i64;
    pub extern "reprise_v1" fn random(buf: [*]u8, len: i32) i32;
    pub extern "reprise_v1" fn log(level: i32, ptr: [*]const u8, len: i32) void;
};

/// The error codes of ABI v1.
pub const Error = error{
    /// -1: the handle was not returned by this attempt.
    BadHandle,
    /// -2: a (ptr, len) lies outside memory.
    BadMemory,
    /// -3: a payload is over the host's limit (1 MiB by default).
    TooLarge,
    /// -4: empty or over-long function name, bad http JSON, count <= 0, negative sleep.
    BadArgument,
    /// -5: `value` before the promise settled.
    NotSettled,
    /// -6: a per-execution limit (reserved).
    Limit,
    /// -7: `resolve` or `reject` was called before.
    AlreadySet,
    /// -8: a capability not granted (reserved).
    Disabled,
    /// Any other negative result.
    Unexpected,
};

/// Maps a host call's result to a count/handle or an `Error`.
pub fn check(r: i32) Error!u31 {
    if (r >= 0) return @intCast(r);
    return switch (r) {
        -1 => error.BadHandle,
        -2 => error.BadMemory,
        -3 => error.TooLarge,
        -4 => error.BadArgument,
        -5 => error.NotSettled,
        -6 => error.Limit,
        -7 => error.AlreadySet,
        -8 => error.Disabled,
        else => error.Unexpected,
    };
}

/// The settled state of a promise, as `await` returns it.
pub const State = enum(i32) {
    /// Not waited for yet.
    pending = 0,
    resolved = 1,
    rejected = 2,
    /// Rejected because it was canceled.
    canceled = 3,
    /// Rejected because its timeout passed.
    timed_out = 4,
    _,

    pub fn ok(s: State) bool {
        return s == .resolved;
    }

    /// The name used in JSON documents: "resolved", "rejected", "canceled", "timedout".
    pub fn name(s: State) []const u8 {
        return switch (s) {
            .pending => "pending",
            .resolved => "resolved",
            .rejected => "rejected",
            .canceled => "canceled",
            .timed_out => "timedout",
            _ => "unknown",
        };
    }
};

/// Log levels.
pub const Level = enum(i32) { debug = 0, info = 1, warn = 2, err = 3 };

// ---------------------------------------------------------------------------
// Bytes out of the host: length, then copy.

const Source = enum { input, value, promise_id };

fn readBytes(alloc: Allocator, comptime src: Source, h: i32) (Error || Allocator.Error)![]u8 {
    const n = try check(callRead(src, h, &scratch, 0));
    if (n == 0) return alloc.alloc(u8, 0);
    const buf = try alloc.alloc(u8, n);
    errdefer alloc.free(buf);
    const m = try check(callRead(src, h, buf.ptr, @intCast(n)));
    if (m != n) return error.Unexpected;
    return buf;
}

/// A real address for empty buffers: the pointer of a zero-length Zig slice
/// need not point into memory, and the host checks (ptr, len) against it.
var scratch: [1]u8 = undefined;

fn addr(b: []const u8) [*]const u8 {
    return if (b.len == 0) &scratch else b.ptr;
}

inline fn callRead(comptime src: Source, h: i32, buf: [*]u8, cap: i32) i32 {
    return switch (src) {
        .input => raw.input(buf, cap),
        .value => raw.value(h, buf, cap),
        .promise_id => raw.promise_id(h, buf, cap),
    };
}

fn len32(b: []const u8) Error!i32 {
    return std.math.cast(i32, b.len) orelse error.TooLarge;
}

// ---------------------------------------------------------------------------
// Input and outcome

/// The execution's input bytes (by convention JSON).
pub fn input(alloc: Allocator) (Error || Allocator.Error)![]u8 {
    return readBytes(alloc, .input, 0);
}

/// The execution's input parsed as JSON (allocated in `alloc`: use an arena).
pub fn inputJson(alloc: Allocator) !json.Value {
    return json.parse(alloc, try input(alloc));
}

/// The options `inputAs` and `Promise.valueAs` parse with: unknown fields are ignored.
pub const parse_options = std.json.ParseOptions{ .ignore_unknown_fields = true, .allocate = .alloc_always };

/// The execution's input parsed with std.json into a `T`; `deinit` the result.
pub fn inputAs(comptime T: type, alloc: Allocator) !std.json.Parsed(T) {
    const b = try input(alloc);
    defer alloc.free(b);
    return std.json.parseFromSlice(T, alloc, b, parse_options);
}

/// This execution's id.
pub fn id(alloc: Allocator) (Error || Allocator.Error)![]u8 {
    return readBytes(alloc, .promise_id, 0);
}

/// Resolves the execution with `value` (by convention JSON). Fails with
/// `error.TooLarge` over the host's limit, `error.AlreadySet` when set before.
pub fn resolve(value: []const u8) Error!void {
    _ = try check(raw.resolve(addr(value), try len32(value)));
}

/// Resolves the execution with `value` encoded as compact JSON.
pub fn resolveJson(alloc: Allocator, value: anytype) !void {
    const b = try std.json.stringifyAlloc(alloc, value, .{});
    defer alloc.free(b);
    try resolve(b);
}

/// Rejects the execution with `value` as its rejection value (by convention
/// `{"error": "..."}`).
pub fn reject(value: []const u8) Error!void {
    _ = try check(raw.reject(addr(value), try len32(value)));
}

/// Rejects the execution with `{"error": message}`.
pub fn rejectMessage(alloc: Allocator, message: []const u8) !void {
    const b = try errorJson(alloc, message);
    defer alloc.free(b);
    try reject(b);
}

/// `{"error": message}` as JSON.
pub fn errorJson(alloc: Allocator, message: []const u8) Allocator.Error![]u8 {
    var out = std.ArrayList(u8).init(alloc);
    errdefer out.deinit();
    try out.appendSlice("{\"error\":");
    try json.writeString(&out, message);
    try out.append('}');
    return out.toOwnedSlice();
}

/// Runs `handler`, a `fn (Allocator, []const u8) !?[]const u8`, as the
/// execution. It gets an arena allocator and the input; the
/// bytes it returns resolve the execution (null: it set the outcome itself); an
/// error rejects it with `{"error": "<error name>"}`, except the ABI errors that
/// mean a bug (BadHandle, BadMemory, BadArgument, AlreadySet) and OutOfMemory,
/// which trap.
///
///     export fn run() void { reprise.handle(myHandler); }
pub fn handle(comptime handler: anytype) void {
    var arena = std.heap.ArenaAllocator.init(std.heap.wasm_allocator);
    const alloc = arena.allocator();
    const in = input(alloc) catch |e| fail("reprise: input", e);
    if (handler(alloc, in)) |result| {
        if (result) |b| resolve(b) catch |e| switch (e) {
            error.TooLarge => rejectMessage(alloc, "result too large") catch |e2| fail("reprise: reject", e2),
            else => fail("reprise: resolve", e),
        };
    } else |e| switch (@as(anyerror, e)) {
        // ABI errors that mean a bug in the guest trap, as the ABI suggests, and
        // so does running out of memory, as it would in other languages.
        error.BadHandle, error.BadMemory, error.BadArgument, error.AlreadySet, error.OutOfMemory => fail("reprise", e),
        else => rejectMessage(alloc, @errorName(e)) catch |e2| fail("reprise: reject", e2),
    }
}

/// Traps with a message naming `err`: the attempt fails and the host retries it.
pub fn fail(what: []const u8, err: anyerror) noreturn {
    var buf: [256]u8 = undefined;
    const msg = std.fmt.bufPrint(&buf, "{s}: {s}", .{ what, @errorName(err) }) catch what;
    @panic(msg);
}

// ---------------------------------------------------------------------------
// Promises

/// A durable promise: a child execution, a timer, an outbound request or a
/// promise someone outside settles.
pub const Promise = struct {
    handle: i32,
    /// `.pending` until `wait` returned for it.
    state: State = .pending,

    /// Blocks until the promise settles and returns its state. Waiting again
    /// returns at once.
    pub fn wait(p: *Promise) Error!State {
        if (p.state == .pending) {
            const s = try check(raw.@"await"(p.handle));
            p.state = @enumFromInt(s);
        }
        return p.state;
    }

    /// The settled value: the resolved value, or the rejection value
    /// (`{"error": ...}` by convention). Only after `wait` (else `error.NotSettled`).
    pub fn value(p: *const Promise, alloc: Allocator) (Error || Allocator.Error)![]u8 {
        if (p.state == .pending) return error.NotSettled;
        return readBytes(alloc, .value, p.handle);
    }

    /// The value parsed as JSON (after `wait`; allocated in `alloc`: use an arena).
    pub fn valueJson(p: *const Promise, alloc: Allocator) !json.Value {
        return json.parse(alloc, try p.value(alloc));
    }

    /// The value parsed with std.json into a `T` (after `wait`); `deinit` the result.
    pub fn valueAs(p: *const Promise, comptime T: type, alloc: Allocator) !std.json.Parsed(T) {
        const b = try p.value(alloc);
        defer alloc.free(b);
        return std.json.parseFromSlice(T, alloc, b, parse_options);
    }

    /// The promise's id (e.g. to hand to whoever must settle it).
    pub fn id(p: *const Promise, alloc: Allocator) (Error || Allocator.Error)![]u8 {
        return readBytes(alloc, .promise_id, p.handle);
    }

    /// For a resolved http promise: the response (after `wait`). `deinit` it.
    pub fn response(p: *const Promise, alloc: Allocator) !Response {
        if (p.state != .resolved) return error.NotResolved;
        const b = try p.value(alloc);
        defer alloc.free(b);
        return Response.parse(alloc, b);
    }
};

/// Runs the deployed function `name` as a child execution with `args` as its
/// input (by convention JSON).
pub fn invoke(name: []const u8, args: []const u8) Error!Promise {
    return .{ .handle = try check(raw.invoke(addr(name), try len32(name), addr(args), try len32(args))) };
}

/// Like `invoke`, with `args` encoded as compact JSON.
pub fn invokeJson(alloc: Allocator, name: []const u8, args: anytype) !Promise {
    const b = try std.json.stringifyAlloc(alloc, args, .{});
    defer alloc.free(b);
    return invoke(name, b);
}

fn clampNs(ns: u64) i64 {
    return std.math.cast(i64, ns) orelse std.math.maxInt(i64);
}

/// A durable timer that resolves (with an empty value) after `ns` nanoseconds,
/// rounded up to whole milliseconds: `after(5 * std.time.ns_per_s)`.
pub fn after(ns: u64) Error!Promise {
    return .{ .handle = try check(raw.sleep(clampNs(ns))) };
}

/// Sleeps durably for `ns` nanoseconds.
pub fn sleep(ns: u64) Error!void {
    var p = try after(ns);
    _ = try p.wait();
}

/// A new promise that someone outside settles by its id; it rejects as timed
/// out after `timeout_ns` nanoseconds (0: never).
pub fn promise(timeout_ns: u64) Error!Promise {
    return .{ .handle = try check(raw.promise(clampNs(timeout_ns))) };
}

/// Waits for the first of `promises` to settle and returns its index
/// (journaled). `wait` on the winner returns its state at once. At most 256.
pub fn awaitAny(promises: []const Promise) Error!usize {
    var handles: [256]i32 = undefined;
    if (promises.len > handles.len) return error.TooLarge;
    for (promises, 0..) |p, i| handles[i] = p.handle;
    return awaitAnyHandles(handles[0..promises.len]);
}

/// `awaitAny` over raw handles.
pub fn awaitAnyHandles(handles: []const i32) Error!usize {
    if (handles.len == 0) return error.BadArgument;
    const n = std.math.cast(i32, handles.len) orelse return error.TooLarge;
    const i = try check(raw.await_any(handles.ptr, n));
    if (i >= handles.len) return error.Unexpected;
    return i;
}

/// Waits for every promise, in order; returns the index of the first that did
/// not resolve, or null when all resolved.
pub fn all(promises: []Promise) Error!?usize {
    var failed: ?usize = null;
    for (promises, 0..) |*p, i| {
        const s = try p.wait();
        if (!s.ok() and failed == null) failed = i;
    }
    return failed;
}

// ---------------------------------------------------------------------------
// HTTP

pub const Header = struct { name: []const u8, value: []const u8 };

/// An outbound request. Fields left at their defaults are left out of the JSON.
pub const Request = struct {
    method: []const u8 = "GET",
    url: []const u8,
    headers: []const Header = &.{},
    body: ?[]const u8 = null,
    /// Whether the host may resend it when recovering from a crash mid-request.
    idempotent: bool = false,
    /// 0: the host's default.
    timeout_ms: u32 = 0,

    /// The request JSON of ABI v1, compact, fields in the order
    /// method, url, headers, body (standard base64), idempotent, timeout_ms.
    pub fn toJson(r: Request, alloc: Allocator) Allocator.Error![]u8 {
        var w = json.Writer.init(alloc);
        errdefer w.deinit();
        try w.beginObject();
        try w.field("method", r.method);
        try w.field("url", r.url);
        if (r.headers.len > 0) {
            try w.key("headers");
            try w.beginObject();
            for (r.headers) |h| try w.field(h.name, h.value);
            try w.endObject();
        }
        if (r.body) |body| {
            const enc = std.base64.standard.Encoder;
            const b64 = try alloc.alloc(u8, enc.calcSize(body.len));
            defer alloc.free(b64);
            try w.field("body", enc.encode(b64, body));
        }
        if (r.idempotent) {
            try w.key("idempotent");
            try w.boolean(true);
        }
        if (r.timeout_ms > 0) try w.intField("timeout_ms", r.timeout_ms);
        try w.endObject();
        return w.toOwnedSlice();
    }
};

/// An HTTP response: any status resolves the promise.
pub const Response = struct {
    status: u16,
    headers: []Header,
    body: []u8,

    /// Parses the host's `{"status", "headers", "body": base64}` document.
    pub fn parse(alloc: Allocator, doc: []const u8) !Response {
        var arena = std.heap.ArenaAllocator.init(alloc);
        defer arena.deinit();
        const v = try json.parse(arena.allocator(), doc);
        const status = std.math.cast(u16, v.getInt("status") orelse return error.BadResponse) orelse return error.BadResponse;
        const b64 = v.getString("body") orelse "";
        const dec = std.base64.standard.Decoder;
        const body = try alloc.alloc(u8, try dec.calcSizeForSlice(b64));
        errdefer alloc.free(body);
        try dec.decode(body, b64);
        var headers = std.ArrayList(Header).init(alloc);
        errdefer {
            for (headers.items) |h| freeHeader(alloc, h);
            headers.deinit();
        }
        if (v.get("headers")) |hs| if (hs == .object) for (hs.object) |m| {
            if (m.value != .string) continue;
            const n = try alloc.dupe(u8, m.key);
            errdefer alloc.free(n);
            const val = try alloc.dupe(u8, m.value.string);
            errdefer alloc.free(val);
            try headers.append(.{ .name = n, .value = val });
        };
        return .{ .status = status, .headers = try headers.toOwnedSlice(), .body = body };
    }

    /// The first header named `name` (case-insensitive), or null.
    pub fn header(r: Response, name: []const u8) ?[]const u8 {
        for (r.headers) |h| if (std.ascii.eqlIgnoreCase(h.name, name)) return h.value;
        return null;
    }

    pub fn deinit(r: Response, alloc: Allocator) void {
        for (r.headers) |h| freeHeader(alloc, h);
        alloc.free(r.headers);
        alloc.free(r.body);
    }

    fn freeHeader(alloc: Allocator, h: Header) void {
        alloc.free(h.name);
        alloc.free(h.value);
    }
};

/// Sends `req`; the promise resolves with the response (`Promise.response`)
/// for any status and rejects when no response came.
pub fn http(alloc: Allocator, req: Request) !Promise {
    const b = try req.toJson(alloc);
    defer alloc.free(b);
    return httpJson(b);
}

/// Sends a request given as its ABI JSON document.
pub fn httpJson(request_json: []const u8) Error!Promise {
    return .{ .handle = try check(raw.http(addr(request_json), try len32(request_json))) };
}

// ---------------------------------------------------------------------------
// Time, randomness, log, panic

/// Real wall-clock time in Unix nanoseconds (journaled).
pub fn now() i64 {
    return raw.now();
}

/// Fills `buf` with cryptographically random bytes (journaled; one host call per
/// 4096 bytes).
pub fn random(buf: []u8) Error!void {
    var off: usize = 0;
    while (off < buf.len) {
        const n = @min(buf.len - off, 4096);
        _ = try check(raw.random(buf[off..].ptr, @intCast(n)));
        off += n;
    }
}

/// A random u64 (journaled).
pub fn randomInt() Error!u64 {
    var b: [8]u8 = undefined;
    try random(&b);
    return std.mem.readIntLittle(u64, &b);
}

/// Writes a line to the host log (not repeated when the host replays).
pub fn log(level: Level, message: []const u8) void {
    raw.log(@intFromEnum(level), addr(message), std.math.cast(i32, message.len) orelse std.math.maxInt(i32));
}

/// `log` with formatting; lines over 4 KiB are cut.
pub fn logf(level: Level, comptime fmt: []const u8, args: anytype) void {
    var buf: [4096]u8 = undefined;
    var s = std.io.fixedBufferStream(&buf);
    std.fmt.format(s.writer(), fmt, args) catch {};
    log(level, s.getWritten());
}

/// A `std.log` backend writing to the host log:
///     pub const std_options = struct { pub const logFn = reprise.logFn; };
pub fn logFn(
    comptime level: std.log.Level,
    comptime scope: @TypeOf(.EnumLiteral),
    comptime format: []const u8,
    args: anytype,
) void {
    const l: Level = switch (level) {
        .debug => .debug,
        .info => .info,
        .warn => .warn,
        .err => .err,
    };
    const prefix = if (scope == .default) "" else "(" ++ @tagName(scope) ++ ") ";
    logf(l, prefix ++ format, args);
}

/// A panic handler that logs the message and traps (the host retries the
/// attempt, then rejects with the trap). Use it in the root file:
///     pub const panic = reprise.panic;
pub fn panic(msg: []const u8, trace: ?*std.builtin.StackTrace, ret_addr: ?usize) noreturn {
    _ = trace;
    _ = ret_addr;
    logf(.err, "panic: {s}", .{msg});
    @trap();
}
