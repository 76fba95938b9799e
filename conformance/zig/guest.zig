//! The Zig conformance guest: every scenario of conformance/CONTRACT.md, making
//! exactly the host calls listed there, in that order.

const std = @import("std");
const reprise = @import("reprise");
const json = reprise.json;
const Allocator = std.mem.Allocator;
const ns_per_ms = std.time.ns_per_ms;

pub const panic = reprise.panic;

/// Resolves with the input bytes unchanged. Calls: input, resolve.
export fn echo() void {
    reprise.handle(echoHandler);
}

fn echoHandler(_: Allocator, in: []const u8) anyerror!?[]const u8 {
    return in;
}

export fn run() void {
    reprise.handle(dispatch);
}

const Scenario = enum { hello, square, fanout, race, sleep, external, http, steps, fail, trap, crash, record };

fn dispatch(alloc: Allocator, bytes: []const u8) anyerror!?[]const u8 {
    const in = try json.parse(alloc, bytes);
    const name = in.getString("scenario") orelse "";
    const scenario = std.meta.stringToEnum(Scenario, name) orelse
        return rejectWith(alloc, try std.fmt.allocPrint(alloc, "unknown scenario: {s}", .{name}));
    return switch (scenario) {
        .hello => hello(alloc, in),
        .square => try std.fmt.allocPrint(alloc, "{d}", .{try square(int(in, "n"))}),
        .fanout => fanout(alloc, in),
        .race => race(alloc, in),
        .sleep => sleepScenario(alloc, in),
        .external => external(alloc, in),
        .http => httpScenario(alloc, in),
        .steps => steps(alloc, in),
        .fail => rejectWith(alloc, in.getString("message") orelse ""),
        .trap => @panic("trap scenario"),
        .crash => crash(alloc, in),
        .record => record(alloc, in),
    };
}

fn int(in: json.Value, name: []const u8) i64 {
    return in.getInt(name) orelse 0;
}

fn str(in: json.Value, name: []const u8) []const u8 {
    return in.getString(name) orelse "";
}

fn square(n: i64) !i64 {
    return std.math.mul(i64, n, n);
}

/// Rejects with {"error": message}; the execution's outcome is then set.
fn rejectWith(alloc: Allocator, message: []const u8) !?[]const u8 {
    try reprise.rejectMessage(alloc, message);
    return null;
}

fn ms(v: i64) !u64 {
    const m = std.math.cast(u64, v) orelse return error.NegativeDuration;
    return std.math.mul(u64, m, ns_per_ms) catch std.math.maxInt(u64);
}

fn hello(alloc: Allocator, in: json.Value) !?[]const u8 {
    var name = str(in, "name");
    if (name.len == 0) name = "world";
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.field("greeting", try std.fmt.allocPrint(alloc, "Hello, {s}!", .{name}));
    try w.endObject();
    return w.bytes();
}

/// The sum of the children's results (JSON integers), or null after rejecting
/// the execution with the first child's rejection.
fn sumOf(alloc: Allocator, ps: []reprise.Promise) !?i64 {
    var sum: i64 = 0;
    for (ps) |*p| {
        const v = try p.value(alloc);
        if (!p.state.ok()) {
            try reprise.reject(v);
            return null;
        }
        const parsed = json.parse(alloc, v) catch @as(json.Value, .null);
        sum += parsed.int() orelse {
            _ = try rejectWith(alloc, try std.fmt.allocPrint(alloc, "child returned {s}", .{v}));
            return null;
        };
    }
    return sum;
}

fn steps(alloc: Allocator, in: json.Value) !?[]const u8 {
    const n = int(in, "n");
    var i: i64 = 0;
    while (i < n) : (i += 1) _ = reprise.now();
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.intField("steps", n);
    try w.endObject();
    return w.bytes();
}

fn fanout(alloc: Allocator, in: json.Value) !?[]const u8 {
    const self = str(in, "self");
    var ps = std.ArrayList(reprise.Promise).init(alloc);
    var i: i64 = 1;
    while (i <= int(in, "n")) : (i += 1) {
        const args = try std.fmt.allocPrint(alloc, "{{\"scenario\":\"square\",\"n\":{d}}}", .{i});
        try ps.append(try reprise.invoke(self, args));
    }
    for (ps.items) |*p| _ = try p.wait();
    const sum = try sumOf(alloc, ps.items) orelse return null;
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.intField("sum", sum);
    try w.endObject();
    return w.bytes();
}

