//! A small JSON reader and writer for guests: much smaller code than std.json
//! (no float parsing, no hash maps), enough for inputs, results and the http
//! documents of the ABI. std.json works too, at a few tens of KB more code.
//!
//! Both follow Go's encoding/json on odd input (bad UTF-8 and unpaired
//! surrogates become U+FFFD; strings are written with the same escapes), so
//! documents built from the same data are the same bytes in every guest language.
//!
//!     const v = try json.parse(arena, input_bytes);
//!     const n = v.getInt("n") orelse 0;
//!     var w = json.Writer.init(arena);
//!     try w.beginObject();
//!     try w.key("square");
//!     try w.int(n * n);
//!     try w.endObject();
//!     try reprise.resolve(w.bytes());

const std = @import("std");
const Allocator = std.mem.Allocator;

pub const ParseError = error{SyntaxError} || Allocator.Error;

/// A parsed JSON value. Strings and numbers may point into the parsed text.
pub const Value = union(enum) {
    null,
    bool: bool,
    /// The number literal as written.
    number: []const u8,
    /// The unescaped string (UTF-8).
    string: []const u8,
    array: []Value,
    /// Members in document order.
    object: []Member,

    /// The member `name` of an object (the first when repeated), or null.
    pub fn get(v: Value, name: []const u8) ?Value {
        if (v != .object) return null;
        for (v.object) |m| if (std.mem.eql(u8, m.key, name)) return m.value;
        return null;
    }

    /// A string member, or null when missing or not a string.
    pub fn getString(v: Value, name: []const u8) ?[]const u8 {
        const m = v.get(name) orelse return null;
        return if (m == .string) m.string else null;
    }

    /// An integer member, or null when missing, not a number or out of range.
    pub fn getInt(v: Value, name: []const u8) ?i64 {
        const m = v.get(name) orelse return null;
        return m.int();
    }

    /// A boolean member, or null.
    pub fn getBool(v: Value, name: []const u8) ?bool {
        const m = v.get(name) orelse return null;
        return if (m == .bool) m.bool else null;
    }

    /// The number as an i64: exact for integers (also written like 1e3 or 2.0),
    /// truncated toward zero otherwise; null when out of range or not a number.
    pub fn int(v: Value) ?i64 {
        if (v != .number) return null;
        return parseInt(v.number);
    }
};

pub const Member = struct { key: []const u8, value: Value };

/// Parses one JSON document. Allocates in `alloc` (an arena suits: free it all
/// at once); strings without escapes point into `text`.
pub fn parse(alloc: Allocator, text: []const u8) ParseError!Value {
    var p = Parser{ .s = text, .alloc = alloc };
    p.ws();
    const v = try p.value(0);
    p.ws();
    if (p.i != text.len) return error.SyntaxError;
    return v;
}

const max_depth = 256;

