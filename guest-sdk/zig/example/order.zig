//! The example of README.md: charge and ship an order concurrently, wait up to
//! two days for a person to confirm delivery, then notify a web hook.
const std = @import("std");
const reprise = @import("reprise");

pub const panic = reprise.panic; // a panic logs, then traps: the host retries the attempt

export fn run() void {
    reprise.handle(order);
}

fn order(arena: std.mem.Allocator, input: []const u8) !?[]const u8 {
    const in = try reprise.json.parse(arena, input);
    const id = in.getString("id") orelse return error.MissingOrderId;

    var calls = [_]reprise.Promise{
        try reprise.invoke("charge", input), // a child execution, running now
        try reprise.invoke("ship", try reprise.json.quote(arena, id)), // and another, concurrently
    };
    if (try reprise.all(&calls)) |i| {
        try reprise.reject(try calls[i].value(arena)); // the child's {"error": ...}
        return null;
    }

    // Wait up to two days for a person, durably.
    var review = try reprise.promise(48 * std.time.ns_per_hour);
    reprise.logf(.info, "to confirm delivery, resolve {s}", .{try review.id(arena)});
    if (!(try review.wait()).ok()) return error.NotConfirmed; // rejects with {"error":"NotConfirmed"}

    var sent = try reprise.http(arena, .{
        .method = "POST",
        .url = "https://example.com/done",
        .headers = &.{.{ .name = "content-type", .value = "text/plain" }},
        .body = id,
    });
    if (!(try sent.wait()).ok()) return error.NotNotified;
    const resp = try sent.response(arena);

    var out = reprise.json.Writer.init(arena);
    try out.beginObject();
    try out.field("order", id);
    try out.intField("notified", resp.status);
    try out.intField("at", reprise.now());
    try out.endObject();
    return out.bytes();
}