fn race(alloc: Allocator, in: json.Value) !?[]const u8 {
    const a = try reprise.after(try ms(int(in, "a_ms")));
    const b = try reprise.after(try ms(int(in, "b_ms")));
    const winner = try reprise.awaitAny(&.{ a, b });
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.intField("winner", winner);
    try w.endObject();
    return w.bytes();
}

fn sleepScenario(alloc: Allocator, in: json.Value) !?[]const u8 {
    const t0 = reprise.now();
    try reprise.sleep(try ms(int(in, "ms")));
    const t1 = reprise.now();
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.intField("slept_ms", @divTrunc(t1 - t0, ns_per_ms));
    try w.endObject();
    return w.bytes();
}

fn external(alloc: Allocator, in: json.Value) !?[]const u8 {
    var p = try reprise.promise(try ms(int(in, "timeout_ms")));
    reprise.logf(.info, "waiting for {s}", .{try p.id(alloc)});
    const state = try p.wait();
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.field("state", state.name());
    try w.field("value", try p.value(alloc));
    try w.endObject();
    return w.bytes();
}

fn httpScenario(alloc: Allocator, in: json.Value) !?[]const u8 {
    var p = try reprise.http(alloc, .{ .method = "GET", .url = str(in, "url") });
    if (!(try p.wait()).ok()) {
        try reprise.reject(try p.value(alloc));
        return null;
    }
    const resp = try p.response(alloc);
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.intField("status", resp.status);
    try w.field("body", resp.body);
    try w.endObject();
    return w.bytes();
}

fn crash(alloc: Allocator, in: json.Value) !?[]const u8 {
    const children = int(in, "children");
    const half = @divTrunc(int(in, "steps"), 2);
    const self = str(in, "self");
    var s: i64 = 0;
    while (s < half) : (s += 1) _ = reprise.now();
    const waves = @divTrunc(children + 9, 10);
    var sum: i64 = 0;
    var k: i64 = 0;
    while (k < waves) : (k += 1) {
        if (k == @divTrunc(waves, 2)) try reprise.sleep(try ms(int(in, "sleep_ms")));
        var ps = std.ArrayList(reprise.Promise).init(alloc);
        var i = 10 * k + 1;
        while (i <= @min(10 * k + 10, children)) : (i += 1) {
            var w = json.Writer.init(alloc);
            try w.beginObject();
            try w.field("scenario", "record");
            try w.intField("i", i);
            try w.field("record_url", str(in, "record_url"));
            try w.endObject();
            try ps.append(try reprise.invoke(self, w.bytes()));
        }
        for (ps.items) |*p| _ = try p.wait();
        sum += try sumOf(alloc, ps.items) orelse return null;
        reprise.logf(.info, "wave {d} done", .{k + 1});
    }
    s = 0;
    while (s < half) : (s += 1) _ = reprise.now();
    var w = json.Writer.init(alloc);
    try w.beginObject();
    try w.intField("sum", sum);
    try w.intField("children", children);
    try w.endObject();
    return w.bytes();
}

fn record(alloc: Allocator, in: json.Value) !?[]const u8 {
    var rnd: [8]u8 = undefined;
    try reprise.random(&rnd);
    var body = json.Writer.init(alloc);
    try body.beginObject();
    try body.field("id", try reprise.id(alloc));
    try body.field("token", &std.fmt.bytesToHex(rnd, .lower));
    try body.endObject();
    var p = try reprise.http(alloc, .{
        .method = "POST",
        .url = str(in, "record_url"),
        .headers = &.{.{ .name = "content-type", .value = "application/json" }},
        .body = body.bytes(),
        .idempotent = true,
    });
    if (!(try p.wait()).ok()) {
        try reprise.reject(try p.value(alloc));
        return null;
    }
    const resp = try p.response(alloc);
    if (resp.status < 200 or resp.status > 299) {
        return rejectWith(alloc, try std.fmt.allocPrint(alloc, "record: http status {d}", .{resp.status}));
    }
    return try std.fmt.allocPrint(alloc, "{d}", .{try square(int(in, "i"))});
}