const Parser = struct {
    s: []const u8,
    i: usize = 0,
    alloc: Allocator,

    fn ws(p: *Parser) void {
        while (p.i < p.s.len) : (p.i += 1) switch (p.s[p.i]) {
            ' ', '\t', '\n', '\r' => {},
            else => return,
        };
    }

    fn peek(p: *Parser) ParseError!u8 {
        if (p.i >= p.s.len) return error.SyntaxError;
        return p.s[p.i];
    }

    fn expect(p: *Parser, c: u8) ParseError!void {
        p.ws();
        if (try p.peek() != c) return error.SyntaxError;
        p.i += 1;
    }

    fn lit(p: *Parser, word: []const u8) ParseError!void {
        if (!std.mem.startsWith(u8, p.s[p.i..], word)) return error.SyntaxError;
        p.i += word.len;
    }

    fn value(p: *Parser, depth: u32) ParseError!Value {
        if (depth > max_depth) return error.SyntaxError;
        switch (try p.peek()) {
            '{' => {
                p.i += 1;
                var members = std.ArrayList(Member).init(p.alloc);
                p.ws();
                if (try p.peek() == '}') {
                    p.i += 1;
                    return .{ .object = try members.toOwnedSlice() };
                }
                while (true) {
                    p.ws();
                    if (try p.peek() != '"') return error.SyntaxError;
                    const k = try p.string();
                    try p.expect(':');
                    p.ws();
                    try members.append(.{ .key = k, .value = try p.value(depth + 1) });
                    p.ws();
                    const c = try p.peek();
                    p.i += 1;
                    if (c == '}') return .{ .object = try members.toOwnedSlice() };
                    if (c != ',') return error.SyntaxError;
                }
            },
            '[' => {
                p.i += 1;
                var items = std.ArrayList(Value).init(p.alloc);
                p.ws();
                if (try p.peek() == ']') {
                    p.i += 1;
                    return .{ .array = try items.toOwnedSlice() };
                }
                while (true) {
                    p.ws();
                    try items.append(try p.value(depth + 1));
                    p.ws();
                    const c = try p.peek();
                    p.i += 1;
                    if (c == ']') return .{ .array = try items.toOwnedSlice() };
                    if (c != ',') return error.SyntaxError;
                }
            },
            '"' => return .{ .string = try p.string() },
            't' => {
                try p.lit("true");
                return .{ .bool = true };
            },
            'f' => {
                try p.lit("false");
                return .{ .bool = false };
            },
            'n' => {
                try p.lit("null");
                return .null;
            },
            else => return .{ .number = try p.number() },
        }
    }

    fn digits(p: *Parser) usize {
        const start = p.i;
        while (p.i < p.s.len and std.ascii.isDigit(p.s[p.i])) p.i += 1;
        return p.i - start;
    }

    fn number(p: *Parser) ParseError![]const u8 {
        const start = p.i;
        if (p.i < p.s.len and p.s[p.i] == '-') p.i += 1;
        const int_start = p.i;
        const n = p.digits();
        if (n == 0 or (n > 1 and p.s[int_start] == '0')) return error.SyntaxError;
        if (p.i < p.s.len and p.s[p.i] == '.') {
            p.i += 1;
            if (p.digits() == 0) return error.SyntaxError;
        }
        if (p.i < p.s.len and (p.s[p.i] == 'e' or p.s[p.i] == 'E')) {
            p.i += 1;
            if (p.i < p.s.len and (p.s[p.i] == '+' or p.s[p.i] == '-')) p.i += 1;
            if (p.digits() == 0) return error.SyntaxError;
        }
        return p.s[start..p.i];
    }

    fn hex4(p: *Parser) ParseError!u21 {
        if (p.i + 4 > p.s.len) return error.SyntaxError;
        const u = std.fmt.parseInt(u16, p.s[p.i .. p.i + 4], 16) catch return error.SyntaxError;
        p.i += 4;
        return u;
    }

    fn string(p: *Parser) ParseError![]const u8 {
        p.i += 1; // opening quote
        const start = p.i;
        // fast path: no escapes, valid UTF-8
        while (p.i < p.s.len) {
            const c = p.s[p.i];
            if (c == '"') {
                p.i += 1;
                return p.s[start .. p.i - 1];
            }
            if (c == '\\') break;
            if (c < 0x20) return error.SyntaxError;
            const n = seqLen(p.s[p.i..]);
            if (n == 0) break;
            p.i += n;
        }
        var out = std.ArrayList(u8).init(p.alloc);
        try out.appendSlice(p.s[start..p.i]);
        while (p.i < p.s.len) {
            const c = p.s[p.i];
            if (c == '"') {
                p.i += 1;
                return out.toOwnedSlice();
            }
            if (c < 0x20) return error.SyntaxError;
            if (c != '\\') {
                const n = seqLen(p.s[p.i..]);
                if (n == 0) {
                    try out.appendSlice(replacement); // as Go does, byte by byte
                    p.i += 1;
                } else {
                    try out.appendSlice(p.s[p.i .. p.i + n]);
                    p.i += n;
                }
                continue;
            }
            p.i += 1;
            const e = try p.peek();
            p.i += 1;
            switch (e) {
                '"', '\\', '/' => try out.append(e),
                'b' => try out.append(8),
                'f' => try out.append(12),
                'n' => try out.append('\n'),
                'r' => try out.append('\r'),
                't' => try out.append('\t'),
                'u' => {
                    var cp = try p.hex4();
                    if (cp >= 0xD800 and cp < 0xDC00 and std.mem.startsWith(u8, p.s[p.i..], "\\u")) {
                        const save = p.i;
                        p.i += 2;
                        const lo = try p.hex4();
                        if (lo >= 0xDC00 and lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else p.i = save;
                    }
                    if (cp >= 0xD800 and cp < 0xE000) cp = 0xFFFD; // lone surrogate
                    var buf: [4]u8 = undefined;
                    const n = std.unicode.utf8Encode(cp, &buf) catch unreachable;
                    try out.appendSlice(buf[0..n]);
                },
                else => return error.SyntaxError,
            }
        }
        return error.SyntaxError;
    }
};

const replacement = "\u{FFFD}";

/// The length of the valid UTF-8 sequence at the start of `s`, or 0 when its
/// first byte does not start one: exactly what Go's utf8.DecodeRune accepts (no
/// overlong forms, no surrogates, nothing above U+10FFFF).
pub fn seqLen(s: []const u8) usize {
    if (s.len == 0) return 0;
    const b0 = s[0];
    if (b0 < 0x80) return 1;
    var lo: u8 = 0x80;
    var hi: u8 = 0xBF;
    const n: usize = switch (b0) {
        0xC2...0xDF => 2,
        0xE0...0xEF => 3,
        0xF0...0xF4 => 4,
        else => return 0,
    };
    switch (b0) {
        0xE0 => lo = 0xA0,
        0xED => hi = 0x9F,
        0xF0 => lo = 0x90,
        0xF4 => hi = 0x8F,
        else => {},
    }
    if (s.len < n or s[1] < lo or s[1] > hi) return 0;
    for (s[2..n]) |b| if (b < 0x80 or b > 0xBF) return 0;
    return n;
}

/// An i64 from a JSON number literal: exact for integral values, truncated
/// toward zero otherwise; null when out of range.
pub fn parseInt(lit: []const u8) ?i64 {
    var i: usize = 0;
    const neg = lit.len > 0 and lit[0] == '-';
    if (neg) i = 1;
    // mantissa digits (without the point) and the power of ten to apply
    var mant: [32]u8 = undefined;
    var nm: usize = 0;
    var exp: i64 = 0;
    var seen_point = false;
    while (i < lit.len and lit[i] != 'e' and lit[i] != 'E') : (i += 1) {
        if (lit[i] == '.') {
            seen_point = true;
            continue;
        }
        if (nm == mant.len) {
            // more digits than an i64 holds: past the point they are truncated
            if (!seen_point) return null;
            continue;
        }
        if (seen_point) exp -= 1;
        mant[nm] = lit[i];
        nm += 1;
    }
    if (i < lit.len) {
        const e = std.fmt.parseInt(i32, lit[i + 1 ..], 10) catch return null;
        exp += e;
    }
    // shorter mantissa for a negative power (truncation), zeros for a positive one
    const len = @as(i64, @intCast(nm)) + exp;
    if (len <= 0) return 0;
    if (len > 19) return null;
    var n: u64 = 0;
    var k: usize = 0;
    while (k < len) : (k += 1) {
        const d: u64 = if (k < nm) mant[k] - '0' else 0;
        n = std.math.mul(u64, n, 10) catch return null;
        n = std.math.add(u64, n, d) catch return null;
    }
    if (neg) {
        if (n > @as(u64, std.math.maxInt(i64)) + 1) return null;
        return @intCast(-@as(i128, n));
    }
    return std.math.cast(i64, n);
}

/// Writes compact JSON (no spaces), members in the order written.
pub const Writer = struct {
    out: std.ArrayList(u8),
    comma: bool = false,

    pub fn init(alloc: Allocator) Writer {
        return .{ .out = std.ArrayList(u8).init(alloc) };
    }

    pub fn deinit(w: *Writer) void {
        w.out.deinit();
    }

    /// The JSON written so far (owned by the writer).
    pub fn bytes(w: *const Writer) []const u8 {
        return w.out.items;
    }

    /// The JSON written, owned by the caller.
    pub fn toOwnedSlice(w: *Writer) Allocator.Error![]u8 {
        return w.out.toOwnedSlice();
    }

    fn sep(w: *Writer) Allocator.Error!void {
        if (w.comma) try w.out.append(',');
        w.comma = true;
    }

    pub fn beginObject(w: *Writer) Allocator.Error!void {
        try w.sep();
        try w.out.append('{');
        w.comma = false;
    }

    pub fn endObject(w: *Writer) Allocator.Error!void {
        try w.out.append('}');
        w.comma = true;
    }

    pub fn beginArray(w: *Writer) Allocator.Error!void {
        try w.sep();
        try w.out.append('[');
        w.comma = false;
    }

    pub fn endArray(w: *Writer) Allocator.Error!void {
        try w.out.append(']');
        w.comma = true;
    }

    /// A member name; the next call writes its value.
    pub fn key(w: *Writer, name: []const u8) Allocator.Error!void {
        try w.sep();
        try writeString(&w.out, name);
        try w.out.append(':');
        w.comma = false;
    }

    pub fn string(w: *Writer, s: []const u8) Allocator.Error!void {
        try w.sep();
        try writeString(&w.out, s);
    }

    pub fn int(w: *Writer, n: anytype) Allocator.Error!void {
        try w.sep();
        try w.out.writer().print("{d}", .{n});
    }

    pub fn boolean(w: *Writer, b: bool) Allocator.Error!void {
        try w.sep();
        try w.out.appendSlice(if (b) "true" else "false");
    }

    pub fn @"null"(w: *Writer) Allocator.Error!void {
        try w.sep();
        try w.out.appendSlice("null");
    }

    /// Already-encoded JSON, written as is.
    pub fn raw(w: *Writer, json: []const u8) Allocator.Error!void {
        try w.sep();
        try w.out.appendSlice(json);
    }

    /// `key(name)` then `string(s)`.
    pub fn field(w: *Writer, name: []const u8, s: []const u8) Allocator.Error!void {
        try w.key(name);
        try w.string(s);
    }

    /// `key(name)` then `int(n)`.
    pub fn intField(w: *Writer, name: []const u8, n: anytype) Allocator.Error!void {
        try w.key(name);
        try w.int(n);
    }
};

const hex = "0123456789abcdef";

/// Appends `s` as a JSON string literal, escaped as Go's encoding/json does:
/// `"`, `\\` and control characters, `<`, `>`, `&`, U+2028 and U+2029, and each
/// byte that is not part of valid UTF-8 as `\ufffd`.
pub fn writeString(out: *std.ArrayList(u8), s: []const u8) Allocator.Error!void {
    try out.append('"');
    var run: usize = 0;
    var i: usize = 0;
    while (i < s.len) {
        const c = s[i];
        var n: usize = 1;
        const esc: []const u8 = switch (c) {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            8 => "\\b",
            12 => "\\f",
            0...7, 11, 14...0x1f, '<', '>', '&' => "",
            0x80...0xff => blk: {
                n = seqLen(s[i..]);
                if (n == 0) {
                    n = 1;
                    break :blk "\\ufffd";
                }
                if (n == 3 and c == 0xE2 and s[i + 1] == 0x80 and s[i + 2] == 0xA8) break :blk "\\u2028";
                if (n == 3 and c == 0xE2 and s[i + 1] == 0x80 and s[i + 2] == 0xA9) break :blk "\\u2029";
                i += n;
                continue;
            },
            else => {
                i += 1;
                continue;
            },
        };
        try out.appendSlice(s[run..i]);
        if (esc.len > 0) {
            try out.appendSlice(esc);
        } else {
            try out.appendSlice(&[_]u8{ '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] });
        }
        i += n;
        run = i;
    }
    try out.appendSlice(s[run..]);
    try out.append('"');
}

/// `s` as a JSON string literal, owned by the caller.
pub fn quote(alloc: Allocator, s: []const u8) Allocator.Error![]u8 {
    var out = std.ArrayList(u8).init(alloc);
    try writeString(&out, s);
    return out.toOwnedSlice();
}

test "parse and write" {
    const t = std.testing;
    var arena = std.heap.ArenaAllocator.init(t.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    const v = try parse(a, " {\"a\": [1, -2.5e1, true, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"n\": 12e2} ");
    try t.expectEqualStrings("x\u{e9}\u{1f600}\n", v.getString("s").?);
    try t.expectEqual(@as(?i64, 1200), v.getInt("n"));
    try t.expectEqual(@as(?i64, -25), v.get("a").?.array[1].int());
    try t.expectEqual(@as(?i64, 0), parseInt("0.5"));
    try t.expectEqual(@as(?i64, -9223372036854775808), parseInt("-9223372036854775808"));
    try t.expectEqual(@as(?i64, null), parseInt("9223372036854775808"));
    try t.expectError(error.SyntaxError, parse(a, "{\"a\":01}"));
    var w = Writer.init(a);
    try w.beginObject();
    try w.field("k", "q\"\x01");
    try w.key("arr");
    try w.beginArray();
    try w.int(@as(i64, 1));
    try w.boolean(false);
    try w.endArray();
    try w.endObject();
    try t.expectEqualStrings("{\"k\":\"q\\\"\\u0001\",\"arr\":[1,false]}", w.bytes());
}

test "Go's rules for odd strings" {
    const t = std.testing;
    var arena = std.heap.ArenaAllocator.init(t.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    // what Go's json.Unmarshal then json.Marshal give
    const v = try parse(a, "\"\xe2\x82x\\ud800\\udc00\\ud800y\xed\xa0\x80\\udc00\"");
    try t.expectEqualStrings("\"\u{FFFD}\u{FFFD}x\u{10000}\u{FFFD}y\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\"", try quote(a, v.string));
    try t.expectEqualStrings("\"a\\b\\f\\u0001\\u003c\\u003e\\u0026\\u2028\\u2029\x7f é😀\"", try quote(a, "a\x08\x0c\x01<>&\u{2028}\u{2029}\x7f é😀"));
    try t.expectEqualStrings("\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd😀\\ufffd\"", try quote(a, "\xff\xc0\xaf\xf4\x90\x80\x80\xf0\x9f\x98\x80\xe2"));
}
